// The gateway's figures in a few hundred bytes, for the retained status
// topic (availability.summary_interval): for fleets that watch their boxes
// over MQTT rather than with `fieldbridge status` on each. Pure.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "gateway/status_report.hpp"

namespace fieldbridge::gateway {

// Offline devices named in a summary at most; the rest are counted.
inline constexpr std::size_t summary_max_offline_names = 50;

// {"ts","uptime_s","healthy","broker":{state,reconnects},"queue":{messages,
// bytes,oldest_age_s,delivered,dropped},"buses":{count,polls,failures,
// timeouts,max_utilisation},"devices":{count,online,offline,unknown,
// offline_names,offline_unnamed},"commands_held"}
nlohmann::json status_summary(const status_snapshot& s);

}  // namespace fieldbridge::gateway
