#include "gateway/payload.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

namespace fieldbridge::gateway {
namespace {

nlohmann::json json_value(const config::point& p, const modbus::value& v) {
    return std::visit(
        [&p](const auto& x) -> nlohmann::json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, double>) {
                // JSON has no NaN or infinity: a device reporting one is
                // published as null rather than as an invalid document.
                if (!std::isfinite(x))
                    return nullptr;
                return presentable(x, p);
            } else {
                return x;
            }
        },
        v);
}

std::string text_value(const config::point& p, const modbus::value& v) {
    if (const auto* s = std::get_if<std::string>(&v))
        return *s;
    if (const auto* d = std::get_if<double>(&v); d && !std::isfinite(*d)) {
        return std::isnan(*d) ? "nan" : (*d > 0 ? "inf" : "-inf");
    }
    return json_value(p, v).dump();
}

void append_digits(std::string& out, int value, int width) {
    char buf[8];
    for (int i = width - 1; i >= 0; --i) {
        buf[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    out.append(buf, static_cast<std::size_t>(width));
}

void append_iso8601_utc_ms(std::string& out, std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    // The calendar of <chrono>, not gmtime_r: a 32-bit time_t (Debian's
    // armhf) would end in 2038.
    const auto at = floor<milliseconds>(t);
    const auto day = floor<days>(at);
    const year_month_day date{day};
    const hh_mm_ss time{at - day};
    const int year = static_cast<int>(date.year());
    const auto month = static_cast<int>(static_cast<unsigned>(date.month()));
    const auto mday = static_cast<int>(static_cast<unsigned>(date.day()));
    const auto hour = static_cast<int>(time.hours().count());
    const auto minute = static_cast<int>(time.minutes().count());
    const auto second = static_cast<int>(time.seconds().count());
    const auto millis = static_cast<int>(time.subseconds().count());
    if (year < 0 || year > 9999) {  // far from any clock a gateway runs on: the general path
        char buf[48];
        const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, mday,
                                    hour, minute, second, millis);
        out.append(buf, static_cast<std::size_t>(n));
        return;
    }
    append_digits(out, year, 4);
    out += '-';
    append_digits(out, month, 2);
    out += '-';
    append_digits(out, mday, 2);
    out += 'T';
    append_digits(out, hour, 2);
    out += ':';
    append_digits(out, minute, 2);
    out += ':';
    append_digits(out, second, 2);
    out += '.';
    append_digits(out, millis, 3);
    out += 'Z';
}

// JSON text of a value or a string: bytes that are not UTF-8 become U+FFFD.
std::string json_text(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The text of s inside a JSON string (no quotes around it).
void append_json_string_content(std::string& out, const std::string& s) {
    const auto quoted = json_text(s);
    out.append(quoted, 1, quoted.size() - 2);
}

std::string error_text(const reading& r) {
    return r.error ? r.error.message() : std::string("no value");
}

// One placeholder as text: in a text template, or inside a JSON string.
std::string field_text(config::template_field f, const config::point& p, std::string_view device, const reading& r,
                       std::span<const std::uint16_t> words) {
    using config::template_field;
    switch (f) {
        case template_field::value:
            return r.value ? text_value(p, *r.value) : std::string();
        case template_field::raw: {
            std::string out;
            for (std::size_t k = 0; k < words.size(); ++k) {
                if (k > 0) out += ',';
                out += std::to_string(words[k]);
            }
            return out;
        }
        case template_field::quality:
            return r.value ? "good" : "bad";
        case template_field::error:
            return r.value ? std::string() : error_text(r);
        case template_field::unit:
            return p.unit;
        case template_field::point:
            return p.name;
        case template_field::device:
            return std::string(device);
        case template_field::ts: {
            std::string out;
            append_iso8601_utc_ms(out, r.time);
            return out;
        }
        case template_field::ts_ms:
            return std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count());
    }
    return {};
}

// One placeholder where a JSON value goes: the value as JSON (null when
// bad), the registers as an array, the time in ms as a number, no error as
// null; every other placeholder is its text as a JSON string.
void append_json_field(std::string& out, config::template_field f, const config::point& p, std::string_view device,
                       const reading& r, std::span<const std::uint16_t> words) {
    using config::template_field;
    switch (f) {
        case template_field::value:
            out += r.value ? json_text(json_value(p, *r.value)) : std::string("null");
            return;
        case template_field::raw:
            out += '[';
            out += field_text(f, p, device, r, words);
            out += ']';
            return;
        case template_field::ts_ms:
            out += field_text(f, p, device, r, words);
            return;
        case template_field::error:
            if (r.value) {
                out += "null";
                return;
            }
            break;
        default:
            break;
    }
    out += json_text(field_text(f, p, device, r, words));
}

}  // namespace

std::string iso8601_utc_ms(std::chrono::system_clock::time_point t) {
    std::string out;
    append_iso8601_utc_ms(out, t);
    return out;
}

double presentable(double v, const config::point& p) {
    if (!std::isfinite(v))
        return v;
    const bool single = p.type == config::data_type::float32;
    if (single && p.scale == 1.0 && p.offset == 0.0) {
        // The shortest text that reads back as the same float is what the
        // device meant; parse it again as a double.
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
        const double shortest = ec == std::errc{} ? std::strtod(std::string(buf, end).c_str(), nullptr) : v;
        // Past a float's range (not from a register): kept as it is.
        return std::isfinite(shortest) ? shortest : v;
    }
    // A float32 carries about 7 significant digits, a double 15.
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", single ? 7 : 15, v);
    // Rounding the largest doubles goes past the largest double: keep them.
    const double rounded = std::strtod(buf, nullptr);
    return std::isfinite(rounded) ? rounded : v;
}

std::string json_payload(const config::point& p, const reading& r) {
    // Written directly, keys in the order a JSON object of them is printed
    // (sorted): no document built per message. A string register holds
    // whatever bytes the device put there: bytes that are not UTF-8 become
    // U+FFFD instead of a throw that would end the service at every poll.
    std::string out;
    out.reserve(96 + p.unit.size());
    out += '{';
    if (!r.value) {
        out += "\"error\":";
        out += json_text(error_text(r));
        out += ',';
    }
    out += r.value ? "\"quality\":\"good\",\"ts\":\"" : "\"quality\":\"bad\",\"ts\":\"";
    append_iso8601_utc_ms(out, r.time);
    out += "\",";
    if (!p.unit.empty()) {
        out += "\"unit\":";
        out += json_text(p.unit);
        out += ',';
    }
    out += "\"value\":";
    out += r.value ? json_text(json_value(p, *r.value)) : std::string("null");
    out += '}';
    return out;
}

std::string device_payload(std::string_view device, const std::vector<point_reading>& points,
                           std::chrono::system_clock::time_point time) {
    std::string out;
    out.reserve(48 + device.size() + points.size() * 24);
    out += "{\"device\":";
    out += json_text(std::string(device));
    out += ",\"points\":{";
    bool first = true;
    bool any_bad = false;
    for (const auto& [p, r] : points) {
        if (!first) out += ',';
        first = false;
        out += json_text(p->name);
        out += ':';
        out += r.value ? json_text(json_value(*p, *r.value)) : std::string("null");
        any_bad = any_bad || !r.value;
    }
    out += '}';
    if (any_bad) {
        out += ",\"quality\":{";
        first = true;
        for (const auto& [p, r] : points) {
            if (r.value) continue;
            if (!first) out += ',';
            first = false;
            out += json_text(p->name);
            out += ':';
            out += json_text(error_text(r));
        }
        out += '}';
    }
    out += ",\"ts\":\"";
    append_iso8601_utc_ms(out, time);
    out += "\"}";
    return out;
}

std::string template_payload(const config::payload_template& t, const config::point& p, std::string_view device,
                             const reading& r, std::span<const std::uint16_t> words) {
    std::string out;
    out.reserve(t.text.size() + 32);
    for (const auto& part : t.parts) {
        out += part.literal;
        if (!part.field) continue;
        if (!t.json) {
            out += field_text(*part.field, p, device, r, words);
        } else if (part.in_string) {
            append_json_string_content(out, field_text(*part.field, p, device, r, words));
        } else {
            append_json_field(out, *part.field, p, device, r, words);
        }
    }
    return out;
}

std::optional<std::string> raw_payload(const config::point& p, const reading& r) {
    if (!r.value)
        return std::nullopt;
    return text_value(p, *r.value);
}

}  // namespace fieldbridge::gateway
