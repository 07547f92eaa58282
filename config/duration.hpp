// Durations as written in the configuration: an integer with a unit, "250ms",
// "30s", "5m", "1h". Pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fieldbridge::config {

// The duration, or nullopt when text is not <digits><ms|s|m|h> or overflows.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact form: 1500ms, 30s, 5m, 2h, 0s.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace fieldbridge::config
