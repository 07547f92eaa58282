// The strings of a configuration as MQTT and JSON will carry them: every
// setting is UTF-8 without U+0000 and fits an MQTT string (65535 bytes), and
// every topic the templates expand to (state, command, reply, availability,
// the will) is a topic name a PUBLISH or SUBSCRIBE can carry. What `check`
// accepts, `run` can then encode: no setting is found wrong only when the
// first packet is built. Pure functions over values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.hpp"
#include "config/diagnostic_list.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

// The most bytes an MQTT string or topic holds: a 16-bit length [MQTT-1.5.3].
inline constexpr std::size_t max_mqtt_string = 65535;
// The longest client id an MQTT 3.1.1 server must accept [MQTT-3.1.3-5];
// longer ids work on most servers (mosquitto takes 65535) but may be refused.
inline constexpr std::size_t portable_client_id = 23;

// Why text cannot be a string setting ("is not valid UTF-8 (bytes FF FE at
// byte 0); expected ..."), or nullopt when it can. The caller puts the key
// in front.
std::optional<std::string> string_setting_error(std::string_view text);

// Why text cannot be an MQTT topic name (empty, a wildcard, not a string
// setting, a control character or non-character, beginning with $SYS or
// $share), or nullopt.
std::optional<std::string> topic_name_error(std::string_view text);

// Why text cannot be a string that CONNECT carries and servers check (the
// client id, the user name): a string setting without a control character
// or non-character (is_refused_code_point), or nullopt.
std::optional<std::string> sent_string_error(std::string_view text);

// The warning for a client id longer than a 3.1.1 server must accept, or nullopt.
std::optional<std::string> client_id_warning(std::string_view client_id);

// Every problem of cfg's strings and expanded topics, each at the mark of
// the object concerned and naming its key. A topic found too long (or
// otherwise unusable) for many points is reported once for the key that
// makes it so, with the first point and the number of others.
void check_wire_strings(const gateway& cfg, diagnostic_list& out);

}  // namespace fieldbridge::config
