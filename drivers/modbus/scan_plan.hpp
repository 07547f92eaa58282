// scan_plan: what `fieldbridge scan` asks each unit id and what it makes of
// the answers, as pure decisions: the probes (FC3 and FC4 at register 0, and
// Read Device Identification FC43/14 for the basic objects, asked again from
// the next object while the device says more follow, up to
// max_identification_pages answers), when
// a unit is silent (no answer to its first probe: it costs one timeout, its
// other probes are skipped, so a scan of N ids is bounded by N timeouts plus
// the answering units' exchanges), and whether it answered (a value or a
// Modbus exception: something is there; exceptions 10 and 11, which a
// gateway in front of the unit sends for a unit that is not there, count as
// silence).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <vector>

#include "drivers/modbus/request.hpp"

namespace fieldbridge::modbus {

struct probe_result {
    function_code function = function_code::read_holding_registers;
    std::uint16_t address = 0;
    std::error_code error;  // empty: answered with `value`
    std::uint16_t value = 0;
    std::vector<identification_object> identity;  // FC43: the objects, in the order received
};

struct unit_result {
    std::uint8_t unit = 0;
    std::vector<probe_result> probes;  // in the order asked; fewer than scan_probes() for a silent unit
};

// The requests that probe `unit`, in order.
std::vector<request> scan_probes(std::uint8_t unit, std::chrono::milliseconds timeout);

inline constexpr std::size_t max_identification_pages = 8;

// After the `pages`-th answer to a Read Device Identification probe: the
// request for the objects that did not fit, or none (all there, the device
// points backwards or to the same object, or the page bound is reached).
std::optional<request> identification_follow_up(const request& asked, const identification_page& answer,
                                                std::size_t pages);

// Whether the unit's remaining probes are worth asking after this one: not
// after a probe that got no answer from the unit (timeout, link down,
// exception 10 or 11).
bool probe_again(const probe_result& r);

// A value or a Modbus exception to any probe.
bool answered(const unit_result& u);

}  // namespace fieldbridge::modbus
