// bus_scan: `fieldbridge scan` on a link: probes unit ids one after the other
// (scan_plan) through the bus's link backend, which keeps the line's
// silence on a serial line. Blocking, on the caller's thread; nothing else
// may use the bus meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/result.hpp"
#include "config/model.hpp"
#include "drivers/modbus/scan_plan.hpp"

namespace fieldbridge::modbus {

class blocking_link;

struct scan_options {
    std::uint8_t first = 1;
    std::uint8_t last = 247;
    std::chrono::milliseconds timeout{100};  // per probe: a silent unit costs this once
};

// Every unit first..last, each handed to `each` as soon as it is probed.
// The error: the link could not be opened at the start (nothing scanned).
result<std::vector<unit_result>> scan_bus(const config::bus& bus, const scan_options& o,
                                          const std::function<void(const unit_result&)>& each);

// The same through a given link (a test's fake).
result<std::vector<unit_result>> scan_link(blocking_link& line, const scan_options& o,
                                           const std::function<void(const unit_result&)>& each);

}  // namespace fieldbridge::modbus
