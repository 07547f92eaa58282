#include "gateway/refused_reads.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

namespace fieldbridge::gateway {
namespace {

int read_function(config::register_kind kind) {
    switch (kind) {
        case config::register_kind::coil:
            return 1;
        case config::register_kind::discrete_input:
            return 2;
        case config::register_kind::holding_register:
            return 3;
        case config::register_kind::input_register:
            return 4;
    }
    return 3;
}

std::optional<config::register_kind> read_kind(int function) {
    switch (function) {
        case 1:
            return config::register_kind::coil;
        case 2:
            return config::register_kind::discrete_input;
        case 3:
            return config::register_kind::holding_register;
        case 4:
            return config::register_kind::input_register;
        default:
            return std::nullopt;
    }
}

}  // namespace

store::refused_read stored_refused_read(const std::string& device, const modbus::refused_read& r) {
    return {device, read_function(r.kind), r.start, r.count};
}

void remember_refused_reads(store::message_store& store, const std::string& device,
                            const std::vector<modbus::refused_read>& reads) {
    for (const auto& r : reads) {
        if (auto done = store.add_refused_read(stored_refused_read(device, r)); !done) {
            spdlog::warn("device {}: cannot remember in the store that it refused the read at {}: {}", device,
                         r.start, done.error().message());
        }
    }
}

std::vector<modbus::refused_read> refused_for(const std::vector<store::refused_read>& stored,
                                              const std::string& device) {
    std::vector<modbus::refused_read> out;
    for (const auto& r : stored) {
        if (r.device != device) continue;
        if (const auto kind = read_kind(r.function)) out.push_back({*kind, r.start, r.count});
    }
    return out;
}

std::vector<store::refused_read> load_refused_reads(store::message_store& store, const config::gateway& cfg) {
    std::vector<store::refused_read> refused;
    if (auto stored = store.refused_reads()) {
        refused = std::move(*stored);
    } else {
        spdlog::warn(
            "cannot read the refused reads remembered in the store ({}); devices will be asked again",
            stored.error().message());
    }
    std::set<std::string> gone;
    for (const auto& r : refused) {
        const bool configured = std::any_of(cfg.devices.begin(), cfg.devices.end(),
                                            [&](const config::device& d) { return d.name == r.device; });
        if (!configured) gone.insert(r.device);
    }
    for (const auto& device : gone) (void)store.forget_refused_reads(device);
    return refused;
}

}  // namespace fieldbridge::gateway
