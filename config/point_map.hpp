// The effective point map as a person reads it: what `fieldbridge check`
// prints after a configuration passed validation. Pure.
#pragma once

#include <string>

#include "config/model.hpp"

namespace fieldbridge::config {

// Per bus and device (unit id, poll interval, profile), one line per point:
// name, register kind and address range, type, word order, scale/offset and
// unit, qos/retain/writable flags, and the expanded MQTT topic.
std::string format_point_map(const gateway& cfg);

}  // namespace fieldbridge::config
