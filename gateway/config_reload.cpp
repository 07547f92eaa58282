#include "gateway/config_reload.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "config/loader.hpp"

namespace fieldbridge::gateway {

std::optional<std::string> needs_restart(const config::gateway& running, const config::gateway& next) {
    if (!(next.mqtt == running.mqtt) || !(next.store == running.store) ||
        !(next.control == running.control) || !(next.metrics == running.metrics) ||
        next.availability.gateway_topic != running.availability.gateway_topic ||
        next.availability.summary_interval != running.availability.summary_interval) {
        return "the mqtt, store, control, metrics, availability.gateway_topic or availability.summary_interval settings "
               "changed; restart the service to apply them";
    }
    const auto spb = config::payload_format::sparkplug;
    if ((next.publish.format == spb) != (running.publish.format == spb) || !(next.sparkplug == running.sparkplug)) {
        return "publish.format changed to or from sparkplug, or the sparkplug settings changed; restart the service "
               "to apply them";
    }
    return std::nullopt;
}

reload_candidate load_for_reload(const std::string& path) {
    if (path.empty()) return {std::nullopt, "the service was not started from a file"};
    config::gateway next;
    try {
        next = config::load_file(path);
    } catch (const config::config_error& e) {
        const auto& all = e.diagnostics();
        for (const auto& d : all) spdlog::error("{}", config::to_string(d));
        if (all.empty()) return {std::nullopt, "invalid configuration"};
        return {std::nullopt,
                config::to_string(all.front()) +
                    (all.size() > 1 ? " (and " + std::to_string(all.size() - 1) + " more)" : "")};
    } catch (const std::exception& e) {
        return {std::nullopt, e.what()};
    }
    return {std::move(next), {}};
}

}  // namespace fieldbridge::gateway
