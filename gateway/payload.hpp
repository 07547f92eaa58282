// Turns one reading of a point into an MQTT payload (JSON or raw text).
// Pure functions over values.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config/model.hpp"
#include "config/payload_template.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::gateway {

// One reading as the mapping layer sees it: the decoded engineering value
// (empty when the quality is bad) and, when bad, why.
struct reading {
    std::optional<modbus::value> value;
    std::error_code error;  // set when value is empty
    std::chrono::system_clock::time_point time;
};

// "2026-11-22T10:00:00.123Z": ISO 8601, UTC, milliseconds.
std::string iso8601_utc_ms(std::chrono::system_clock::time_point t);

// Rounds away the binary noise a float32 register or a scale factor leaves
// in a double (229.00999450683594 -> 229.01, 2301 * 0.1 -> 230.1).
double presentable(double v, const config::point& p);

// {"value":229.01,"unit":"V","quality":"good","ts":"..."}; a bad reading has
// "value":null, "quality":"bad" and "error" with the reason.
std::string json_payload(const config::point& p, const reading& r);

// One point's reading in a device message.
struct point_reading {
    const config::point* point;
    reading value;
};

// One message for a device's points of one poll (format: device):
// {"device":"m1","points":{"power":229.01,"state":null},
//  "quality":{"state":"timeout"},"ts":"..."}. "points" holds every point
// given, in the order given (null for a bad reading); "quality" only the bad
// ones, with the reason (absent when all are good); "ts" is `time`, shared.
std::string device_payload(std::string_view device, const std::vector<point_reading>& points,
                           std::chrono::system_clock::time_point time);

// format: template: t filled in with a reading of point p of device, whose
// registers were words. In a JSON template a placeholder where a value goes
// becomes one ({{value}} 229.01, "PRO3EM" or null; {{raw}} [17224,0];
// {{error}} null when good) and one inside a string is escaped for it; in a
// text template each is its text ({{raw}} "17224,0", a bad {{value}} "").
std::string template_payload(const config::payload_template& t, const config::point& p, std::string_view device,
                             const reading& r, std::span<const std::uint16_t> words);

// The value alone as text ("229.01", "true", "PRO3EM"); nullopt for a bad
// reading, which the raw format cannot carry.
std::optional<std::string> raw_payload(const config::point& p, const reading& r);

}  // namespace fieldbridge::gateway
