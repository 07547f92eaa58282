// value_codec: Modbus registers <-> engineering values for every
// config::data_type, word order and string packing. Pure functions over
// values: no I/O, no state, safe from any thread.
//
// Register layouts follow config::word_order (devices differ in it): the same
// order is applied on decode and on encode, so a value written through
// encode() reads back through decode() on every order.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "config/model.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

using value = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

// Registers the point occupies: 1/2/4 for 16/32/64-bit types, point.length
// for strings, 1 for booleans (a coil, a discrete input or one register).
std::uint16_t register_count(const config::point& p);

// words: the point's registers, or for a coil / discrete input one element
// 0 or 1. Returns
//   bool      for booleans (coil, discrete input, bit N of a register);
//   int64_t   / uint64_t for unscaled signed / unsigned integers;
//   double    for float types and for any integer with scale != 1 or offset != 0;
//   string    for strings, cut at the first NUL, trailing spaces trimmed.
// Fails with wrong_register_count, not_a_number (NaN or infinity from the
// device: the reading is bad, not a number to publish), value_out_of_range
// (scale and offset take the reading beyond a double), invalid_string
// (bytes that are not printable UTF-8) or invalid_point.
result<value> decode(const config::point& p, std::span<const std::uint16_t> words);

// Inverse of decode: engineering value -> registers. scale/offset are
// inverted (raw = (value - offset) / scale), integers rounded to nearest;
// the value is checked against point.minimum/maximum and the type's range;
// NaN is refused. For a bit-in-register point, `current_register` is the
// register as last read and only the point's bit is changed.
result<std::vector<std::uint16_t>> encode(const config::point& p, const value& v,
                                          std::uint16_t current_register = 0);

}  // namespace fieldbridge::modbus
