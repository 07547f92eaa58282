#include "gateway/status_summary.hpp"

#include <algorithm>

#include "gateway/payload.hpp"

namespace fieldbridge::gateway {

nlohmann::json status_summary(const status_snapshot& s) {
    const auto& q = s.queue.stats;
    const auto& qc = s.queue.counters;
    nlohmann::json queue = {
        {"messages", q.rows},
        {"bytes", q.bytes},
        {"oldest_age_s", q.oldest ? nlohmann::json(std::chrono::duration<double>(s.now - *q.oldest).count())
                                  : nlohmann::json(nullptr)},
        {"delivered", s.queue.forwarded.delivered},
        {"dropped", qc.dropped_by_rows + qc.dropped_by_bytes + qc.dropped_by_age}};

    std::uint64_t polls = 0, failures = 0, timeouts = 0;
    double max_utilisation = 0;
    for (const auto& b : s.buses) {
        polls += b.counters.polls;
        failures += b.counters.failures;
        timeouts += b.counters.timeouts;
        max_utilisation = std::max(max_utilisation, b.counters.utilisation());
    }
    const nlohmann::json buses = {{"count", s.buses.size()},
                                  {"polls", polls},
                                  {"failures", failures},
                                  {"timeouts", timeouts},
                                  {"max_utilisation", max_utilisation}};

    std::size_t online = 0, offline = 0, unknown = 0;
    nlohmann::json offline_names = nlohmann::json::array();
    for (const auto& d : s.devices) {
        switch (d.health.state()) {
            case modbus::device_state::online:
                ++online;
                break;
            case modbus::device_state::offline:
                if (offline++ < summary_max_offline_names) offline_names.push_back(d.name);
                break;
            case modbus::device_state::unknown:
                ++unknown;
                break;
        }
    }
    const nlohmann::json devices = {{"count", s.devices.size()},
                                    {"online", online},
                                    {"offline", offline},
                                    {"unknown", unknown},
                                    {"offline_names", std::move(offline_names)},
                                    {"offline_unnamed", offline - std::min(offline, summary_max_offline_names)}};

    const auto& c = s.broker.client;
    return {{"ts", iso8601_utc_ms(s.now)},
            {"uptime_s", s.uptime.count()},
            {"healthy", s.broker.state == mqtt::link_state::connected && offline == 0},
            {"broker", {{"state", to_string(s.broker.state)}, {"reconnects", c.connects > 0 ? c.connects - 1 : 0}}},
            {"queue", std::move(queue)},
            {"buses", buses},
            {"devices", devices},
            {"commands_held", s.held_commands}};
}

}  // namespace fieldbridge::gateway
