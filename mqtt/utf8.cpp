#include "mqtt/utf8.hpp"

#include "common/utf8.hpp"
#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {

std::error_code check_mqtt_string(std::string_view text) noexcept {
    if (text.size() > 0xFFFF) return mqtt_errc::string_too_long;
    // Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF are
    // ill-formed [MQTT-1.5.3-1]; U+0000 is not allowed [MQTT-1.5.3-2].
    switch (find_utf8_problem(text).problem) {
        case utf8_problem::none:
            return {};
        case utf8_problem::null_character:
            return mqtt_errc::null_character;
        case utf8_problem::invalid_sequence:
            break;
    }
    return mqtt_errc::invalid_utf8;
}

std::error_code check_outgoing_string(std::string_view text) noexcept {
    if (auto ec = check_mqtt_string(text)) return ec;
    if (find_refused_code_point(text)) return mqtt_errc::refused_character;
    return {};
}

}  // namespace fieldbridge::mqtt
