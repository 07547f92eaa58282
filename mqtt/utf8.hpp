// The checks every MQTT UTF-8 encoded string must pass [MQTT-1.5.3]. Pure.
#pragma once

#include <string_view>
#include <system_error>

namespace fieldbridge::mqtt {

// Empty error_code when `text` is well-formed UTF-8 without U+0000 and fits
// the 16-bit length prefix; otherwise invalid_utf8, null_character or
// string_too_long.
std::error_code check_mqtt_string(std::string_view text) noexcept;

}  // namespace fieldbridge::mqtt
