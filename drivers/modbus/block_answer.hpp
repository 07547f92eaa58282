// block_answer: a point's share of the answer to a merged block read. Pure
// functions over values; safe from any thread.
//
// The read planner puts every member point inside its request, but the
// answer is what the device sent: a point that does not lie wholly inside it
// (a plan and an answer that disagree) is a wrong_register_count reading of
// that point, never a read past the buffer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "config/model.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/register_words.hpp"

namespace fieldbridge::modbus {

// The registers of point p in `registers`, the answer to FC3/FC4 request r
// (registers[0] is register r.start).
result<register_words> point_registers(const read_request& r, const config::point& p,
                                       std::span<const std::uint16_t> registers);

// The bit of point p (one word, 0 or 1) in `bits`, the answer to FC1/FC2
// request r, one byte per bit as libmodbus hands them over (non-zero: set).
result<register_words> point_bit(const read_request& r, const config::point& p,
                                 std::span<const std::uint8_t> bits);

}  // namespace fieldbridge::modbus
