// Which samples of a poll a write let in between its blocks made stale.
#include "drivers/modbus/poll_writes.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace fieldbridge::modbus {
namespace {

config::point point(config::register_kind kind, std::uint16_t address, config::data_type type,
                    std::optional<int> bit = std::nullopt) {
    config::point p;
    p.name = "p" + std::to_string(address);
    p.kind = kind;
    p.address = address;
    p.type = type;
    if (bit) p.bit = static_cast<std::uint8_t>(*bit);
    return p;
}

using k = config::register_kind;
using t = config::data_type;

TEST(poll_writes, a_write_overlaps_the_points_that_read_any_of_its_registers_of_the_same_kind) {
    const auto energy = point(k::holding_register, 10, t::uint32);  // 10..11
    EXPECT_EQ(written_by(energy), (written_registers{k::holding_register, 10, 2}));
    EXPECT_TRUE(overlaps(written_by(energy), point(k::holding_register, 11, t::uint16)));
    EXPECT_TRUE(overlaps(written_by(energy), point(k::holding_register, 9, t::uint32)));  // 9..10
    EXPECT_FALSE(overlaps(written_by(energy), point(k::holding_register, 12, t::uint16)));
    EXPECT_FALSE(overlaps(written_by(energy), point(k::holding_register, 8, t::uint16, 3)));
    EXPECT_FALSE(overlaps(written_by(energy), point(k::input_register, 10, t::uint16)));
    // A bit of a register is written as the whole register.
    const auto flag = point(k::holding_register, 20, t::boolean, 2);
    EXPECT_TRUE(overlaps(written_by(flag), point(k::holding_register, 20, t::uint16)));
    EXPECT_TRUE(overlaps(written_by(flag), point(k::holding_register, 20, t::boolean, 5)));
    const auto coil = point(k::coil, 7, t::boolean);
    EXPECT_TRUE(overlaps(written_by(coil), coil));
    EXPECT_FALSE(overlaps(written_by(coil), point(k::coil, 8, t::boolean)));
    EXPECT_FALSE(overlaps(written_by(coil), point(k::holding_register, 7, t::uint16)));
}

TEST(poll_writes, samples_of_written_points_are_left_out_and_the_others_kept_in_order) {
    const std::vector<config::point> points{point(k::holding_register, 0, t::uint16),
                                            point(k::holding_register, 1, t::uint16), point(k::coil, 1, t::boolean)};
    std::vector<sample> samples{{0, register_words{5}, {}}, {1, register_words{6}, {}}, {2, register_words{1}, {}}};
    auto none = samples;
    EXPECT_EQ(drop_overwritten(none, points, {}), 0u);
    EXPECT_EQ(none.size(), 3u);
    EXPECT_EQ(drop_overwritten(samples, points, {written_by(points[1])}), 1u);
    ASSERT_EQ(samples.size(), 2u);
    EXPECT_EQ(samples[0].point, 0u);
    EXPECT_EQ(samples[1].point, 2u);
}

}  // namespace
}  // namespace fieldbridge::modbus
