#include "gateway/point_filter.hpp"

#include <cmath>
#include <gtest/gtest.h>

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;
using clock = point_filter::clock;

const clock::time_point t0{};

TEST(point_filter, first_reading_is_published) {
    point_filter f(0.0, 0ms);
    EXPECT_TRUE(f.offer(modbus::value{1.0}, t0));
}

TEST(point_filter, unchanged_value_is_not_published_again) {
    point_filter f(0.0, 0ms);
    ASSERT_TRUE(f.offer(modbus::value{std::int64_t{7}}, t0));
    EXPECT_FALSE(f.offer(modbus::value{std::int64_t{7}}, t0 + 1s));
    EXPECT_TRUE(f.offer(modbus::value{std::int64_t{8}}, t0 + 2s));
}

TEST(point_filter, deadband_measures_from_the_last_published_value) {
    point_filter f(0.5, 0ms);
    ASSERT_TRUE(f.offer(modbus::value{230.0}, t0));
    EXPECT_FALSE(f.offer(modbus::value{230.3}, t0 + 1s));
    // Creeping by 0.3 twice crosses the band against 230.0, not 230.3.
    EXPECT_TRUE(f.offer(modbus::value{230.6}, t0 + 2s));
    EXPECT_FALSE(f.offer(modbus::value{230.2}, t0 + 3s));
    EXPECT_TRUE(f.offer(modbus::value{230.0}, t0 + 4s));
}

TEST(point_filter, heartbeat_republishes_an_unchanged_value) {
    point_filter f(0.0, 10s);
    ASSERT_TRUE(f.offer(modbus::value{true}, t0));
    EXPECT_FALSE(f.offer(modbus::value{true}, t0 + 9s));
    EXPECT_TRUE(f.offer(modbus::value{true}, t0 + 10s));
    EXPECT_FALSE(f.offer(modbus::value{true}, t0 + 19s));
    EXPECT_TRUE(f.offer(modbus::value{true}, t0 + 20s));
}

TEST(point_filter, quality_change_is_published_both_ways) {
    point_filter f(100.0, 0ms);
    ASSERT_TRUE(f.offer(modbus::value{1.0}, t0));
    EXPECT_TRUE(f.offer(std::nullopt, t0 + 1s));
    EXPECT_FALSE(f.offer(std::nullopt, t0 + 2s));
    EXPECT_TRUE(f.offer(modbus::value{1.0}, t0 + 3s));
}

TEST(point_filter, nan_is_a_value_like_any_other) {
    point_filter f(0.0, 0ms);
    ASSERT_TRUE(f.offer(modbus::value{std::nan("")}, t0));
    EXPECT_FALSE(f.offer(modbus::value{std::nan("")}, t0 + 1s));
    EXPECT_TRUE(f.offer(modbus::value{1.0}, t0 + 2s));
}

TEST(point_filter, string_change_is_published) {
    point_filter f(1.0, 0ms);
    ASSERT_TRUE(f.offer(modbus::value{std::string("A")}, t0));
    EXPECT_FALSE(f.offer(modbus::value{std::string("A")}, t0 + 1s));
    EXPECT_TRUE(f.offer(modbus::value{std::string("B")}, t0 + 2s));
}

}  // namespace
}  // namespace fieldbridge::gateway
