// One block read of a device's plan, by what it asks: the registers or bits
// of one table. Plain data.
#pragma once

#include <cstdint>
#include <string>

#include "config/model.hpp"
#include "config/names.hpp"

namespace fieldbridge::modbus {

struct block_id {
    config::register_kind kind = config::register_kind::holding_register;
    std::uint16_t start = 0;
    std::uint16_t count = 0;
    bool operator==(const block_id&) const = default;
};

// "holding 100-109": the table as the configuration names it, first and
// last address.
inline std::string to_string(const block_id& b) {
    return std::string(config::to_string(b.kind)) + ' ' + std::to_string(b.start) + '-' +
           std::to_string(b.start + b.count - 1);
}

}  // namespace fieldbridge::modbus
