// stored_value keeps every kind of modbus::value and gives it back as it
// was; copies of a string are deep, moves leave the source unset.
#include "gateway/stored_value.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace fieldbridge::gateway {
namespace {

TEST(stored_value, gives_back_every_kind_of_value_as_it_was) {
    const std::vector<modbus::value> values = {
        modbus::value{true},
        modbus::value{false},
        modbus::value{std::numeric_limits<std::int64_t>::min()},
        modbus::value{std::numeric_limits<std::uint64_t>::max()},
        modbus::value{-230.125},
        modbus::value{std::string("PRO3EM serial 0042")},
        modbus::value{std::string()},
    };
    for (const auto& v : values) {
        const stored_value s{std::optional<modbus::value>(v)};
        EXPECT_TRUE(s.is_set());
        EXPECT_FALSE(s.is_bad());
        ASSERT_TRUE(s.get().has_value());
        EXPECT_EQ(*s.get(), v);
        EXPECT_EQ(s, stored_value{std::optional<modbus::value>(v)});
    }
}

TEST(stored_value, unset_and_bad_are_no_value_and_differ) {
    const stored_value unset;
    const stored_value bad{std::optional<modbus::value>()};
    EXPECT_FALSE(unset.is_set());
    EXPECT_TRUE(bad.is_set());
    EXPECT_TRUE(bad.is_bad());
    EXPECT_FALSE(unset.get().has_value());
    EXPECT_FALSE(bad.get().has_value());
    EXPECT_FALSE(unset == bad);
}

TEST(stored_value, kinds_do_not_compare_equal_across_types) {
    const stored_value i{std::optional<modbus::value>(modbus::value{std::int64_t{1}})};
    const stored_value u{std::optional<modbus::value>(modbus::value{std::uint64_t{1}})};
    const stored_value d{std::optional<modbus::value>(modbus::value{1.0})};
    const stored_value b{std::optional<modbus::value>(modbus::value{true})};
    EXPECT_FALSE(i == u);
    EXPECT_FALSE(i == d);
    EXPECT_FALSE(d == b);
    EXPECT_EQ(i.number(), 1.0);
    EXPECT_EQ(u.number(), 1.0);
    EXPECT_EQ(d.number(), 1.0);
    EXPECT_FALSE(b.number().has_value());
    const stored_value nan{std::optional<modbus::value>(modbus::value{std::nan("")})};
    EXPECT_FALSE(nan == nan);
}

TEST(stored_value, a_copy_of_a_string_is_its_own_and_a_move_leaves_the_source_unset) {
    stored_value a{std::optional<modbus::value>(modbus::value{std::string("first")})};
    stored_value copy = a;
    a = stored_value{std::optional<modbus::value>(modbus::value{std::string("second")})};
    EXPECT_EQ(*copy.get(), modbus::value{std::string("first")});
    EXPECT_EQ(*a.get(), modbus::value{std::string("second")});

    stored_value moved = std::move(a);
    EXPECT_EQ(*moved.get(), modbus::value{std::string("second")});
    EXPECT_FALSE(a.is_set());  // NOLINT(bugprone-use-after-move): the moved-from state is what is checked

    copy = moved;  // a string over a string
    EXPECT_EQ(copy, moved);
    copy = stored_value{std::optional<modbus::value>(modbus::value{2.5})};  // a number over a string
    EXPECT_EQ(*copy.get(), modbus::value{2.5});
    auto& self = copy;
    copy = self;
    EXPECT_EQ(*copy.get(), modbus::value{2.5});
}

}  // namespace
}  // namespace fieldbridge::gateway
