#include "gateway/payload_examples.hpp"

#include <memory>
#include <sstream>

#include "config/names.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/simulated_value.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "gateway/availability.hpp"
#include "gateway/point_mapper.hpp"

namespace fieldbridge::gateway {
namespace {

// At most this many messages of a kind are printed; the rest are counted.
constexpr std::size_t shown = 3;

// What the simulator serves first for a simulated point; else 0 (within
// min/max), false or "text".
modbus::value stand_in(const config::point& p) {
    if (p.simulate) return modbus::simulated_value(p, 0.0);
    if (p.type == config::data_type::boolean) return false;
    if (p.type == config::data_type::string) return std::string("text");
    double v = 0.0;
    if (p.minimum && v < *p.minimum) v = *p.minimum;
    if (p.maximum && v > *p.maximum) v = *p.maximum;
    return v;
}

// Registers that decode to the stand-in, or zeros when it cannot be encoded
// (a value off the type's range after scale and offset).
std::vector<std::uint16_t> words_of(const config::point& p) {
    auto encoded = modbus::encode(p, stand_in(p));
    if (encoded) return std::move(*encoded);
    return std::vector<std::uint16_t>(config::register_count(p), 0);
}

void print(std::ostringstream& out, const std::vector<mqtt::message>& messages) {
    for (std::size_t k = 0; k < messages.size() && k < shown; ++k) {
        const auto& m = messages[k];
        out << "  " << m.topic << "  (qos " << static_cast<int>(m.qos) << (m.retain ? ", retained" : "") << ")\n";
        if (m.payload.empty()) {
            out << "    (an empty payload)\n";
            continue;
        }
        std::string indented = "    ";
        for (const char c : m.payload) {
            indented += c;
            if (c == '\n') indented += "    ";
        }
        while (!indented.empty() && (indented.back() == ' ' || indented.back() == '\n')) indented.pop_back();
        out << indented << "\n";
    }
    if (messages.size() > shown) out << "  ... and " << messages.size() - shown << " more like these\n";
}

}  // namespace

std::string example_messages(const config::gateway& cfg, std::chrono::system_clock::time_point time) {
    if (cfg.devices.empty()) return {};
    const auto shared = std::make_shared<config::gateway>(cfg);
    shared->devices.resize(1);  // the first device alone: no work for the others
    const auto& device = shared->devices.front();
    point_mapper mapper{std::shared_ptr<const config::gateway>(shared)};
    modbus::poll_result poll;
    poll.device = device.name;
    poll.time = time;
    for (std::size_t k = 0; k < device.points.size(); ++k) {
        poll.samples.push_back(modbus::sample{k, words_of(device.points[k]), modbus::quality{true, {}}});
    }
    const auto now = std::chrono::steady_clock::time_point{};
    std::ostringstream out;
    out << "\nExample messages of device " << device.name << " (publish.format: "
        << config::to_string(cfg.publish.format)
        << "; stand-in values: each point's simulate value, else 0, false or \"text\"):\n";
    const auto good = mapper.map(poll, now);
    if (good.empty()) {
        out << (device.points.empty() ? "  (none: the device has no points)\n"
                                      : "  (none: no point publishes for these values)\n");
    }
    print(out, good);
    if (!device.points.empty()) {
        out << "A poll in which " << device.points.front().name << " does not answer:\n";
        modbus::poll_result bad = poll;
        bad.samples.resize(1);
        bad.samples.front() = modbus::sample{0, {}, modbus::quality{false, make_error_code(modbus::modbus_errc::timeout)}};
        const auto failed = mapper.map(bad, now);
        if (failed.empty()) out << "  (nothing: format raw does not publish a bad reading)\n";
        print(out, failed);
    }
    out << "Its availability:\n";
    print(out, {availability_message(*shared, device.name, modbus::device_state::online, time)});
    return out.str();
}

}  // namespace fieldbridge::gateway
