#include "gateway/payload.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono;

config::point float_point() {
    config::point p;
    p.name = "voltage_l1";
    p.type = config::data_type::float32;
    p.unit = "V";
    return p;
}

TEST(payload, iso8601_is_utc_with_milliseconds) {
    const system_clock::time_point t{milliseconds{1'795'000'000'123}};
    EXPECT_EQ(iso8601_utc_ms(t), "2026-11-18T11:06:40.123Z");
    EXPECT_EQ(iso8601_utc_ms(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601_utc_ms(system_clock::time_point{milliseconds{-1}}), "1969-12-31T23:59:59.999Z");
    // Past a 32-bit time_t (2038-01-19) and a 32-bit unsigned one (2106).
    EXPECT_EQ(iso8601_utc_ms(system_clock::time_point{seconds{2'208'988'800}}), "2040-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601_utc_ms(system_clock::time_point{seconds{4'294'967'296}}), "2106-02-07T06:28:16.000Z");
}

TEST(payload, float32_noise_is_rounded_away) {
    const auto p = float_point();
    EXPECT_EQ(presentable(static_cast<double>(229.01f), p), 229.01);
    auto scaled = p;
    scaled.type = config::data_type::uint16;
    scaled.scale = 0.1;
    EXPECT_EQ(presentable(2301 * 0.1, scaled), 230.1);
}

TEST(payload, json_good_reading_has_value_unit_quality_and_time) {
    const auto p = float_point();
    const reading r{modbus::value{static_cast<double>(229.01f)}, {}, system_clock::time_point{milliseconds{5}}};
    const auto j = nlohmann::json::parse(json_payload(p, r));
    EXPECT_EQ(j.at("value").get<double>(), 229.01);
    EXPECT_EQ(j.at("unit"), "V");
    EXPECT_EQ(j.at("quality"), "good");
    EXPECT_EQ(j.at("ts"), "1970-01-01T00:00:00.005Z");
    EXPECT_FALSE(j.contains("error"));
}

TEST(payload, json_bad_reading_says_why) {
    const auto p = float_point();
    const reading r{std::nullopt, std::make_error_code(std::errc::timed_out), system_clock::time_point{}};
    const auto j = nlohmann::json::parse(json_payload(p, r));
    EXPECT_TRUE(j.at("value").is_null());
    EXPECT_EQ(j.at("quality"), "bad");
    EXPECT_EQ(j.at("error"), std::make_error_code(std::errc::timed_out).message());
}

TEST(payload, json_non_finite_value_is_null_not_invalid_json) {
    const auto p = float_point();
    const reading r{modbus::value{std::nan("")}, {}, system_clock::time_point{}};
    const auto j = nlohmann::json::parse(json_payload(p, r));
    EXPECT_TRUE(j.at("value").is_null());
    EXPECT_EQ(j.at("quality"), "good");
}

TEST(payload, json_keeps_64_bit_counters_exact) {
    config::point p;
    p.type = config::data_type::uint64;
    const reading r{modbus::value{std::uint64_t{18'446'744'073'709'551'615ULL}}, {}, {}};
    EXPECT_NE(json_payload(p, r).find("18446744073709551615"), std::string::npos);
}

TEST(payload, raw_is_the_value_alone) {
    auto p = float_point();
    EXPECT_EQ(raw_payload(p, reading{modbus::value{static_cast<double>(229.01f)}, {}, {}}), "229.01");
    EXPECT_EQ(raw_payload(p, reading{modbus::value{true}, {}, {}}), "true");
    EXPECT_EQ(raw_payload(p, reading{modbus::value{std::string("PRO3EM")}, {}, {}}), "PRO3EM");
    EXPECT_EQ(raw_payload(p, reading{modbus::value{std::int64_t{-5}}, {}, {}}), "-5");
    EXPECT_EQ(raw_payload(p, reading{std::nullopt, std::make_error_code(std::errc::timed_out), {}}), std::nullopt);
}

// A timestamp as the C library prints it.
std::string iso8601_printed(system_clock::time_point t) {
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto seconds = static_cast<std::time_t>(ms / 1000);
    auto millis = ms % 1000;
    if (millis < 0) {
        millis += 1000;
        --seconds;
    }
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[48];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
    return std::string(buf, static_cast<std::size_t>(n));
}

// The payload as a JSON document of the same keys builds and prints it: the
// reference the directly written payload must equal byte for byte, over
// random points, values (NaN, infinities, 64-bit extremes, strings of any
// bytes), errors and times (before 1970 included).
std::string payload_as_a_document(const config::point& p, const reading& r) {
    nlohmann::json j;
    if (r.value) {
        j["value"] = std::visit(
            [&p](const auto& x) -> nlohmann::json {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, double>) {
                    if (!std::isfinite(x)) return nullptr;
                    return presentable(x, p);
                } else {
                    return x;
                }
            },
            *r.value);
    } else {
        j["value"] = nullptr;
    }
    if (!p.unit.empty()) j["unit"] = p.unit;
    j["quality"] = r.value ? "good" : "bad";
    if (!r.value) j["error"] = r.error ? r.error.message() : std::string("no value");
    j["ts"] = iso8601_printed(r.time);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Random points and readings: values of every type (NaN, infinities,
// 64-bit extremes, strings of any bytes), errors, and times before 1970 and
// far ahead.
class reading_generator {
public:
    explicit reading_generator(std::uint64_t seed) : rng_(seed) {}

    template <class N>
    N pick(N n) {
        return static_cast<N>(rng_() % static_cast<std::uint64_t>(n));
    }
    std::string bytes(std::size_t max) {
        std::string s(pick(max + 1), '\0');
        for (auto& c : s) c = static_cast<char>(pick(4) == 0 ? pick(256) : 32 + pick(95));
        return s;
    }

    config::point point() {
        static const std::vector<std::string> units = {"", "V", "°C", "m³/h", "quo\"te\\", "tab\there", "\x80\xff"};
        config::point p;
        p.type = pick(2) ? config::data_type::float32 : config::data_type::float64;
        p.scale = pick(3) == 0 ? 0.1 : 1.0;
        p.unit = pick(4) == 0 ? bytes(8) : units[pick(units.size())];
        p.name = pick(4) == 0 ? bytes(8) : "p" + std::to_string(pick(100));
        return p;
    }

    reading next() {
        static const std::vector<double> doubles = {
            0.0, -0.0, 1.0, 230.1, 1e21, 1e-7, 123456789012345678.0, std::numeric_limits<double>::max(),
            std::numeric_limits<double>::denorm_min(), std::nan(""), std::numeric_limits<double>::infinity(),
            -std::numeric_limits<double>::infinity()};
        reading r;
        switch (pick(7)) {
            case 0:
                r.value = modbus::value{pick(2) == 1};
                break;
            case 1:
                r.value = modbus::value{static_cast<std::int64_t>(rng_())};
                break;
            case 2:
                r.value = modbus::value{static_cast<std::uint64_t>(rng_())};
                break;
            case 3:
                r.value = modbus::value{doubles[pick(doubles.size())]};
                break;
            case 4: {
                const auto bits = rng_();
                double d = 0;
                std::memcpy(&d, &bits, sizeof d);
                r.value = modbus::value{pick(2) ? d : static_cast<double>(static_cast<float>(d))};
                break;
            }
            case 5:
                r.value = modbus::value{bytes(24)};
                break;
            default:
                r.error = pick(3) == 0 ? std::error_code()
                                       : make_error_code(static_cast<modbus::modbus_errc>(1 + pick(11)));
                break;
        }
        // system_clock counts nanoseconds in 64 bits: 1678 to 2262. The C
        // library's calendar (the oracle of iso8601_printed) ends in 1901
        // and 2038 where time_t has 32 bits (Debian 12 armhf): there the
        // times stay inside it, and the fixed times of
        // iso8601_is_utc_with_milliseconds (2040, 2106) check the rest.
        std::int64_t ms = pick(8) == 0 ? static_cast<std::int64_t>(pick(18'000'000'000'000ULL)) - 9'000'000'000'000LL
                                        : static_cast<std::int64_t>(pick(5'000'000'000'000ULL)) - 1'000'000'000'000LL;
        if constexpr (sizeof(std::time_t) < 8) {
            constexpr std::int64_t span = 2 * 2'147'483'000'000LL;
            ms = (ms % span + span) % span - span / 2;
        }
        r.time = system_clock::time_point{milliseconds{ms}};
        return r;
    }

    std::vector<std::uint16_t> words() {
        std::vector<std::uint16_t> w(pick(std::size_t{5}));
        for (auto& x : w) x = static_cast<std::uint16_t>(rng_());
        return w;
    }

private:
    std::mt19937_64 rng_;
};

TEST(payload, json_is_the_document_of_its_keys_for_any_reading) {
    reading_generator gen(20261202);
    for (int i = 0; i < 20000; ++i) {
        const auto p = gen.point();
        const auto r = gen.next();
        ASSERT_EQ(json_payload(p, r), payload_as_a_document(p, r)) << "case " << i;
        ASSERT_EQ(iso8601_utc_ms(r.time), iso8601_printed(r.time)) << "case " << i;
        // A finite reading is a number: null says "no number" (NaN, infinity).
        const auto* d = r.value ? std::get_if<double>(&*r.value) : nullptr;
        if (d && std::isfinite(*d)) {
            ASSERT_TRUE(nlohmann::json::parse(json_payload(p, r)).at("value").is_number())
                << "case " << i << ": " << *d << " published as " << json_payload(p, r);
        }
    }
}

TEST(payload, the_largest_doubles_stay_numbers_after_rounding_to_15_digits) {
    // 1.7976931348623157e308 rounds to 1.79769313486232e308, past the largest
    // double: the value as read is kept instead of an infinity (null).
    config::point p;
    p.type = config::data_type::float64;
    for (const double v : {std::numeric_limits<double>::max(), -std::numeric_limits<double>::max()}) {
        const reading r{modbus::value{v}, {}, system_clock::time_point{}};
        const auto j = nlohmann::json::parse(json_payload(p, r));
        ASSERT_TRUE(j.at("value").is_number()) << json_payload(p, r);
        EXPECT_EQ(j.at("value").get<double>(), v);
    }
}

// ---- format: template ----

config::payload_template template_of(std::string_view text) {
    auto parsed = config::parse_payload_template(text);
    if (auto* e = std::get_if<config::template_error>(&parsed)) {
        ADD_FAILURE() << text << ": " << e->message;
        return {};
    }
    return std::get<config::payload_template>(std::move(parsed));
}

TEST(payload, a_json_template_gets_json_values_and_escaped_text_inside_strings) {
    auto p = float_point();
    p.unit = "m\"3";
    const reading good{modbus::value{static_cast<double>(229.01f)}, {}, system_clock::time_point{milliseconds{5}}};
    const std::vector<std::uint16_t> words{17253, 2621};
    const auto t = template_of(
        R"({"v":{{value}},"raw":{{raw}},"q":{{quality}},"e":{{error}},"u":{{unit}},"id":"{{device}}/{{point}}",)"
        R"("ts":{{ts}},"ms":{{ts_ms}},"text":"{{value}} {{unit}}"})");
    EXPECT_EQ(template_payload(t, p, "m\"1", good, words),
              R"({"v":229.01,"raw":[17253,2621],"q":"good","e":null,"u":"m\"3","id":"m\"1/voltage_l1",)"
              R"("ts":"1970-01-01T00:00:00.005Z","ms":5,"text":"229.01 m\"3"})");
    const reading bad{std::nullopt, std::make_error_code(std::errc::timed_out), system_clock::time_point{}};
    const auto j = nlohmann::json::parse(template_payload(t, p, "m1", bad, {}));
    EXPECT_TRUE(j.at("v").is_null());
    EXPECT_EQ(j.at("raw"), nlohmann::json::array());
    EXPECT_EQ(j.at("q"), "bad");
    EXPECT_EQ(j.at("e"), std::make_error_code(std::errc::timed_out).message());
    EXPECT_EQ(j.at("text"), " m\"3") << "a bad value is empty text";
}

TEST(payload, a_text_template_is_filled_in_as_it_stands) {
    auto p = float_point();
    const reading good{modbus::value{std::string("PRO\"3EM")}, {}, system_clock::time_point{milliseconds{1500}}};
    const auto t = template_of("{{device}},{{point}} value={{value}},raw={{raw}} {{ts_ms}}");
    EXPECT_EQ(template_payload(t, p, "m1", good, std::vector<std::uint16_t>{1, 2}),
              "m1,voltage_l1 value=PRO\"3EM,raw=1,2 1500");
    const reading bad{std::nullopt, std::make_error_code(std::errc::timed_out), system_clock::time_point{}};
    EXPECT_EQ(template_payload(template_of("{{quality}}:{{value}}:{{error}}"), p, "m1", bad, {}),
              "bad::" + std::make_error_code(std::errc::timed_out).message());
}

// Random JSON templates: objects and arrays nested a few deep, each value a
// placeholder, a literal, or a string with placeholders and escapes in it.
std::string random_json_template(reading_generator& gen, int depth) {
    static const std::vector<std::string> names = {"value", "raw",    "quality", "error", "unit",
                                                   "point", "device", "ts",      "ts_ms"};
    const auto placeholder = [&] { return "{{" + std::string(gen.pick(2) ? " " : "") + names[gen.pick(names.size())] + "}}"; };
    const auto string = [&] {
        std::string s = "\"";
        for (std::size_t k = gen.pick(std::size_t{4}); k > 0; --k) {
            switch (gen.pick(4)) {
                case 0: s += placeholder(); break;
                case 1: s += "\\\""; break;
                case 2: s += "\\u00e9"; break;
                default: s += "text"; break;
            }
        }
        return s + "\"";
    };
    const auto value = [&](auto& self, int d) -> std::string {
        switch (gen.pick(d > 0 ? 5 : 3)) {
            case 0: return placeholder();
            case 1: return string();
            case 2: return gen.pick(2) ? "1.5" : "null";
            case 3: {
                std::string o = "{";
                for (std::size_t k = gen.pick(std::size_t{4}); k > 0; --k) {
                    o += string() + (gen.pick(2) ? " : " : ":") + self(self, d - 1) + (k > 1 ? "," : "");
                }
                return o + "}";
            }
            default: {
                std::string a = "[";
                for (std::size_t k = gen.pick(std::size_t{4}); k > 0; --k) a += self(self, d - 1) + (k > 1 ? ", " : "");
                return a + "]";
            }
        }
    };
    std::string t = gen.pick(2) ? "{" : "[";
    const bool object = t == "{";
    for (std::size_t k = gen.pick(std::size_t{4}); k > 0; --k) {
        t += object ? string() + ":" + value(value, depth) : value(value, depth);
        if (k > 1) t += ",";
    }
    return t + (object ? "}" : "]");
}

// What the loader accepts as a JSON template is JSON once filled in, for
// any reading: random templates, and the same with one byte changed (which
// the parser must refuse or accept as a whole).
TEST(payload, every_json_template_accepted_makes_json_for_any_reading) {
    reading_generator gen(20261203);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (int i = 0; i < 20000; ++i) {
        auto text = random_json_template(gen, 2);
        if (i % 2 == 1 && !text.empty()) text[gen.pick(text.size())] = "{}[]\":,x\\ "[gen.pick(std::size_t{10})];
        auto parsed = config::parse_payload_template(text);
        if (std::holds_alternative<config::template_error>(parsed)) {
            ++refused;
            continue;
        }
        const auto& t = std::get<config::payload_template>(parsed);
        if (!t.json) continue;
        ++accepted;
        const auto p = gen.point();
        const auto r = gen.next();
        const auto out = template_payload(t, p, gen.bytes(6), r, gen.words());
        ASSERT_TRUE(nlohmann::json::accept(out)) << "case " << i << "\ntemplate: " << text << "\npayload: " << out;
    }
    EXPECT_GT(accepted, 10000u);
    EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace fieldbridge::gateway
