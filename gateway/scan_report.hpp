// What `fieldbridge scan` prints: a row per unit that answered (what each
// probe got: a value, a Modbus exception, no answer, the identification
// objects), and a starter configuration with a device for each unit that
// answered a register probe with a value, its points the registers that
// answered, with what the unit says it is in a comment. A device's text is
// printed with anything but printable ASCII as '?'. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drivers/modbus/scan_plan.hpp"

namespace fieldbridge::gateway {

// "UNIT  FC3 @0 (holding)        FC4 @0 (input)          FC43/14 identification"
std::string scan_header();
// "   3  229 (0x00E5)              exception 2             Eastron / SDM630 / 1.2"
std::string scan_row(const modbus::unit_result& u);

// A configuration fragment: `buses:` with bus_yaml under bus_name when given
// (a bus named on the command line; absent when it comes from a file), then
// `devices:` for the units that answered. Loads once an mqtt section is
// added (and the buses section of its file, without bus_yaml).
std::string starter_config(const std::string& bus_name, const std::optional<std::string>& bus_yaml,
                           const std::vector<modbus::unit_result>& units);

}  // namespace fieldbridge::gateway
