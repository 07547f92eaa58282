// value_codec against datasheet byte patterns and round trips over every
// type x word order and string packing.
#include "drivers/modbus/value_codec.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

using config::data_type;
using config::register_kind;
using config::word_order;
using words = std::vector<std::uint16_t>;

config::point make_point(data_type type, word_order order = word_order::abcd) {
    config::point p;
    p.name = "p";
    p.kind = register_kind::holding_register;
    p.type = type;
    p.order = order;
    return p;
}

config::point string_point(std::uint16_t length, config::string_packing packing) {
    auto p = make_point(data_type::string);
    p.length = length;
    p.packing = packing;
    return p;
}

words encoded(const config::point& p, const value& v) {
    auto r = encode(p, v);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r ? *r : words{};
}

template <class T>
T decoded_as(const config::point& p, const words& w) {
    auto r = decode(p, w);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    if (!r) return T{};
    EXPECT_TRUE(std::holds_alternative<T>(*r)) << "variant index " << r->index();
    return std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

constexpr word_order all_orders[] = {word_order::abcd, word_order::cdab, word_order::badc, word_order::dcba};

// --- datasheet patterns ----------------------------------------------------

// 229.01 V as a meter datasheet shows it: 0x43650290 (A=43 B=65 C=02 D=90).
// That is 229.0100098; the float nearest to 229.01 is one ulp lower,
// 0x4365028F, which is what encode produces.
TEST(value_codec, float32_229_01_in_all_four_word_orders) {
    const struct {
        word_order order;
        words datasheet;
        words nearest;
    } cases[] = {
        {word_order::abcd, {0x4365, 0x0290}, {0x4365, 0x028F}},
        {word_order::cdab, {0x0290, 0x4365}, {0x028F, 0x4365}},
        {word_order::badc, {0x6543, 0x9002}, {0x6543, 0x8F02}},
        {word_order::dcba, {0x9002, 0x6543}, {0x8F02, 0x6543}},
    };
    for (const auto& c : cases) {
        const auto p = make_point(data_type::float32, c.order);
        const auto v = decoded_as<double>(p, c.datasheet);
        EXPECT_NEAR(v, 229.01, 1e-5) << static_cast<int>(c.order);
        EXPECT_EQ(v, static_cast<double>(std::bit_cast<float>(std::uint32_t{0x43650290})));
        EXPECT_EQ(encoded(p, v), c.datasheet) << static_cast<int>(c.order);
        EXPECT_EQ(encoded(p, 229.01), c.nearest) << static_cast<int>(c.order);
        EXPECT_EQ(decoded_as<double>(p, c.nearest), static_cast<double>(229.01f));
    }
}

// The symptom of a wrong word order: CDAB registers read as ABCD.
TEST(value_codec, float32_read_with_the_wrong_word_order_is_a_tiny_number) {
    const auto wrong = decoded_as<double>(make_point(data_type::float32, word_order::abcd), {0x0290, 0x4365});
    EXPECT_LT(std::fabs(wrong), 1e-30);
}

TEST(value_codec, int32_and_uint32_patterns) {
    // -123456789 = 0xF8A432EB
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int32), {0xF8A4, 0x32EB}), -123456789);
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int32, word_order::cdab), {0x32EB, 0xF8A4}), -123456789);
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int32, word_order::badc), {0xA4F8, 0xEB32}), -123456789);
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int32, word_order::dcba), {0xEB32, 0xA4F8}), -123456789);
    // 123456 = 0x0001E240
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint32), {0x0001, 0xE240}), 123456u);
    EXPECT_EQ(encoded(make_point(data_type::uint32, word_order::cdab), std::int64_t{123456}), (words{0xE240, 0x0001}));
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint32), {0xFFFF, 0xFFFF}), 4294967295u);
}

TEST(value_codec, int64_and_float64_patterns) {
    // 0x0102030405060708 laid out ABCDEFGH / GHEFCDAB / BADCFEHG / HGFEDCBA.
    const std::uint64_t v = 0x0102030405060708;
    EXPECT_EQ(encoded(make_point(data_type::uint64, word_order::abcd), v), (words{0x0102, 0x0304, 0x0506, 0x0708}));
    EXPECT_EQ(encoded(make_point(data_type::uint64, word_order::cdab), v), (words{0x0708, 0x0506, 0x0304, 0x0102}));
    EXPECT_EQ(encoded(make_point(data_type::uint64, word_order::badc), v), (words{0x0201, 0x0403, 0x0605, 0x0807}));
    EXPECT_EQ(encoded(make_point(data_type::uint64, word_order::dcba), v), (words{0x0807, 0x0605, 0x0403, 0x0201}));
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int64), {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}), -2);
    // 1.0 as float64 = 0x3FF0000000000000
    EXPECT_EQ(decoded_as<double>(make_point(data_type::float64), {0x3FF0, 0, 0, 0}), 1.0);
    EXPECT_EQ(decoded_as<double>(make_point(data_type::float64, word_order::dcba), {0, 0, 0, 0xF03F}), 1.0);
    EXPECT_EQ(encoded(make_point(data_type::float64, word_order::cdab), -2.5), (words{0, 0, 0x0000, 0xC004}));
}

TEST(value_codec, sixteen_bit_values_honour_the_byte_swap_only) {
    EXPECT_EQ(decoded_as<std::int64_t>(make_point(data_type::int16), {0xFFFE}), -2);
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint16, word_order::cdab), {0x1234}), 0x1234u);
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint16, word_order::badc), {0x1234}), 0x3412u);
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint16, word_order::dcba), {0x1234}), 0x3412u);
}

// --- strings -----------------------------------------------------------------

TEST(value_codec, byte_swapped_string_reads_as_the_model_name) {
    // A device that sends "rP3oME1-" when read high byte first.
    const words registers{('r' << 8) | 'P', ('3' << 8) | 'o', ('M' << 8) | 'E', ('1' << 8) | '-'};
    EXPECT_EQ(decoded_as<std::string>(string_point(4, config::string_packing::low_byte_first), registers), "Pro3EM-1");
    EXPECT_EQ(decoded_as<std::string>(string_point(4, config::string_packing::high_byte_first), registers), "rP3oME1-");
    EXPECT_EQ(encoded(string_point(4, config::string_packing::low_byte_first), std::string("Pro3EM-1")), registers);
}

TEST(value_codec, strings_are_trimmed_of_trailing_nuls_and_spaces) {
    const auto p = string_point(4, config::string_packing::high_byte_first);
    EXPECT_EQ(decoded_as<std::string>(p, {('A' << 8) | 'B', ('C' << 8) | ' ', (' ' << 8), 0}), "ABC");
    EXPECT_EQ(decoded_as<std::string>(p, {0, 0, 0, 0}), "");
    EXPECT_EQ(encoded(p, std::string("AB")), (words{('A' << 8) | 'B', 0, 0, 0}));
}

TEST(value_codec, low_byte_only_strings_hold_one_char_per_register) {
    const auto p = string_point(3, config::string_packing::low_byte_only);
    EXPECT_EQ(encoded(p, std::string("abc")), (words{'a', 'b', 'c'}));
    EXPECT_EQ(decoded_as<std::string>(p, {0xFF00 | 'x', 'y', 0}), "xy");  // high byte ignored
    EXPECT_EQ(encode(p, std::string("abcd")).error(), modbus_errc::string_too_long);
}

TEST(value_codec, strings_with_control_bytes_or_broken_utf8_are_refused) {
    const auto p = string_point(2, config::string_packing::high_byte_first);
    EXPECT_EQ(decode(p, words{0x4101, 0}).error(), modbus_errc::invalid_string);
    EXPECT_EQ(decode(p, words{0x41C3, 0}).error(), modbus_errc::invalid_string);  // truncated sequence
    EXPECT_EQ(decoded_as<std::string>(p, {0xC3A9, 0}), "\xC3\xA9");             // e acute
    EXPECT_EQ(encode(p, std::string("a\nb")).error(), modbus_errc::invalid_string);
    EXPECT_EQ(encode(p, std::string("abcde")).error(), modbus_errc::string_too_long);
    EXPECT_EQ(encode(p, 1.0).error(), modbus_errc::wrong_value_type);
}

// --- booleans ------------------------------------------------------------------

TEST(value_codec, coils_and_discrete_inputs_are_one_word_zero_or_one) {
    auto coil = make_point(data_type::boolean);
    coil.kind = register_kind::coil;
    EXPECT_EQ(modbus::register_count(coil), 1);
    EXPECT_EQ(decoded_as<bool>(coil, {1}), true);
    EXPECT_EQ(decoded_as<bool>(coil, {0}), false);
    EXPECT_EQ(encoded(coil, true), words{1});
    EXPECT_EQ(encoded(coil, std::int64_t{0}), words{0});
    EXPECT_EQ(encode(coil, std::int64_t{2}).error(), modbus_errc::value_out_of_range);
    coil.kind = register_kind::discrete_input;
    EXPECT_EQ(decoded_as<bool>(coil, {1}), true);
}

TEST(value_codec, bit_of_a_register_reads_and_writes_only_that_bit) {
    auto p = make_point(data_type::boolean);
    p.bit = 5;
    EXPECT_TRUE(decoded_as<bool>(p, {0x0020}));
    EXPECT_FALSE(decoded_as<bool>(p, {0xFFDF}));
    EXPECT_EQ(*encode(p, true, 0x8001), words{0x8021});
    EXPECT_EQ(*encode(p, false, 0xFFFF), words{0xFFDF});
    p.bit = 16;
    EXPECT_EQ(decode(p, words{0}).error(), modbus_errc::invalid_point);
}

// --- scale, offset, ranges -------------------------------------------------------

TEST(value_codec, scale_and_offset_give_doubles_and_invert_exactly) {
    auto p = make_point(data_type::uint16);
    p.scale = 0.1;
    EXPECT_DOUBLE_EQ(decoded_as<double>(p, {2295}), 229.5);
    EXPECT_EQ(encoded(p, 229.5), words{2295});  // 2294.9999... rounds to 2295
    EXPECT_EQ(encoded(p, 229.46), words{2295});

    auto t = make_point(data_type::int16);
    t.scale = 0.01;
    t.offset = -40.0;
    EXPECT_DOUBLE_EQ(decoded_as<double>(t, {6512}), 25.12);
    EXPECT_EQ(encoded(t, 25.12), words{6512});

    auto f = make_point(data_type::float32);
    f.scale = 1000.0;  // kWh in a register that holds MWh
    EXPECT_EQ(encoded(f, 1500.0), encoded(make_point(data_type::float32), 1.5));
    EXPECT_DOUBLE_EQ(decoded_as<double>(f, encoded(f, 1500.0)), 1500.0);
}

TEST(value_codec, unscaled_integers_stay_integers) {
    EXPECT_EQ(decoded_as<std::uint64_t>(make_point(data_type::uint64), {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}),
              std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(encoded(make_point(data_type::uint64), std::numeric_limits<std::uint64_t>::max()),
              (words{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}));
    EXPECT_EQ(encoded(make_point(data_type::int64), std::numeric_limits<std::int64_t>::min()),
              (words{0x8000, 0, 0, 0}));
}

TEST(value_codec, out_of_range_values_are_refused) {
    EXPECT_EQ(encode(make_point(data_type::uint16), std::int64_t{65536}).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::uint16), std::int64_t{-1}).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::int16), 32767.6).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::int16), std::int64_t{-32769}).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::int32), std::uint64_t{1} << 31).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::int64), std::numeric_limits<std::uint64_t>::max()).error(),
              modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::uint64), -1.0).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::uint64), 1.9e19).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::float32), 1e39).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(make_point(data_type::float64), std::numeric_limits<double>::infinity()).error(),
              modbus_errc::value_out_of_range);

    auto limited = make_point(data_type::uint16);
    limited.minimum = 10.0;
    limited.maximum = 20.0;
    EXPECT_EQ(encode(limited, 9.99).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encode(limited, std::int64_t{21}).error(), modbus_errc::value_out_of_range);
    EXPECT_EQ(encoded(limited, std::int64_t{20}), words{20});

    auto zero_scale = make_point(data_type::uint16);
    zero_scale.scale = 0.0;
    EXPECT_EQ(encode(zero_scale, 1.0).error(), modbus_errc::invalid_point);
    EXPECT_EQ(encode(make_point(data_type::uint16), std::string("1")).error(), modbus_errc::wrong_value_type);
}

TEST(value_codec, nan_is_refused_both_ways) {
    for (const auto t : {data_type::float32, data_type::float64, data_type::int32, data_type::boolean}) {
        EXPECT_EQ(encode(make_point(t), std::nan("")).error(), modbus_errc::not_a_number) << static_cast<int>(t);
    }
    EXPECT_EQ(decode(make_point(data_type::float32), words{0x7FC0, 0}).error(), modbus_errc::not_a_number);
    EXPECT_EQ(decode(make_point(data_type::float32), words{0x7F80, 0}).error(), modbus_errc::not_a_number);  // +inf
    EXPECT_EQ(decode(make_point(data_type::float64), words{0x7FF8, 0, 0, 0}).error(), modbus_errc::not_a_number);
}

// --- word counts -------------------------------------------------------------------

TEST(value_codec, a_scale_that_takes_a_reading_beyond_a_double_is_out_of_range) {
    // Found by fuzzing: 0xFFFF'FFFF'FFFF'FFFF * 1e300 decoded as infinity.
    auto big = make_point(data_type::uint64);
    big.scale = 1e300;
    const words all_ones{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
    EXPECT_EQ(decode(big, all_ones).error(), modbus_errc::value_out_of_range);
    auto f64 = make_point(data_type::float64);
    f64.scale = 1e300;
    EXPECT_EQ(decode(f64, words{0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF}).error(), modbus_errc::value_out_of_range);  // DBL_MAX
    auto i16 = make_point(data_type::int16);
    i16.offset = 1e308;
    i16.scale = 1e305;
    EXPECT_EQ(decode(i16, words{0x7FFF}).error(), modbus_errc::value_out_of_range);
    // Still a number where it fits.
    EXPECT_EQ(std::get<double>(*decode(big, words{0, 0, 0, 2})), 2e300);
}

TEST(value_codec, every_decode_of_a_wrong_word_count_fails_cleanly) {
    std::vector<config::point> points;
    for (const auto t : {data_type::boolean, data_type::int16, data_type::uint16, data_type::int32, data_type::uint32,
                         data_type::int64, data_type::uint64, data_type::float32, data_type::float64}) {
        points.push_back(make_point(t));
    }
    points.push_back(string_point(3, config::string_packing::high_byte_first));
    auto coil = make_point(data_type::boolean);
    coil.kind = register_kind::coil;
    points.push_back(coil);
    points.push_back(string_point(0, config::string_packing::high_byte_first));

    const words many(10, 0x4141);
    for (const auto& p : points) {
        const std::size_t right = modbus::register_count(p);
        for (std::size_t n = 0; n <= many.size(); ++n) {
            if (n == right && n != 0) continue;
            const auto r = decode(p, std::span<const std::uint16_t>(many.data(), n));
            ASSERT_FALSE(r.has_value()) << static_cast<int>(p.type) << " with " << n << " words";
            EXPECT_EQ(r.error(), modbus_errc::wrong_register_count);
        }
    }
}

// --- round trips ----------------------------------------------------------------------

TEST(value_codec, every_numeric_type_round_trips_through_every_word_order) {
    const struct {
        data_type type;
        std::vector<value> samples;
    } cases[] = {
        {data_type::int16, {std::int64_t{-32768}, std::int64_t{-1}, std::int64_t{0}, std::int64_t{32767}}},
        {data_type::uint16, {std::uint64_t{0}, std::uint64_t{0x1234}, std::uint64_t{65535}}},
        {data_type::int32, {std::int64_t{-2147483648LL}, std::int64_t{-123456789}, std::int64_t{2147483647}}},
        {data_type::uint32, {std::uint64_t{0}, std::uint64_t{0x01020304}, std::uint64_t{4294967295u}}},
        {data_type::int64,
         {std::numeric_limits<std::int64_t>::min(), std::int64_t{-5}, std::numeric_limits<std::int64_t>::max()}},
        {data_type::uint64, {std::uint64_t{0}, std::uint64_t{0x0102030405060708}, ~std::uint64_t{0}}},
        {data_type::float32, {0.0, -1.5, static_cast<double>(229.01f), static_cast<double>(3.4e38f)}},
        {data_type::float64, {0.0, -1.5, 229.01, 1e300, -4.9e-324}},
    };
    for (const auto& c : cases) {
        for (const auto order : all_orders) {
            const auto p = make_point(c.type, order);
            for (const auto& v : c.samples) {
                auto w = encode(p, v);
                ASSERT_TRUE(w.has_value()) << w.error().message();
                ASSERT_EQ(w->size(), modbus::register_count(p));
                auto back = decode(p, *w);
                ASSERT_TRUE(back.has_value()) << back.error().message();
                EXPECT_EQ(*back, v) << "type " << static_cast<int>(c.type) << " order " << static_cast<int>(order);
            }
        }
    }
}

TEST(value_codec, scaled_values_round_trip_through_every_word_order) {
    for (const auto t : {data_type::int16, data_type::uint32, data_type::int64, data_type::float32}) {
        for (const auto order : all_orders) {
            auto p = make_point(t, order);
            p.scale = 0.01;
            p.offset = 100.0;
            const auto back = decoded_as<double>(p, encoded(p, 123.45));
            EXPECT_NEAR(back, 123.45, 1e-4) << static_cast<int>(t);
        }
    }
}

TEST(value_codec, strings_round_trip_in_every_packing) {
    for (const auto packing : {config::string_packing::high_byte_first, config::string_packing::low_byte_first,
                               config::string_packing::low_byte_only}) {
        const auto p = string_point(8, packing);
        for (const std::string s : {"", "A", "Pro3EM-1", "odd"}) {
            EXPECT_EQ(decoded_as<std::string>(p, encoded(p, s)), s);
        }
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
