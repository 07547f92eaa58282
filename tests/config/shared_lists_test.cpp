// share_equal_point_lists: over random configurations, every device keeps
// its points exactly (every field), and two devices (or a device and a
// profile) share one list exactly when their lists are equal.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "config/shared_lists.hpp"

namespace fieldbridge::config {
namespace {

// Points from a small alphabet, so that lists often come out equal, and
// often differ in one field only.
point random_point(std::mt19937_64& r) {
    point p;
    p.name = std::string(1, static_cast<char>('a' + r() % 2));
    p.address = static_cast<std::uint16_t>(r() % 3);
    p.type = r() % 2 == 0 ? data_type::uint16 : data_type::float32;
    p.scale = r() % 4 == 0 ? 0.1 : 1.0;
    if (r() % 4 == 0) p.unit = "kW";
    if (r() % 6 == 0) p.topic = "own/" + p.name;
    if (r() % 6 == 0) p.qos = quality_of_service::exactly_once;
    if (r() % 8 == 0) p.minimum = 0.0;
    if (r() % 8 == 0) p.simulate = simulation{simulation::waveform::counter, 1.0, 0.0, 1.0, milliseconds{1000}};
    // Where it was written never counts.
    p.mark = source_mark{"file" + std::to_string(r() % 3) + ".yaml", static_cast<int>(r() % 100), 1};
    return p;
}

point_list random_list(std::mt19937_64& r) {
    std::vector<point> points(r() % 3);
    for (auto& p : points) p = random_point(r);
    return point_list(std::move(points));
}

// Every field but the mark.
bool same_points(const std::vector<point>& a, const std::vector<point>& b) { return a == b; }

// Up to 2 profiles and 12 devices of random lists; one device in
// `profile_odds` holds a profile's list already, as the loader makes them.
gateway random_gateway(std::mt19937_64& r, std::uint64_t profile_odds) {
    gateway gw;
    for (std::size_t i = 0, n = r() % 3; i < n; ++i) gw.profiles.push_back(profile{"p" + std::to_string(i), random_list(r), {}});
    for (std::size_t i = 0, n = 1 + r() % 12; i < n; ++i) {
        device d;
        d.name = "d" + std::to_string(i);
        d.points = !gw.profiles.empty() && r() % profile_odds == 0 ? gw.profiles[r() % gw.profiles.size()].points
                                                                    : random_list(r);
        gw.devices.push_back(std::move(d));
    }
    return gw;
}

TEST(shared_lists, equal_lists_are_shared_and_every_list_keeps_its_points) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        auto gw = random_gateway(r, 4);
        std::vector<std::vector<point>> before;
        std::vector<const point_list*> lists;
        for (const auto& p : gw.profiles) before.push_back(p.points.items());
        for (const auto& d : gw.devices) before.push_back(d.points.items());

        share_equal_point_lists(gw);

        for (const auto& p : gw.profiles) lists.push_back(&p.points);
        for (const auto& d : gw.devices) lists.push_back(&d.points);
        for (std::size_t i = 0; i < lists.size(); ++i) {
            ASSERT_TRUE(same_points(lists[i]->items(), before[i])) << "seed " << seed << ": list " << i << " changed";
            for (std::size_t j = 0; j < i; ++j) {
                const bool equal = same_points(before[i], before[j]) && !before[i].empty();
                ASSERT_EQ(lists[i]->shares_with(*lists[j]), equal)
                    << "seed " << seed << ": lists " << j << " and " << i << (equal ? " are equal, not shared" : " differ, shared");
            }
        }
    }
}

// Lists that agree in all but one field of one point: each kind of
// difference, thousands of lists. The comparisons made grow with the lists,
// not with their square (they were all compared with each other when only
// the name, address, kind and type were hashed: 12.5 million comparisons
// of 5 000 lists).
TEST(shared_lists, lists_that_differ_in_one_field_cost_a_bounded_number_of_comparisons) {
    const std::vector<std::function<void(point&, std::size_t)>> differences = {
        [](point& p, std::size_t i) { p.scale = 1.0 + static_cast<double>(i); },
        [](point& p, std::size_t i) { p.offset = static_cast<double>(i); },
        [](point& p, std::size_t i) { p.topic = "t/" + std::to_string(i); },
        [](point& p, std::size_t i) { p.unit = "u" + std::to_string(i); },
        [](point& p, std::size_t i) { p.deadband = static_cast<double>(i); },
        [](point& p, std::size_t i) { p.maximum = static_cast<double>(i); },
        [](point& p, std::size_t i) {
            p.simulate = simulation{simulation::waveform::counter, static_cast<double>(i), 0.0, 1.0, milliseconds{1000}};
        },
    };
    constexpr std::size_t lists = 5'000;
    for (std::size_t k = 0; k < differences.size(); ++k) {
        gateway gw;
        for (std::size_t i = 0; i < lists; ++i) {
            std::vector<point> points(3);
            for (std::size_t j = 0; j < points.size(); ++j) {
                points[j].name = "p" + std::to_string(j);
                points[j].address = static_cast<std::uint16_t>(j);
            }
            differences[k](points.back(), i);
            device d;
            d.name = "d" + std::to_string(i);
            d.points = point_list(std::move(points));
            gw.devices.push_back(std::move(d));
        }
        // Every field is hashed: no two of these lists are compared.
        EXPECT_EQ(share_equal_point_lists(gw), 0u) << "difference " << k;
        for (std::size_t i = 1; i < lists; ++i) {
            ASSERT_FALSE(gw.devices[i].points.shares_with(gw.devices[i - 1].points)) << "difference " << k;
        }
    }
}

// Lists that hash alike and still differ (a scale that is not a number
// equals nothing, itself included): each is compared with a bounded number
// of others, not with every list before it.
TEST(shared_lists, lists_that_hash_alike_but_differ_are_compared_a_bounded_number_of_times) {
    constexpr std::size_t lists = 5'000;
    gateway gw;
    for (std::size_t i = 0; i < lists; ++i) {
        std::vector<point> points(1);
        points[0].name = "p";
        points[0].scale = std::numeric_limits<double>::quiet_NaN();
        device d;
        d.name = "d" + std::to_string(i);
        d.points = point_list(std::move(points));
        gw.devices.push_back(std::move(d));
    }
    EXPECT_LE(share_equal_point_lists(gw), max_lists_per_hash * lists);
}

TEST(shared_lists, a_compact_copy_holds_the_same_points_shared_the_same_way_in_lists_of_its_own) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        auto gw = random_gateway(r, 3);
        if (r() % 2 == 0) share_equal_point_lists(gw);
        const auto copy = compact_copy(gw);
        ASSERT_EQ(copy.devices.size(), gw.devices.size());
        for (std::size_t i = 0; i < gw.devices.size(); ++i) ASSERT_EQ(copy.devices[i].name, gw.devices[i].name);
        std::vector<const point_list*> from, to;
        for (const auto& p : gw.profiles) from.push_back(&p.points);
        for (const auto& d : gw.devices) from.push_back(&d.points);
        for (const auto& p : copy.profiles) to.push_back(&p.points);
        for (const auto& d : copy.devices) to.push_back(&d.points);
        ASSERT_EQ(from.size(), to.size());
        for (std::size_t i = 0; i < to.size(); ++i) {
            ASSERT_TRUE(same_points(to[i]->items(), from[i]->items())) << "seed " << seed << ": list " << i;
            for (std::size_t j = 0; j < to.size(); ++j) {
                ASSERT_FALSE(to[i]->shares_with(*from[j])) << "seed " << seed << ": the copy shares with the original";
                if (j < i) {
                    ASSERT_EQ(to[i]->shares_with(*to[j]), from[i]->shares_with(*from[j])) << "seed " << seed << ": lists " << j << ", " << i;
                }
            }
        }
    }
}

TEST(shared_lists, devices_that_list_the_same_points_share_them_after_loading) {
    const auto g = load_string(R"(
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: power, register: holding, address: 0, type: float32, unit: kW }
      - { name: energy, register: holding, address: 2, type: uint32 }
  m2:
    bus: line
    unit_id: 2
    points:
      - { name: power, register: holding, address: 0, type: float32, unit: kW }
      - { name: energy, register: holding, address: 2, type: uint32 }
  m3:
    bus: line
    unit_id: 3
    points:
      - { name: power, register: holding, address: 0, type: float32, unit: W }
      - { name: energy, register: holding, address: 2, type: uint32 }
)",
                               "plant.yaml");
    ASSERT_EQ(g.devices.size(), 3u);
    EXPECT_TRUE(g.devices[1].points.shares_with(g.devices[0].points));
    EXPECT_FALSE(g.devices[2].points.shares_with(g.devices[0].points));
    EXPECT_EQ(g.devices[2].points[0].unit, "W");
}

}  // namespace
}  // namespace fieldbridge::config
