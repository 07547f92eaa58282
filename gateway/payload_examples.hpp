// What `fieldbridge check` shows an operator before the first run: the
// messages the first device would publish, made by the same mapper the
// service runs, from stand-in readings (each point's simulate value, else
// 0, false or "text"): one good poll, the first point bad, and the device's
// availability message. Pure: the time is given.
#pragma once

#include <chrono>
#include <string>

#include "config/model.hpp"

namespace fieldbridge::gateway {

// Empty when no device is configured.
std::string example_messages(const config::gateway& cfg, std::chrono::system_clock::time_point time);

}  // namespace fieldbridge::gateway
