// The checks every MQTT UTF-8 encoded string must pass [MQTT-1.5.3]. Pure.
#pragma once

#include <string_view>
#include <system_error>

namespace fieldbridge::mqtt {

// Empty error_code when `text` is well-formed UTF-8 without U+0000 and fits
// the 16-bit length prefix; otherwise invalid_utf8, null_character or
// string_too_long.
std::error_code check_mqtt_string(std::string_view text) noexcept;

// check_mqtt_string, and no code point a server closes the connection over
// (is_refused_code_point, common/utf8.hpp: refused_character), which
// servers check in topics, topic filters, the client id and the user name.
// The codec itself takes them both ways.
std::error_code check_outgoing_string(std::string_view text) noexcept;

}  // namespace fieldbridge::mqtt
