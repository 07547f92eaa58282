// rtu_timing: how long things take on a serial line (Modbus over serial
// line v1.02, 2.5.1.1): a character is a start bit, the data bits, the
// parity bit if any and the stop bits; frames are separated by at least 3.5
// character times, a fixed 1.75 ms above 19200 baud. Pure functions.
#pragma once

#include <chrono>
#include <cstddef>

#include "config/model.hpp"

namespace fieldbridge::modbus {

inline unsigned bits_per_character(const config::rtu_link& line) {
    return 1u + line.data_bits + (line.parity == config::parity::none ? 0u : 1u) + line.stop_bits;
}

// Time the line needs to carry `bytes` characters back to back.
inline std::chrono::nanoseconds wire_time(std::size_t bytes, const config::rtu_link& line) {
    const auto bits = static_cast<long double>(bytes) * bits_per_character(line);
    return std::chrono::nanoseconds(static_cast<long long>(bits * 1e9L / line.baud));
}

// The silent interval that ends a frame (t3.5).
inline std::chrono::nanoseconds frame_silence(const config::rtu_link& line) {
    if (line.baud > 19200) return std::chrono::microseconds(1750);
    const auto bits = 3.5L * bits_per_character(line);
    return std::chrono::nanoseconds(static_cast<long long>(bits * 1e9L / line.baud));
}

}  // namespace fieldbridge::modbus
