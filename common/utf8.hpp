// Where a text stops being what MQTT strings and JSON documents require:
// well-formed UTF-8 (RFC 3629: no overlong forms, no UTF-16 surrogates,
// nothing beyond U+10FFFF) without U+0000 [MQTT-1.5.3-1], [MQTT-1.5.3-2].
// Pure and header-only, so that config/ can check settings without linking
// the MQTT library. Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fieldbridge {

enum class utf8_problem { none, invalid_sequence, null_character };

struct utf8_check {
    utf8_problem problem = utf8_problem::none;
    std::size_t offset = 0;  // of the first byte of the offending sequence
    explicit operator bool() const noexcept { return problem != utf8_problem::none; }
};

// One UTF-8 sequence at text[at]: its code point and length in bytes, or
// well_formed false (a continuation byte or F8..FF first, a sequence cut
// short or broken, an overlong form, a UTF-16 surrogate, beyond U+10FFFF).
struct utf8_sequence {
    std::uint32_t code = 0;
    std::size_t length = 1;
    bool well_formed = false;
};

inline utf8_sequence next_code_point(std::string_view text, std::size_t at) noexcept {
    const auto b0 = static_cast<std::uint8_t>(text[at]);
    if (b0 < 0x80) return {b0, 1, true};
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t minimum = 0;
    if ((b0 & 0xE0u) == 0xC0u) {
        length = 2;
        code = b0 & 0x1Fu;
        minimum = 0x80;
    } else if ((b0 & 0xF0u) == 0xE0u) {
        length = 3;
        code = b0 & 0x0Fu;
        minimum = 0x800;
    } else if ((b0 & 0xF8u) == 0xF0u) {
        length = 4;
        code = b0 & 0x07u;
        minimum = 0x10000;
    } else {
        return {};
    }
    if (text.size() - at < length) return {};
    for (std::size_t k = 1; k < length; ++k) {
        const auto b = static_cast<std::uint8_t>(text[at + k]);
        if ((b & 0xC0u) != 0x80u) return {};
        code = (code << 6) | (b & 0x3Fu);
    }
    if (code < minimum || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return {};
    return {code, length, true};
}

// The first problem in text, if any.
inline utf8_check find_utf8_problem(std::string_view text) noexcept {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto next = next_code_point(text, i);
        if (!next.well_formed) return {utf8_problem::invalid_sequence, i};
        if (next.code == 0) return {utf8_problem::null_character, i};
        i += next.length;
    }
    return {};
}

// A code point MQTT strings SHOULD NOT hold [MQTT-1.5.3], which a server MAY
// close the connection over and mosquitto does, in a topic, a topic filter,
// a client id or a user name (tests/mqtt/broker_code_points_test.cpp checks
// the rule against the real broker): the control characters U+0001..U+001F
// and U+007F..U+009F, and the Unicode non-characters U+FDD0..U+FDEF and the
// last two code points of every plane (U+FFFE, U+FFFF, U+1FFFE, ...).
constexpr bool is_refused_code_point(std::uint32_t code) noexcept {
    return (code >= 0x01 && code <= 0x1F) || (code >= 0x7F && code <= 0x9F) || (code >= 0xFDD0 && code <= 0xFDEF) ||
           (code & 0xFFFEu) == 0xFFFEu;
}

struct refused_code_point {
    bool found = false;
    std::size_t offset = 0;   // of the first byte of its sequence
    std::uint32_t code = 0;
    explicit operator bool() const noexcept { return found; }
};

// The first refused code point of text (is_refused_code_point); bytes
// that are not well-formed UTF-8 are passed over (find_utf8_problem reports
// them).
inline refused_code_point find_refused_code_point(std::string_view text) noexcept {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto next = next_code_point(text, i);
        if (!next.well_formed) {
            ++i;
            continue;
        }
        if (is_refused_code_point(next.code)) return {true, i, next.code};
        i += next.length;
    }
    return {};
}

}  // namespace fieldbridge
