#include "drivers/modbus/value_codec.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "config/names.hpp"

namespace fieldbridge::modbus {
namespace {

using config::data_type;
using config::string_packing;
using config::word_order;

using config::is_bit_kind;

// Bytes of the numeric value itself (the registers for strings differ).
std::size_t value_bytes(data_type t) {
    switch (t) {
        case data_type::int32:
        case data_type::uint32:
        case data_type::float32:
            return 4;
        case data_type::int64:
        case data_type::uint64:
        case data_type::float64:
            return 8;
        default:
            return 2;
    }
}

bool swaps_words(word_order o) { return o == word_order::cdab || o == word_order::dcba; }
bool swaps_bytes(word_order o) { return o == word_order::badc || o == word_order::dcba; }

// Registers -> the value's bytes, most significant first (A B C D ...).
std::uint64_t to_raw(std::span<const std::uint16_t> words, word_order order) {
    const std::size_t n = words.size();
    std::array<std::uint8_t, 8> bytes{};
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t j = swaps_words(order) ? n - 1 - i : i;
        auto hi = static_cast<std::uint8_t>(words[i] >> 8);
        auto lo = static_cast<std::uint8_t>(words[i] & 0xFFu);
        if (swaps_bytes(order)) std::swap(hi, lo);
        bytes[2 * j] = hi;
        bytes[2 * j + 1] = lo;
    }
    std::uint64_t raw = 0;
    for (std::size_t k = 0; k < 2 * n; ++k) raw = (raw << 8) | bytes[k];
    return raw;
}

std::vector<std::uint16_t> from_raw(std::uint64_t raw, std::size_t n_words, word_order order) {
    std::array<std::uint8_t, 8> bytes{};
    for (std::size_t k = 2 * n_words; k-- > 0;) {
        bytes[k] = static_cast<std::uint8_t>(raw & 0xFFu);
        raw >>= 8;
    }
    std::vector<std::uint16_t> words(n_words);
    for (std::size_t i = 0; i < n_words; ++i) {
        const std::size_t j = swaps_words(order) ? n_words - 1 - i : i;
        auto hi = bytes[2 * j];
        auto lo = bytes[2 * j + 1];
        if (swaps_bytes(order)) std::swap(hi, lo);
        words[i] = static_cast<std::uint16_t>((hi << 8) | lo);
    }
    return words;
}

bool is_signed(data_type t) { return t == data_type::int16 || t == data_type::int32 || t == data_type::int64; }
bool is_float(data_type t) { return t == data_type::float32 || t == data_type::float64; }
bool is_scaled(const config::point& p) { return p.scale != 1.0 || p.offset != 0.0; }

std::int64_t sign_extend(std::uint64_t raw, std::size_t bytes) {
    const unsigned bits = static_cast<unsigned>(bytes * 8);
    if (bits == 64) return std::bit_cast<std::int64_t>(raw);
    const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
    if (raw & sign) raw |= ~((std::uint64_t{1} << bits) - 1);
    return std::bit_cast<std::int64_t>(raw);
}

// Printable UTF-8: control characters and malformed sequences would reach
// JSON payloads and terminals; refuse them rather than pass garbage on.
bool printable_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F) return false;
            ++i;
            continue;
        }
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if ((c & 0xE0u) == 0xC0u) {
            extra = 1;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0u) == 0xE0u) {
            extra = 2;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8u) == 0xF0u) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + extra >= s.size()) return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0u) != 0x80u) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        static constexpr std::array<std::uint32_t, 4> min_cp{0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

result<value> decode_string(const config::point& p, std::span<const std::uint16_t> words) {
    std::string s;
    s.reserve(words.size() * 2);
    for (const auto w : words) {
        const auto hi = static_cast<char>(w >> 8);
        const auto lo = static_cast<char>(w & 0xFFu);
        switch (p.packing) {
            case string_packing::high_byte_first:
                s.push_back(hi);
                s.push_back(lo);
                break;
            case string_packing::low_byte_first:  // byte-swapped: "rP3oME1-" for "Pro3EM-1"
                s.push_back(lo);
                s.push_back(hi);
                break;
            case string_packing::low_byte_only:
                s.push_back(lo);
                break;
        }
    }
    if (const auto nul = s.find('\0'); nul != std::string::npos) s.erase(nul);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (!printable_utf8(s)) return fail(modbus_errc::invalid_string);
    return value{std::move(s)};
}

result<std::vector<std::uint16_t>> encode_string(const config::point& p, const value& v) {
    const auto* s = std::get_if<std::string>(&v);
    if (s == nullptr) return fail(modbus_errc::wrong_value_type);
    if (!printable_utf8(*s)) return fail(modbus_errc::invalid_string);
    const std::size_t capacity = p.packing == string_packing::low_byte_only ? p.length : 2u * p.length;
    if (s->size() > capacity) return fail(modbus_errc::string_too_long);
    std::string padded = *s;
    padded.resize(capacity, '\0');  // NUL padding: decode cuts at the first NUL
    std::vector<std::uint16_t> words(p.length);
    for (std::size_t i = 0; i < words.size(); ++i) {
        switch (p.packing) {
            case string_packing::high_byte_first:
                words[i] = static_cast<std::uint16_t>((static_cast<unsigned char>(padded[2 * i]) << 8) |
                                                      static_cast<unsigned char>(padded[2 * i + 1]));
                break;
            case string_packing::low_byte_first:
                words[i] = static_cast<std::uint16_t>((static_cast<unsigned char>(padded[2 * i + 1]) << 8) |
                                                      static_cast<unsigned char>(padded[2 * i]));
                break;
            case string_packing::low_byte_only:
                words[i] = static_cast<unsigned char>(padded[i]);
                break;
        }
    }
    return words;
}

// The engineering value as a number; bools count as 0/1.
result<double> as_double(const value& v) {
    if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return fail(modbus_errc::wrong_value_type);
}

result<bool> as_bool(const value& v) {
    if (const auto* b = std::get_if<bool>(&v)) return *b;
    auto d = as_double(v);
    if (!d) return fail(d.error());
    if (std::isnan(*d)) return fail(modbus_errc::not_a_number);
    if (*d == 0.0) return false;
    if (*d == 1.0) return true;
    return fail(modbus_errc::value_out_of_range);
}

struct integer_range {
    double low;   // inclusive
    double high;  // exclusive: 2^bits or 2^(bits-1), exact in a double
};

integer_range range_of(data_type t) {
    switch (t) {
        case data_type::int16:
            return {-32768.0, 32768.0};
        case data_type::uint16:
            return {0.0, 65536.0};
        case data_type::int32:
            return {-2147483648.0, 2147483648.0};
        case data_type::uint32:
            return {0.0, 4294967296.0};
        case data_type::int64:
            return {-9223372036854775808.0, 9223372036854775808.0};
        default:  // uint64
            return {0.0, 18446744073709551616.0};
    }
}

// Unscaled integers given as integers are converted exactly: a double
// cannot hold every int64/uint64.
result<std::uint64_t> exact_integer(const config::point& p, const value& v) {
    const std::size_t bytes = value_bytes(p.type);
    const unsigned bits = static_cast<unsigned>(bytes * 8);
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
        if (is_signed(p.type)) {
            if (bits < 64) {
                const std::int64_t lim = std::int64_t{1} << (bits - 1);
                if (*i < -lim || *i >= lim) return fail(modbus_errc::value_out_of_range);
            }
            const auto raw = std::bit_cast<std::uint64_t>(*i);
            return bits == 64 ? raw : raw & ((std::uint64_t{1} << bits) - 1);
        }
        if (*i < 0) return fail(modbus_errc::value_out_of_range);
        const auto u = static_cast<std::uint64_t>(*i);
        if (bits < 64 && u >= (std::uint64_t{1} << bits)) return fail(modbus_errc::value_out_of_range);
        return u;
    }
    const auto u = std::get<std::uint64_t>(v);
    if (is_signed(p.type)) {
        if (u >= (std::uint64_t{1} << (bits - 1))) return fail(modbus_errc::value_out_of_range);
        return u;
    }
    if (bits < 64 && u >= (std::uint64_t{1} << bits)) return fail(modbus_errc::value_out_of_range);
    return u;
}

result<std::uint64_t> encode_integer(const config::point& p, const value& v, double engineering) {
    const bool integral_input = std::holds_alternative<std::int64_t>(v) || std::holds_alternative<std::uint64_t>(v);
    if (integral_input && !is_scaled(p)) return exact_integer(p, v);
    const double raw = std::round((engineering - p.offset) / p.scale);
    if (!std::isfinite(raw)) return fail(modbus_errc::value_out_of_range);
    const auto range = range_of(p.type);
    if (raw < range.low || raw >= range.high) return fail(modbus_errc::value_out_of_range);
    const std::size_t bytes = value_bytes(p.type);
    std::uint64_t bits_value = is_signed(p.type) ? std::bit_cast<std::uint64_t>(static_cast<std::int64_t>(raw))
                                                 : static_cast<std::uint64_t>(raw);
    if (bytes < 8) bits_value &= (std::uint64_t{1} << (bytes * 8)) - 1;
    return bits_value;
}

// raw * scale + offset: a huge scale (the configuration allows any) can take
// a register beyond what a double holds; that reading is out of range, not
// an infinity to publish.
result<value> scaled(double raw, const config::point& p) {
    const double v = raw * p.scale + p.offset;
    if (!std::isfinite(v)) return fail(modbus_errc::value_out_of_range);
    return value{v};
}

}  // namespace

std::uint16_t register_count(const config::point& p) {
    if (is_bit_kind(p.kind)) return 1;
    return static_cast<std::uint16_t>(config::register_count(p));
}

result<value> decode(const config::point& p, std::span<const std::uint16_t> words) {
    if (words.size() != modbus::register_count(p) || words.empty()) return fail(modbus_errc::wrong_register_count);

    if (p.type == data_type::boolean) {
        if (is_bit_kind(p.kind) || !p.bit) return value{words[0] != 0};
        if (*p.bit > 15) return fail(modbus_errc::invalid_point);
        return value{((static_cast<unsigned>(words[0]) >> static_cast<unsigned>(*p.bit)) & 1u) != 0};
    }
    if (p.type == data_type::string) return decode_string(p, words);
    if (p.scale == 0.0 || !std::isfinite(p.scale) || !std::isfinite(p.offset)) return fail(modbus_errc::invalid_point);

    const std::uint64_t raw = to_raw(words, p.order);
    if (is_float(p.type)) {
        const double d = p.type == data_type::float32
                             ? static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)))
                             : std::bit_cast<double>(raw);
        if (!std::isfinite(d)) return fail(modbus_errc::not_a_number);
        return is_scaled(p) ? scaled(d, p) : value{d};
    }
    const std::size_t bytes = value_bytes(p.type);
    if (words.size() * 2 != bytes) return fail(modbus_errc::wrong_register_count);
    if (is_signed(p.type)) {
        const std::int64_t i = sign_extend(raw, bytes);
        if (is_scaled(p)) return scaled(static_cast<double>(i), p);
        return value{i};
    }
    if (is_scaled(p)) return scaled(static_cast<double>(raw), p);
    return value{raw};
}

result<std::vector<std::uint16_t>> encode(const config::point& p, const value& v, std::uint16_t current_register) {
    if (p.type == data_type::boolean) {
        auto b = as_bool(v);
        if (!b) return fail(b.error());
        if (is_bit_kind(p.kind) || !p.bit) return std::vector<std::uint16_t>{static_cast<std::uint16_t>(*b ? 1 : 0)};
        if (*p.bit > 15) return fail(modbus_errc::invalid_point);
        const auto mask = static_cast<std::uint16_t>(1u << static_cast<unsigned>(*p.bit));
        const auto reg = static_cast<std::uint16_t>(*b ? (current_register | mask) : (current_register & ~mask));
        return std::vector<std::uint16_t>{reg};
    }
    if (p.type == data_type::string) {
        if (p.length == 0) return fail(modbus_errc::invalid_point);
        return encode_string(p, v);
    }
    if (p.scale == 0.0 || !std::isfinite(p.scale) || !std::isfinite(p.offset)) return fail(modbus_errc::invalid_point);

    auto engineering = as_double(v);
    if (!engineering) return fail(engineering.error());
    if (std::isnan(*engineering)) return fail(modbus_errc::not_a_number);
    if (std::isinf(*engineering)) return fail(modbus_errc::value_out_of_range);
    if ((p.minimum && *engineering < *p.minimum) || (p.maximum && *engineering > *p.maximum)) {
        return fail(modbus_errc::value_out_of_range);
    }

    const std::size_t bytes = value_bytes(p.type);
    const std::size_t n_words = is_bit_kind(p.kind) ? 1 : bytes / 2;
    std::uint64_t raw = 0;
    if (p.type == data_type::float32) {
        const double d = is_scaled(p) ? (*engineering - p.offset) / p.scale : *engineering;
        if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
            return fail(modbus_errc::value_out_of_range);
        }
        raw = std::bit_cast<std::uint32_t>(static_cast<float>(d));
    } else if (p.type == data_type::float64) {
        const double d = is_scaled(p) ? (*engineering - p.offset) / p.scale : *engineering;
        if (!std::isfinite(d)) return fail(modbus_errc::value_out_of_range);
        raw = std::bit_cast<std::uint64_t>(d);
    } else {
        auto r = encode_integer(p, v, *engineering);
        if (!r) return fail(r.error());
        raw = *r;
    }
    if (is_bit_kind(p.kind)) {
        // A coil holds one bit; anything but 0/1 does not fit.
        if (raw > 1) return fail(modbus_errc::value_out_of_range);
        return std::vector<std::uint16_t>{static_cast<std::uint16_t>(raw)};
    }
    return from_raw(raw, n_words, p.order);
}

}  // namespace fieldbridge::modbus
