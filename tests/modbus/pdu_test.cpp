// The request PDUs and answer parsing (pdu.hpp) and the MBAP header
// (mbap.hpp), over every function code and many random quantities: a
// request's bytes are what the specification lays down, an answer built
// here the way a device builds it parses back to the values it carries, and
// every answer changed in one way the parser must see (function, byte
// count, length, echo) is invalid_response. The seed of a failing case is
// in the failure message.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "drivers/modbus/mbap.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/pdu.hpp"

namespace fieldbridge::modbus {
namespace {

std::vector<std::uint8_t> be16(std::uint16_t v) {
    return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v & 0xFF)};
}

void append(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& more) {
    out.insert(out.end(), more.begin(), more.end());
}

// A device's answer to a read: function, byte count, data.
std::vector<std::uint8_t> register_answer(function_code f, const std::vector<std::uint16_t>& regs) {
    std::vector<std::uint8_t> pdu{static_cast<std::uint8_t>(f), static_cast<std::uint8_t>(2 * regs.size())};
    for (const auto v : regs) append(pdu, be16(v));
    return pdu;
}

std::vector<std::uint8_t> bit_answer(function_code f, const std::vector<std::uint8_t>& bits) {
    std::vector<std::uint8_t> pdu{static_cast<std::uint8_t>(f), static_cast<std::uint8_t>((bits.size() + 7) / 8)};
    pdu.resize(2 + pdu[1], 0);
    for (std::size_t i = 0; i < bits.size(); ++i) {
        if (bits[i] != 0) pdu[2 + i / 8] = static_cast<std::uint8_t>(pdu[2 + i / 8] | (1u << (i % 8)));
    }
    return pdu;
}

request read_request_of(function_code f, std::uint16_t address, std::uint16_t count) {
    request r;
    r.function = f;
    r.address = address;
    r.count = count;
    return r;
}

TEST(request_pdu, lays_out_each_function_as_the_specification_does) {
    auto r = read_request_of(function_code::read_holding_registers, 0x006B, 3);
    EXPECT_EQ(*request_pdu(r), (std::vector<std::uint8_t>{0x03, 0x00, 0x6B, 0x00, 0x03}));
    r = read_request_of(function_code::read_coils, 19, 19);
    EXPECT_EQ(*request_pdu(r), (std::vector<std::uint8_t>{0x01, 0x00, 0x13, 0x00, 0x13}));

    request w;
    w.function = function_code::write_single_coil;
    w.address = 0xAC;
    w.values = {1};
    EXPECT_EQ(*request_pdu(w), (std::vector<std::uint8_t>{0x05, 0x00, 0xAC, 0xFF, 0x00}));
    w.function = function_code::write_single_register;
    w.address = 1;
    w.values = {3};
    EXPECT_EQ(*request_pdu(w), (std::vector<std::uint8_t>{0x06, 0x00, 0x01, 0x00, 0x03}));
    // The specification's example: 10 coils from 20, 0xCD 0x01.
    w.function = function_code::write_multiple_coils;
    w.address = 19;
    w.count = 10;
    w.values = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    EXPECT_EQ(*request_pdu(w), (std::vector<std::uint8_t>{0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01}));
    w.function = function_code::write_multiple_registers;
    w.address = 1;
    w.count = 2;
    w.values = {0x000A, 0x0102};
    EXPECT_EQ(*request_pdu(w),
              (std::vector<std::uint8_t>{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}));
    w.function = function_code::mask_write_register;
    w.address = 4;
    w.values = {0x00F2, 0x0025};
    EXPECT_EQ(*request_pdu(w), (std::vector<std::uint8_t>{0x16, 0x00, 0x04, 0x00, 0xF2, 0x00, 0x25}));
}

TEST(request_pdu, refuses_quantities_the_function_cannot_carry) {
    for (const auto& [f, most] : {std::pair{function_code::read_holding_registers, 125},
                                  std::pair{function_code::read_input_registers, 125},
                                  std::pair{function_code::read_coils, 2000},
                                  std::pair{function_code::read_discrete_inputs, 2000}}) {
        EXPECT_TRUE(request_pdu(read_request_of(f, 0, static_cast<std::uint16_t>(most))).has_value());
        EXPECT_EQ(request_pdu(read_request_of(f, 0, static_cast<std::uint16_t>(most + 1))).error(),
                  make_error_code(modbus_errc::wrong_register_count));
        EXPECT_EQ(request_pdu(read_request_of(f, 0, 0)).error(), make_error_code(modbus_errc::wrong_register_count));
    }
    request w;
    w.function = function_code::write_multiple_registers;
    w.count = 124;
    w.values.assign(124, 0);
    EXPECT_EQ(request_pdu(w).error(), make_error_code(modbus_errc::wrong_register_count));
    w.count = 2;
    w.values = {1};
    EXPECT_EQ(request_pdu(w).error(), make_error_code(modbus_errc::wrong_register_count));
    w.function = function_code::write_single_register;
    w.values = {};
    EXPECT_EQ(request_pdu(w).error(), make_error_code(modbus_errc::wrong_register_count));
}

TEST(parse_answer, reads_back_what_random_answers_carry_and_sees_every_change) {
    for (std::uint32_t seed = 1; seed <= 3000; ++seed) {
        SCOPED_TRACE(testing::Message() << "seed " << seed);
        std::mt19937 rng(seed);
        const bool bits = (seed % 2) == 0;
        const auto f = bits ? (seed % 4 == 0 ? function_code::read_coils : function_code::read_discrete_inputs)
                            : (seed % 4 == 1 ? function_code::read_holding_registers
                                             : function_code::read_input_registers);
        const auto count = static_cast<std::uint16_t>(1 + rng() % (bits ? 2000 : 125));
        const auto r = read_request_of(f, static_cast<std::uint16_t>(rng()), count);
        ASSERT_TRUE(request_pdu(r).has_value());

        std::vector<std::uint8_t> pdu;
        std::vector<std::uint16_t> regs(count);
        std::vector<std::uint8_t> set(count);
        if (bits) {
            for (auto& b : set) b = static_cast<std::uint8_t>(rng() & 1u);
            pdu = bit_answer(f, set);
        } else {
            for (auto& v : regs) v = static_cast<std::uint16_t>(rng());
            pdu = register_answer(f, regs);
        }
        reply answer;
        ASSERT_FALSE(parse_answer(r, pdu, answer));
        if (bits) {
            EXPECT_EQ(answer.bits, set);
        } else {
            EXPECT_EQ(answer.registers, regs);
        }
        const auto invalid = make_error_code(modbus_errc::invalid_response);
        auto changed = pdu;
        changed.pop_back();  // one byte short
        EXPECT_EQ(parse_answer(r, changed, answer), invalid);
        changed = pdu;
        changed.push_back(0);  // one byte more
        EXPECT_EQ(parse_answer(r, changed, answer), invalid);
        changed = pdu;
        changed[1] = static_cast<std::uint8_t>(changed[1] + 1 + rng() % 200);  // a byte count that is not the length
        EXPECT_EQ(parse_answer(r, changed, answer), invalid);
        changed = pdu;
        changed[0] = static_cast<std::uint8_t>(f) == 3 ? 4 : 3;
        EXPECT_EQ(parse_answer(r, changed, answer), invalid);  // another function's answer
    }
}

TEST(parse_answer, tells_exceptions_from_malformed_exception_answers) {
    const auto r = read_request_of(function_code::read_holding_registers, 0, 1);
    reply answer;
    for (std::uint8_t code = 0; code < 255; ++code) {
        const std::vector<std::uint8_t> pdu{0x83, code};
        const auto error = parse_answer(r, pdu, answer);
        if (code >= 1 && code <= 11 && code != 9) {
            EXPECT_EQ(error.value(), code);
            EXPECT_TRUE(is_exception(error));
        } else {
            EXPECT_EQ(error, make_error_code(modbus_errc::unknown_exception)) << int(code);
        }
    }
    EXPECT_EQ(parse_answer(r, std::vector<std::uint8_t>{0x83}, answer), make_error_code(modbus_errc::invalid_response));
    EXPECT_EQ(parse_answer(r, std::vector<std::uint8_t>{0x83, 2, 0}, answer),
              make_error_code(modbus_errc::invalid_response));
    EXPECT_EQ(parse_answer(r, std::vector<std::uint8_t>{0x84, 2}, answer),  // another function's exception
              make_error_code(modbus_errc::invalid_response));
    EXPECT_EQ(parse_answer(r, std::vector<std::uint8_t>{}, answer), make_error_code(modbus_errc::invalid_response));
}

TEST(parse_answer, checks_what_a_write_of_several_echoes) {
    request w;
    w.function = function_code::write_multiple_registers;
    w.address = 40;
    w.count = 2;
    w.values = {1, 2};
    reply answer;
    EXPECT_FALSE(parse_answer(w, std::vector<std::uint8_t>{0x10, 0, 40, 0, 2}, answer));
    EXPECT_EQ(parse_answer(w, std::vector<std::uint8_t>{0x10, 0, 41, 0, 2}, answer),
              make_error_code(modbus_errc::invalid_response));
    EXPECT_EQ(parse_answer(w, std::vector<std::uint8_t>{0x10, 0, 40, 0, 3}, answer),
              make_error_code(modbus_errc::invalid_response));
    EXPECT_EQ(parse_answer(w, std::vector<std::uint8_t>{0x10, 0, 40, 0}, answer),
              make_error_code(modbus_errc::invalid_response));
    w.function = function_code::write_single_register;
    w.values = {7};
    EXPECT_FALSE(parse_answer(w, std::vector<std::uint8_t>{0x06, 0, 40, 0, 7}, answer));
    w.function = function_code::mask_write_register;
    w.values = {1, 2};
    EXPECT_FALSE(parse_answer(w, std::vector<std::uint8_t>{0x16, 0, 40, 0, 1, 0, 2}, answer));
    EXPECT_EQ(parse_answer(w, std::vector<std::uint8_t>{0x16, 0, 40, 0, 1}, answer),
              make_error_code(modbus_errc::invalid_response));
}

TEST(mbap, frames_a_request_and_reads_the_header_back) {
    const std::vector<std::uint8_t> pdu{0x03, 0x00, 0x6B, 0x00, 0x03};
    const auto adu = mbap_frame(0x1234, 17, pdu);
    EXPECT_EQ(adu, (std::vector<std::uint8_t>{0x12, 0x34, 0, 0, 0, 6, 17, 0x03, 0x00, 0x6B, 0x00, 0x03}));
    const auto h = parse_mbap_header(std::span<const std::uint8_t, mbap_header_size>(adu.data(), mbap_header_size));
    EXPECT_EQ(h.transaction, 0x1234);
    EXPECT_EQ(h.unit, 17);
    EXPECT_EQ(h.frame_size, adu.size());
}

TEST(mbap, a_header_that_cannot_start_a_frame_has_no_size) {
    using header = std::array<std::uint8_t, mbap_header_size>;
    const auto size = [](header h) { return parse_mbap_header(h).frame_size; };
    EXPECT_EQ(size(header{0, 1, 0, 0, 0, 2, 1}), 8u);      // the shortest: unit and function code
    EXPECT_EQ(size(header{0, 1, 0, 0, 0, 254, 1}), 260u);  // the longest: a 253-byte PDU
    EXPECT_EQ(size(header{0, 1, 0, 0, 0, 255, 1}), 0u);
    EXPECT_EQ(size(header{0, 1, 0, 0, 0, 1, 1}), 0u);
    EXPECT_EQ(size(header{0, 1, 0, 1, 0, 6, 1}), 0u);  // protocol id 1
    EXPECT_EQ(size(header{0, 1, 1, 0, 0, 6, 1}), 0u);
}

}  // namespace
}  // namespace fieldbridge::modbus
