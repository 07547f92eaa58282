// Points as Sparkplug metrics: the datatype of each point type, signed
// values in two's complement, and the round trip a host makes — a value
// read from the device, sent as a metric, written back by a DCMD with that
// metric's value — landing on the same registers, for every type over
// random registers.
#include "sparkplug/metric_mapping.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace fieldbridge::sparkplug {
namespace {

config::point point_of(config::data_type t, double scale = 1.0) {
    config::point p;
    p.name = "p";
    p.type = t;
    p.scale = scale;
    if (t == config::data_type::string) p.length = 3;
    if (t == config::data_type::boolean) p.kind = config::register_kind::coil;
    return p;
}

TEST(sparkplug_metrics, each_point_type_has_its_datatype_and_a_scaled_one_is_double) {
    using config::data_type;
    EXPECT_EQ(metric_type(point_of(data_type::boolean)), sparkplug::data_type::boolean);
    EXPECT_EQ(metric_type(point_of(data_type::int16)), sparkplug::data_type::int16);
    EXPECT_EQ(metric_type(point_of(data_type::uint32)), sparkplug::data_type::uint32);
    EXPECT_EQ(metric_type(point_of(data_type::uint64)), sparkplug::data_type::uint64);
    EXPECT_EQ(metric_type(point_of(data_type::float32)), sparkplug::data_type::float32);
    EXPECT_EQ(metric_type(point_of(data_type::string)), sparkplug::data_type::string);
    EXPECT_EQ(metric_type(point_of(data_type::uint16, 0.1)), sparkplug::data_type::float64);
}

TEST(sparkplug_metrics, signed_values_travel_in_twos_complement_and_come_back) {
    EXPECT_EQ(to_wire(data_type::int16, modbus::value{std::int64_t{-5}}), wire_value{std::uint32_t{0xFFFFFFFB}});
    EXPECT_EQ(to_wire(data_type::int64, modbus::value{std::int64_t{-1}}), wire_value{~std::uint64_t{0}});
    EXPECT_EQ(std::get<modbus::value>(from_wire(data_type::int16, std::uint32_t{0xFFFFFFFB})),
              modbus::value{std::int64_t{-5}});
    EXPECT_EQ(std::get<modbus::value>(from_wire(data_type::uint32, std::uint32_t{0xFFFFFFFB})),
              modbus::value{std::uint64_t{0xFFFFFFFB}});
    // A host that does not sign-extend: Int16 -5 as 0x0000FFFB, Int8 -1 as 0xFF.
    EXPECT_EQ(std::get<modbus::value>(from_wire(data_type::int16, std::uint32_t{0x0000FFFB})),
              modbus::value{std::int64_t{-5}});
    EXPECT_EQ(std::get<modbus::value>(from_wire(data_type::int8, std::uint32_t{0xFF})), modbus::value{std::int64_t{-1}});
}

TEST(sparkplug_metrics, a_bad_or_non_finite_value_is_null_and_a_wrong_kind_of_value_is_refused) {
    EXPECT_EQ(to_wire(data_type::float64, std::nullopt), wire_value{null_value{}});
    EXPECT_EQ(to_wire(data_type::float32, modbus::value{std::nan("")}), wire_value{null_value{}});
    EXPECT_TRUE(std::holds_alternative<std::string>(from_wire(data_type::int16, null_value{})));
    EXPECT_TRUE(std::holds_alternative<std::string>(from_wire(data_type::int16, true)));
    EXPECT_TRUE(std::holds_alternative<std::string>(from_wire(data_type::boolean, std::uint32_t{1})));
    EXPECT_TRUE(std::holds_alternative<std::string>(from_wire(data_type::string, 1.0)));
}

TEST(sparkplug_metrics, what_a_host_reads_it_can_write_back_to_the_same_registers) {
    using config::data_type;
    const std::vector<config::point> points = {
        point_of(data_type::boolean), point_of(data_type::int16),   point_of(data_type::uint16),
        point_of(data_type::int32),   point_of(data_type::uint32),  point_of(data_type::int64),
        point_of(data_type::uint64),  point_of(data_type::float32), point_of(data_type::float64),
        point_of(data_type::string),  point_of(data_type::int16, 0.1), point_of(data_type::uint32, 0.01),
    };
    std::mt19937_64 r(20261203);
    std::size_t checked = 0;
    for (int i = 0; i < 20000; ++i) {
        const auto& p = points[static_cast<std::size_t>(r() % points.size())];
        std::vector<std::uint16_t> words(config::register_count(p));
        for (auto& w : words) w = static_cast<std::uint16_t>(r());
        if (p.type == data_type::boolean) words = {static_cast<std::uint16_t>(r() % 2)};
        if (p.type == data_type::string) {
            for (auto& w : words) w = static_cast<std::uint16_t>(0x4141 + r() % 20);  // printable, no padding
        }
        const auto read = modbus::decode(p, words);
        if (!read) continue;  // a NaN or infinity pattern: a bad reading, published as null
        const auto type = metric_type(p);
        const auto wire = to_wire(type, *read);
        ASSERT_FALSE(std::holds_alternative<null_value>(wire)) << "case " << i;
        const auto back = from_wire(type, wire);
        ASSERT_TRUE(std::holds_alternative<modbus::value>(back)) << i << ": " << std::get<std::string>(back);
        const auto written = modbus::encode(p, std::get<modbus::value>(back));
        ASSERT_TRUE(written) << "case " << i << " type " << static_cast<int>(p.type) << ": "
                             << written.error().message();
        EXPECT_EQ(*written, words) << "case " << i << " type " << static_cast<int>(p.type);
        ++checked;
    }
    EXPECT_GT(checked, 15000u);
}

}  // namespace
}  // namespace fieldbridge::sparkplug
