// crc16: the CRC that ends every Modbus RTU frame (Modbus over Serial Line
// v1.02, 6.2.2: polynomial 0xA001 reflected, initial value 0xFFFF; sent
// low byte first). Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace fieldbridge::modbus {

constexpr std::uint16_t crc16(std::span<const std::uint8_t> data) {
    std::uint16_t crc = 0xFFFF;
    for (const std::uint8_t byte : data) {
        crc = static_cast<std::uint16_t>(crc ^ byte);
        for (int b = 0; b < 8; ++b)
            crc = (crc & 1U) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                                  : static_cast<std::uint16_t>(crc >> 1);
    }
    return crc;
}

// Whether frame (address .. CRC) ends in the CRC of what precedes it.
constexpr bool crc_matches(std::span<const std::uint8_t> frame) {
    if (frame.size() < 3)
        return false;
    const auto body = frame.first(frame.size() - 2);
    const std::uint16_t sent =
        static_cast<std::uint16_t>(frame[frame.size() - 2] | (frame[frame.size() - 1] << 8));
    return crc16(body) == sent;
}

}  // namespace fieldbridge::modbus
