#include "mqtt/utf8.hpp"

#include <cstddef>
#include <cstdint>

#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {

std::error_code check_mqtt_string(std::string_view text) noexcept {
    if (text.size() > 0xFFFF) return mqtt_errc::string_too_long;
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
    while (i < text.size()) {
        const std::uint8_t b0 = byte(i);
        if (b0 == 0) return mqtt_errc::null_character;  // [MQTT-1.5.3-2]
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t code = 0;
        std::uint32_t minimum = 0;
        if ((b0 & 0xE0) == 0xC0) {
            length = 2;
            code = b0 & 0x1Fu;
            minimum = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            length = 3;
            code = b0 & 0x0Fu;
            minimum = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            length = 4;
            code = b0 & 0x07u;
            minimum = 0x10000;
        } else {
            return mqtt_errc::invalid_utf8;
        }
        if (text.size() - i < length) return mqtt_errc::invalid_utf8;
        for (std::size_t k = 1; k < length; ++k) {
            const std::uint8_t b = byte(i + k);
            if ((b & 0xC0) != 0x80) return mqtt_errc::invalid_utf8;
            code = (code << 6) | (b & 0x3Fu);
        }
        // Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF
        // are ill-formed [MQTT-1.5.3-1].
        if (code < minimum || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
            return mqtt_errc::invalid_utf8;
        }
        i += length;
    }
    return {};
}

}  // namespace fieldbridge::mqtt
