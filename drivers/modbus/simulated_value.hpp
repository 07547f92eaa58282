// The value a point's `simulate` waveform gives at a time: what the
// built-in simulator serves, and what `check` shows as a point's example
// value (at 0 s). Pure.
#pragma once

#include "config/model.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

// The waveform's number `seconds` after it started.
double waveform_value(const config::simulation& s, double seconds);

// The point's value `seconds` after the start, by its type: a string point
// serves its name, a bool whether the waveform is non-zero, a number the
// waveform kept within the point's min/max. Requires p.simulate.
value simulated_value(const config::point& p, double seconds);

}  // namespace fieldbridge::modbus
