// The text `fieldbridge status` and `fieldbridge points` print from the
// service's JSON answers. Pure; a malformed answer throws
// nlohmann::json::exception.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldbridge::gateway {

// "12.3 s", "4 m 05 s", "2 h 14 m"; "-" for null.
std::string format_age(const nlohmann::json& seconds);
// The text with every control character (C0, DEL, C1: what would move the
// cursor, clear or retitle a terminal) as '?'. The strings of the service's
// answers come from devices and the broker too (an MQTT 5 reason string).
std::string terminal_text(std::string_view s);
// A string as terminal_text() gives it, null as "-", anything else as JSON.
std::string text(const nlohmann::json& j);
// Rows of cells, columns padded to their widest cell, one line per row.
std::string table_text(const std::vector<std::vector<std::string>>& rows);
// The whole status view: header, broker, queue, the buses' and the devices' tables.
std::string status_text(const nlohmann::json& status);

}  // namespace fieldbridge::gateway
