// How a point becomes a Sparkplug metric: its datatype (the point's type, or
// Double once scale or offset make it an engineering value), its decoded
// value as the wire value of that datatype, and a DCMD's value back as a
// value the command path writes (and range-checks) as it does a JSON one.
// Pure.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "sparkplug/edge_node.hpp"
#include "sparkplug/payload.hpp"

namespace fieldbridge::sparkplug {

data_type metric_type(const config::point& p);

// Int8..Int32 and UInt8..UInt32 in int_value, Int64 and UInt64 in
// long_value (signed ones in two's complement, as the specification
// stores them), Float, Double, Boolean, String; a bad reading or a value
// that is not finite: null_value.
wire_value to_wire(data_type t, const std::optional<modbus::value>& v);

// A DCMD metric's value for a metric of type t: the number, truth or text
// it carries (Int8/Int16 in int_value read by their own width, sign-extended
// or not), or why it cannot be one (null, a boolean for a number, text for a
// number).
std::variant<modbus::value, std::string> from_wire(data_type t, const wire_value& v);

// The Sparkplug devices of a configuration: each device with one metric per
// point, in point order (unit, writable).
std::vector<device_definition> devices_of(const config::gateway& cfg);

}  // namespace fieldbridge::sparkplug
