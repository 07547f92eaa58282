// A read a device refused with Modbus exception 2 (a span over registers it
// lacks), as the store keeps it. Plain value type.
#pragma once

#include <cstdint>
#include <string>

namespace fieldbridge::store {

struct refused_read {
    std::string device;
    int function = 3;  // Modbus read function: 1 coils, 2 discrete inputs, 3 holding, 4 input registers
    std::uint16_t start = 0;
    std::uint16_t count = 0;
    bool operator==(const refused_read&) const = default;
};

}  // namespace fieldbridge::store
