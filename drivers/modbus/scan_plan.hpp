// scan_plan: what `fieldbridge scan` asks each unit id and what it makes of
// the answers, as pure decisions: the probes (FC3 and FC4 at register 0), when
// a unit is silent (no answer to its first probe: it costs one timeout, its
// other probes are skipped, so a scan of N ids is bounded by N timeouts plus
// the answering units' exchanges), and whether it answered (a value or a
// Modbus exception: something is there; exceptions 10 and 11, which a
// gateway in front of the unit sends for a unit that is not there, count as
// silence).
#pragma once

#include <chrono>
#include <cstdint>
#include <system_error>
#include <vector>

#include "drivers/modbus/request.hpp"

namespace fieldbridge::modbus {

struct probe_result {
    function_code function = function_code::read_holding_registers;
    std::uint16_t address = 0;
    std::error_code error;  // empty: answered with `value`
    std::uint16_t value = 0;
};

struct unit_result {
    std::uint8_t unit = 0;
    std::vector<probe_result> probes;  // in the order asked; fewer than scan_probes() for a silent unit
};

// The requests that probe `unit`, in order.
std::vector<request> scan_probes(std::uint8_t unit, std::chrono::milliseconds timeout);

// Whether the unit's remaining probes are worth asking after this one: not
// after a probe that got no answer from the unit (timeout, link down,
// exception 10 or 11).
bool probe_again(const probe_result& r);

// A value or a Modbus exception to any probe.
bool answered(const unit_result& u);

}  // namespace fieldbridge::modbus
