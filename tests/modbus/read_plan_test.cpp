// read_plan against plans computed by hand.
#include "drivers/modbus/read_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace fieldbridge::modbus {
namespace {

using config::data_type;
using config::register_kind;

config::point at(register_kind kind, std::uint16_t address, data_type type = data_type::uint16) {
    config::point p;
    p.kind = kind;
    p.address = address;
    p.type = kind == register_kind::coil || kind == register_kind::discrete_input ? data_type::boolean : type;
    return p;
}
config::point holding(std::uint16_t address, data_type type = data_type::uint16) {
    return at(register_kind::holding_register, address, type);
}

struct expected {
    register_kind kind;
    std::uint16_t start;
    std::uint16_t count;
    std::vector<std::size_t> points;
};

void expect_plan(const std::vector<read_request>& plan, const std::vector<expected>& want) {
    ASSERT_EQ(plan.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(plan[i].kind, want[i].kind) << "request " << i;
        EXPECT_EQ(plan[i].start, want[i].start) << "request " << i;
        EXPECT_EQ(plan[i].count, want[i].count) << "request " << i;
        EXPECT_EQ(plan[i].points, want[i].points) << "request " << i;
    }
}

constexpr auto H = register_kind::holding_register;
constexpr auto I = register_kind::input_register;
constexpr auto C = register_kind::coil;
constexpr auto D = register_kind::discrete_input;

TEST(read_plan, empty_device_reads_nothing) { EXPECT_TRUE(plan_reads({}, {}).empty()); }

TEST(read_plan, contiguous_points_become_one_read) {
    // 0: uint16@0, 1: float32@1..2, 2: uint64@3..6
    expect_plan(plan_reads({holding(0), holding(1, data_type::float32), holding(3, data_type::uint64)}, {}),
                {{H, 0, 7, {0, 1, 2}}});
}

TEST(read_plan, gaps_up_to_max_gap_are_bridged_larger_ones_split) {
    const std::vector<config::point> points{holding(100), holding(111), holding(123)};
    // 100 -> 111: gap of 10 registers (101..110) bridged; 111 -> 123: gap 11 split.
    expect_plan(plan_reads(points, {.max_gap = 10}), {{H, 100, 12, {0, 1}}, {H, 123, 1, {2}}});
    expect_plan(plan_reads(points, {.max_gap = 0}), {{H, 100, 1, {0}}, {H, 111, 1, {1}}, {H, 123, 1, {2}}});
    expect_plan(plan_reads(points, {.max_gap = 11}), {{H, 100, 24, {0, 1, 2}}});
}

TEST(read_plan, points_are_sorted_by_address_and_grouped_by_function_code) {
    const std::vector<config::point> points{holding(20), at(I, 5), at(C, 7), holding(10), at(D, 0), at(C, 3)};
    expect_plan(plan_reads(points, {}),
                {{C, 3, 5, {5, 2}}, {D, 0, 1, {4}}, {H, 10, 11, {3, 0}}, {I, 5, 1, {1}}});
}

TEST(read_plan, bits_of_one_register_and_overlapping_points_share_the_read) {
    auto b0 = holding(40, data_type::boolean);
    b0.bit = 0;
    auto b15 = holding(40, data_type::boolean);
    b15.bit = 15;
    const auto whole = holding(40);
    const auto wide = holding(39, data_type::uint32);  // 39..40 overlaps the others
    expect_plan(plan_reads({b0, b15, whole}, {}), {{H, 40, 1, {0, 1, 2}}});
    expect_plan(plan_reads({b0, wide}, {.max_gap = 0, .max_registers = 2}), {{H, 39, 2, {1, 0}}});
}

TEST(read_plan, without_merging_every_point_is_read_alone_but_bits_of_one_register_share) {
    auto b0 = holding(40, data_type::boolean);
    b0.bit = 0;
    auto b1 = holding(40, data_type::boolean);
    b1.bit = 1;
    const std::vector<config::point> points{holding(0), holding(1, data_type::float32), b0, b1, at(C, 3), at(C, 4)};
    expect_plan(plan_reads(points, {.merge = false}),
                {{C, 3, 1, {4}}, {C, 4, 1, {5}}, {H, 0, 1, {0}}, {H, 1, 2, {1}}, {H, 40, 1, {2, 3}}});
}

TEST(read_plan, never_exceeds_max_registers) {
    std::vector<config::point> points;
    for (std::uint16_t a = 0; a < 300; ++a) points.push_back(holding(a));
    const auto plan = plan_reads(points, {});
    ASSERT_EQ(plan.size(), 3u);
    EXPECT_EQ(plan[0].start, 0);
    EXPECT_EQ(plan[0].count, 125);
    EXPECT_EQ(plan[1].start, 125);
    EXPECT_EQ(plan[1].count, 125);
    EXPECT_EQ(plan[2].start, 250);
    EXPECT_EQ(plan[2].count, 50);

    // A limit above the protocol maximum is clamped to 125.
    const auto clamped = plan_reads(points, {.max_registers = 500});
    ASSERT_EQ(clamped.size(), 3u);
    EXPECT_EQ(clamped[0].count, 125);
}

TEST(read_plan, a_multi_register_point_is_never_split_across_a_limit) {
    // 0: uint16@0, 1: float32@1..2 with a limit of 2: {0} then {1..2}.
    expect_plan(plan_reads({holding(0), holding(1, data_type::float32)}, {.max_registers = 2}),
                {{H, 0, 1, {0}}, {H, 1, 2, {1}}});
}

TEST(read_plan, limit_one_reads_every_register_alone) {
    // Devices that answer one register per request.
    const std::vector<config::point> points{holding(1), holding(2), holding(3)};
    expect_plan(plan_reads(points, {.max_registers = 1}), {{H, 1, 1, {0}}, {H, 2, 1, {1}}, {H, 3, 1, {2}}});
    expect_plan(plan_reads(points, {.max_registers = 0}), {{H, 1, 1, {0}}, {H, 2, 1, {1}}, {H, 3, 1, {2}}});
    // A float32 still needs two registers: it goes alone, at its own size.
    expect_plan(plan_reads({holding(0, data_type::float32)}, {.max_registers = 1}), {{H, 0, 2, {0}}});
}

TEST(read_plan, coils_respect_max_bits) {
    std::vector<config::point> points;
    for (std::uint16_t a = 0; a < 10; ++a) points.push_back(at(C, a));
    expect_plan(plan_reads(points, {.max_bits = 4}), {{C, 0, 4, {0, 1, 2, 3}}, {C, 4, 4, {4, 5, 6, 7}}, {C, 8, 2, {8, 9}}});
    std::vector<config::point> many;
    for (std::uint32_t a = 0; a < 4100; a += 2) many.push_back(at(D, static_cast<std::uint16_t>(a)));
    const auto plan = plan_reads(many, {});
    ASSERT_EQ(plan.size(), 3u);
    EXPECT_EQ(plan[0].count, 1999);  // 0..1998: the next point at 2000 would make 2001 bits
    EXPECT_EQ(plan[1].start, 2000);
}

// bit_alignment: a bit request starts at the multiple at or below its first
// point (the bits between are read and left unused), within max_bits; the
// registers are not touched.
TEST(read_plan, bit_reads_start_at_the_alignment_below_their_first_point) {
    const std::vector<config::point> points{at(C, 3), at(C, 5), at(D, 17), at(D, 40), holding(3)};
    expect_plan(plan_reads(points, {.bit_alignment = 8}),
                {{C, 0, 6, {0, 1}}, {D, 16, 2, {2}}, {D, 40, 1, {3}}, {H, 3, 1, {4}}});
    expect_plan(plan_reads(points, {.bit_alignment = 1}),
                {{C, 3, 3, {0, 1}}, {D, 17, 1, {2}}, {D, 40, 1, {3}}, {H, 3, 1, {4}}});
    // The rounded start counts against max_bits: 3..10 fits 8 bits, 0..10 does not.
    expect_plan(plan_reads({at(C, 3), at(C, 10)}, {.max_bits = 11, .bit_alignment = 8}), {{C, 0, 11, {0, 1}}});
    expect_plan(plan_reads({at(C, 3), at(C, 10)}, {.max_bits = 10, .bit_alignment = 8}),
                {{C, 0, 4, {0}}, {C, 8, 3, {1}}});
    // A lone point that cannot be read from the rounded start within max_bits is read at its own,
    // and such points are not merged with others from an unaligned start.
    expect_plan(plan_reads({at(C, 7)}, {.max_bits = 4, .bit_alignment = 8}), {{C, 7, 1, {0}}});
    expect_plan(plan_reads({at(C, 5), at(C, 6)}, {.max_bits = 4, .bit_alignment = 8}),
                {{C, 5, 1, {0}}, {C, 6, 1, {1}}});
    // Every plan over random points: aligned starts (or the lone-point
    // exception), within max_bits, every point inside its request.
    std::mt19937 rng(7);
    const auto next = [&] { return static_cast<std::uint32_t>(rng() & 0xFFFFu); };
    for (int round = 0; round < 500; ++round) {
        std::vector<config::point> random;
        for (int i = 0; i < 1 + round % 20; ++i) random.push_back(at(round % 2 ? C : D, static_cast<std::uint16_t>(next() % 300)));
        const plan_limits limits{static_cast<std::uint16_t>(next() % 12), 125, static_cast<std::uint16_t>(1 + next() % 40),
                                 round % 3 != 0, static_cast<std::uint16_t>(1 + next() % 16)};
        for (const auto& r : plan_reads(random, limits)) {
            EXPECT_LE(r.count, limits.max_bits) << round;
            // Aligned, or every point of it at its start (a lone point read at its address).
            const bool aligned = r.start % limits.bit_alignment == 0;
            EXPECT_TRUE(aligned || std::all_of(r.points.begin(), r.points.end(), [&](std::size_t i) {
                            return random[i].address == r.start;
                        })) << round;
            for (const auto i : r.points) {
                EXPECT_GE(random[i].address, r.start) << round;
                EXPECT_LT(random[i].address, r.start + r.count) << round;
            }
        }
    }
}

TEST(read_plan, address_65535_edges) {
    // The last register is readable; a uint32 at 65535 would need 65536 and is left out.
    expect_plan(plan_reads({holding(65535), holding(65530)}, {}), {{H, 65530, 6, {1, 0}}});
    expect_plan(plan_reads({holding(65535, data_type::uint32), holding(65534, data_type::uint32)}, {}),
                {{H, 65534, 2, {1}}});
    expect_plan(plan_reads({at(C, 65535), at(C, 0)}, {.max_gap = 65535}), {{C, 0, 1, {1}}, {C, 65535, 1, {0}}});
}

TEST(read_plan, strings_longer_than_one_request_are_left_out) {
    auto s = holding(0, data_type::string);
    s.length = 126;
    auto ok = holding(200, data_type::string);
    ok.length = 125;
    expect_plan(plan_reads({s, ok}, {}), {{H, 200, 125, {1}}});
}

TEST(split_request, a_refused_block_becomes_its_gap_free_runs_then_single_points) {
    std::vector<config::point> pts(4);
    pts[0].kind = pts[1].kind = pts[2].kind = pts[3].kind = config::register_kind::holding_register;
    pts[0].address = 0;
    pts[1].address = 1;
    pts[2].address = 8;
    pts[2].type = config::data_type::uint32;
    pts[3].address = 20;
    const read_request block{config::register_kind::holding_register, 0, 21, {0, 1, 2, 3}};
    const auto runs = split_request(block, pts);
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[0].start, 0);
    EXPECT_EQ(runs[0].count, 2);
    EXPECT_EQ(runs[0].points, (std::vector<std::size_t>{0, 1}));
    EXPECT_EQ(runs[1].start, 8);
    EXPECT_EQ(runs[1].count, 2);
    EXPECT_EQ(runs[1].points, (std::vector<std::size_t>{2}));
    EXPECT_EQ(runs[2].start, 20);
    // A gap-free block splits into its points; a single point cannot split.
    const auto single = split_request(runs[0], pts);
    ASSERT_EQ(single.size(), 2u);
    EXPECT_EQ(single[1].start, 1);
    EXPECT_EQ(single[1].count, 1);
    EXPECT_TRUE(split_request(single[1], pts).empty());
}

TEST(split_request, aligned_bit_reads_split_into_aligned_parts_then_each_point_at_its_address) {
    const std::vector<config::point> pts{at(C, 3), at(C, 5), at(C, 20)};
    const plan_limits aligned{.bit_alignment = 8};
    const read_request block{C, 0, 21, {0, 1, 2}};
    const auto runs = split_request(block, pts, aligned);
    expect_plan(runs, {{C, 0, 4, {0}}, {C, 0, 6, {1}}, {C, 16, 5, {2}}});
    // A lone point refused from its aligned start (the device lacks a bit
    // below it) is read at its own address, and that is not split again.
    ASSERT_EQ(runs.size(), 3u);
    const auto own = split_request(runs[1], pts, aligned);
    expect_plan(own, {{C, 5, 1, {1}}});
    ASSERT_EQ(own.size(), 1u);
    EXPECT_TRUE(split_request(own[0], pts, aligned).empty());
    // A device without coils 0..2: the refusals end with every point read
    // at its own address, within max_bits all the way.
    const std::vector<config::point> three{at(C, 3), at(C, 4), at(C, 5)};
    const plan_limits narrow{.max_bits = 6, .bit_alignment = 8};
    auto plan = plan_reads(three, narrow);
    expect_plan(plan, {{C, 0, 6, {0, 1, 2}}});
    std::vector<refused_read> refused;
    for (int round = 0; round < 5; ++round) {
        for (const auto& r : plan) {
            if (r.start < 3) refused.push_back({r.kind, r.start, r.count});  // touches coils 0..2
        }
        plan = plan_reads(three, narrow);
        apply_refusals(plan, refused, three, narrow);
        for (const auto& r : plan) EXPECT_LE(r.count, 6) << round;
    }
    expect_plan(plan, {{C, 3, 1, {0}}, {C, 4, 1, {1}}, {C, 5, 1, {2}}});
}

TEST(apply_refusals, reads_refused_by_an_earlier_run_are_planned_in_parts_at_once) {
    // 0,1 | 8..9 | 20 bridged into one block at max_gap 11; an input register elsewhere.
    const std::vector<config::point> pts{holding(0), holding(1), holding(8, data_type::uint32), holding(20),
                                         at(I, 5)};
    const auto merged = plan_reads(pts, {.max_gap = 11});
    expect_plan(merged, {{H, 0, 21, {0, 1, 2, 3}}, {I, 5, 1, {4}}});

    auto plan = merged;
    apply_refusals(plan, {}, pts);  // nothing remembered: the plan stays
    expect_plan(plan, {{H, 0, 21, {0, 1, 2, 3}}, {I, 5, 1, {4}}});

    // The block was refused, and so was its first run (0..1): both are split
    // from the first poll; the same start and count of another kind is not.
    plan = merged;
    apply_refusals(plan, {{H, 0, 21}, {H, 0, 2}, {I, 0, 21}}, pts);
    expect_plan(plan, {{H, 0, 1, {0}}, {H, 1, 1, {1}}, {H, 8, 2, {2}}, {H, 20, 1, {3}}, {I, 5, 1, {4}}});

    // A refusal that matches no request (the point map changed since) is ignored.
    plan = merged;
    apply_refusals(plan, {{H, 0, 22}, {H, 3, 21}}, pts);
    expect_plan(plan, {{H, 0, 21, {0, 1, 2, 3}}, {I, 5, 1, {4}}});
}

TEST(apply_refusals, ends_when_the_parts_match_the_refusal_too) {
    // Two bits of one register: their parts read the same register, one point each.
    auto bit = [](std::uint8_t b) {
        auto p = holding(7, data_type::boolean);
        p.bit = b;
        return p;
    };
    const std::vector<config::point> pts{bit(0), bit(3)};
    auto plan = plan_reads(pts, {});
    expect_plan(plan, {{H, 7, 1, {0, 1}}});
    apply_refusals(plan, {{H, 7, 1}}, pts);
    expect_plan(plan, {{H, 7, 1, {0, 1}}});
}

TEST(split_request, points_on_one_register_share_their_part_and_the_same_read_twice_is_never_planned) {
    auto bit = [](std::uint16_t address, std::uint8_t b) {
        auto p = holding(address, data_type::boolean);
        p.bit = b;
        return p;
    };
    // A gap-free block: register 6, two bits of register 7, register 8.
    const std::vector<config::point> pts{holding(6), bit(7, 0), bit(7, 3), holding(8)};
    const read_request block{H, 6, 3, {0, 1, 2, 3}};
    expect_plan(split_request(block, pts), {{H, 6, 1, {0}}, {H, 7, 1, {1, 2}}, {H, 8, 1, {3}}});
    // The bits' part refused too: both bits lie on it, nothing smaller to try.
    EXPECT_TRUE(split_request({H, 7, 1, {1, 2}}, pts).empty());
}

TEST(apply_refusals, never_plans_the_same_read_twice_over_random_point_maps_and_refusals) {
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        std::vector<config::point> pts;
        const auto n = 1 + rng() % 8;
        for (std::size_t i = 0; i < n; ++i) {
            auto p = holding(static_cast<std::uint16_t>(rng() % 12), rng() % 3 == 0 ? data_type::boolean
                                                                                     : data_type::uint16);
            if (p.type == data_type::boolean) p.bit = static_cast<std::uint8_t>(rng() % 16);
            pts.push_back(p);
        }
        std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
        const plan_limits limits{.max_gap = static_cast<std::uint16_t>(rng() % 4)};
        std::vector<refused_read> refused;
        auto plan = plan_reads(pts, limits);
        for (int step = 0; step < 6; ++step) {
            // The device refuses some of what is asked, as a device lacking registers would.
            for (const auto& r : plan) {
                if (rng() % 2 == 0) refused.push_back({r.kind, r.start, r.count});
            }
            plan = plan_reads(pts, limits);
            apply_refusals(plan, refused, pts, limits);
            std::vector<std::size_t> seen;
            for (std::size_t a = 0; a < plan.size(); ++a) {
                for (std::size_t b = a + 1; b < plan.size(); ++b) {
                    ASSERT_FALSE(plan[a].kind == plan[b].kind && plan[a].start == plan[b].start &&
                                 plan[a].count == plan[b].count)
                        << "round " << round << " step " << step << ": read " << plan[a].start << "+"
                        << plan[a].count << " twice";
                }
                seen.insert(seen.end(), plan[a].points.begin(), plan[a].points.end());
            }
            std::sort(seen.begin(), seen.end());
            std::vector<std::size_t> all(pts.size());
            for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
            ASSERT_EQ(seen, all) << "round " << round << " step " << step << ": every point read exactly once";
        }
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
