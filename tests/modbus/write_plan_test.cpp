// write_plan: the function code chosen for every register kind and data
// type under each device setting, and the requests built for a value.
#include "drivers/modbus/write_plan.hpp"

#include <gtest/gtest.h>

#include <array>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

using config::data_type;
using config::register_kind;
using fc = function_code;

constexpr std::array all_kinds{register_kind::coil, register_kind::discrete_input, register_kind::holding_register,
                               register_kind::input_register};
constexpr std::array register_types{data_type::int16,  data_type::uint16,  data_type::int32,
                                    data_type::uint32, data_type::int64,   data_type::uint64,
                                    data_type::float32, data_type::float64, data_type::string};

config::device device(config::write_function f = config::write_function::automatic, bool mask_write = false) {
    config::device d;
    d.unit_id = 4;
    d.write_function = f;
    d.mask_write = mask_write;
    return d;
}

config::point point(register_kind kind, data_type type, std::uint16_t length = 1) {
    config::point p;
    p.kind = kind;
    p.address = 100;
    p.type = type;
    if (type == data_type::string) p.length = length;
    return p;
}

config::point bit_of_register(std::uint8_t bit) {
    auto p = point(register_kind::holding_register, data_type::boolean);
    p.bit = bit;
    return p;
}

// The expected method, written out case by case.
write_method expected(register_kind kind, data_type type, std::uint16_t length, bool bit, config::write_function f,
                      bool mask_write) {
    const bool fc16_only = f == config::write_function::fc16;
    if (kind == register_kind::coil) return {false, fc16_only ? fc::write_multiple_coils : fc::write_single_coil};
    if (bit) return mask_write ? write_method{false, fc::mask_write_register} : write_method{true, fc16_only ? fc::write_multiple_registers : fc::write_single_register};
    const bool one_register = type == data_type::int16 || type == data_type::uint16 || type == data_type::boolean ||
                              (type == data_type::string && length == 1);
    return {false, one_register && !fc16_only ? fc::write_single_register : fc::write_multiple_registers};
}

TEST(write_method_for, every_kind_and_type_under_every_write_setting) {
    int cases = 0;
    for (const auto f : {config::write_function::automatic, config::write_function::fc16}) {
        for (const bool mask_write : {false, true}) {
            const auto d = device(f, mask_write);
            for (const auto kind : all_kinds) {
                std::vector<config::point> points;
                if (kind == register_kind::coil || kind == register_kind::discrete_input) {
                    points.push_back(point(kind, data_type::boolean));
                } else {
                    for (const auto type : register_types) points.push_back(point(kind, type, 1));
                    points.push_back(point(kind, data_type::string, 4));
                    points.push_back(point(kind, data_type::boolean));  // a register holding 0 or 1
                    if (kind == register_kind::holding_register) points.push_back(bit_of_register(3));
                }
                for (const auto& p : points) {
                    ++cases;
                    const auto got = write_method_for(d, p);
                    const auto what = ::testing::Message() << "kind " << static_cast<int>(kind) << " type "
                                                           << static_cast<int>(p.type) << " length " << p.length
                                                           << " bit " << p.bit.has_value() << " fc16 "
                                                           << (f == config::write_function::fc16) << " mask_write "
                                                           << mask_write;
                    if (kind == register_kind::discrete_input || kind == register_kind::input_register) {
                        ASSERT_FALSE(got) << what;
                        EXPECT_EQ(got.error(), make_error_code(modbus_errc::illegal_function)) << what;
                        continue;
                    }
                    ASSERT_TRUE(got) << what;
                    EXPECT_EQ(*got, expected(kind, p.type, p.length, p.bit.has_value(), f, mask_write)) << what;
                }
            }
        }
    }
    EXPECT_EQ(cases, 2 * 2 * (1 + 1 + 12 + 11));
}

TEST(write_request, a_coil_is_one_bit_by_fc5_or_fc15) {
    const auto p = point(register_kind::coil, data_type::boolean);
    const auto single = write_request(device(), p, value{true});
    ASSERT_TRUE(single);
    EXPECT_EQ(single->function, fc::write_single_coil);
    EXPECT_EQ(single->unit, 4);
    EXPECT_EQ(single->address, 100);
    EXPECT_EQ(single->count, 1);
    EXPECT_EQ(single->values, std::vector<std::uint16_t>{1});
    const auto multiple = write_request(device(config::write_function::fc16), p, value{false});
    ASSERT_TRUE(multiple);
    EXPECT_EQ(multiple->function, fc::write_multiple_coils);
    EXPECT_EQ(multiple->values, std::vector<std::uint16_t>{0});
}

TEST(write_request, registers_carry_the_encoded_value_in_its_word_order) {
    auto p = point(register_kind::holding_register, data_type::uint32);
    p.order = config::word_order::cdab;
    const auto r = write_request(device(), p, value{std::uint64_t{0x12345678}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->function, fc::write_multiple_registers);
    EXPECT_EQ(r->count, 2);
    EXPECT_EQ(r->values, (std::vector<std::uint16_t>{0x5678, 0x1234}));

    const auto one = write_request(device(), point(register_kind::holding_register, data_type::int16), value{std::int64_t{-2}});
    ASSERT_TRUE(one);
    EXPECT_EQ(one->function, fc::write_single_register);
    EXPECT_EQ(one->values, std::vector<std::uint16_t>{0xFFFE});
}

TEST(write_request, a_bit_is_read_modify_written_keeping_the_other_bits) {
    const auto p = bit_of_register(3);
    const auto set = write_request(device(), p, value{true}, 0b1000'0001);
    ASSERT_TRUE(set);
    EXPECT_EQ(set->function, fc::write_single_register);
    EXPECT_EQ(set->values, std::vector<std::uint16_t>{0b1000'1001});
    const auto cleared = write_request(device(), p, value{false}, 0b1111'1111);
    ASSERT_TRUE(cleared);
    EXPECT_EQ(cleared->values, std::vector<std::uint16_t>{0b1111'0111});
}

TEST(write_request, a_bit_by_mask_write_carries_the_and_and_or_masks) {
    const auto p = bit_of_register(3);
    const auto set = write_request(device(config::write_function::automatic, true), p, value{true}, 0xFFFF);
    ASSERT_TRUE(set);
    EXPECT_EQ(set->function, fc::mask_write_register);
    EXPECT_EQ(set->values, (std::vector<std::uint16_t>{0xFFF7, 0x0008}));
    const auto cleared = write_request(device(config::write_function::automatic, true), p, value{false});
    ASSERT_TRUE(cleared);
    EXPECT_EQ(cleared->values, (std::vector<std::uint16_t>{0xFFF7, 0x0000}));
}

TEST(write_request, a_value_the_point_cannot_take_and_a_read_only_kind_are_refused) {
    auto p = point(register_kind::holding_register, data_type::uint16);
    p.maximum = 10;
    EXPECT_EQ(write_request(device(), p, value{std::uint64_t{11}}).error(), make_error_code(modbus_errc::value_out_of_range));
    EXPECT_EQ(write_request(device(), point(register_kind::input_register, data_type::uint16), value{std::uint64_t{1}}).error(),
              make_error_code(modbus_errc::illegal_function));
}

}  // namespace
}  // namespace fieldbridge::modbus
