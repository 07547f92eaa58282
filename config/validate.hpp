// Checks that span several objects of a configuration: references between
// devices and buses, unique names, registers shared by two points of one
// device, points too large for a device's read limit, publish topics used
// twice, and topics used for two things (topic_roles). Pure; the loader runs it after reading each value on its own.
#pragma once

#include <vector>

#include "config/config_error.hpp"
#include "config/diagnostic_list.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

// Every problem found, each at the mark of the object concerned; empty when
// the configuration is sound.
std::vector<diagnostic> validate(const gateway& cfg);
// The same into out, which keeps the first ones and counts the rest.
void validate(const gateway& cfg, diagnostic_list& out);

// Whether two points read a register (or coil) in common: of one kind, their
// spans meet, and they are not bool points on different bits of one
// register. The rule of a device's points, and of the simulator's unit.
bool share_a_register(const point& a, const point& b);

}  // namespace fieldbridge::config
