#include "gateway/payload.hpp"

#include <cmath>
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

}  // namespace
}  // namespace fieldbridge::gateway
