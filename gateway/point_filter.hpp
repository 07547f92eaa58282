// Decides whether a new reading of one point is published: on the first
// reading, on a quality change, on a value change beyond the deadband, and
// when the heartbeat has elapsed since the last publish. Pure; one instance
// per point, owned by the core thread.
#pragma once

#include <chrono>
#include <optional>

#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::gateway {

class point_filter {
public:
    using clock = std::chrono::steady_clock;

    // deadband: absolute, in engineering units; 0 publishes every change.
    // heartbeat: republish an unchanged value this often; 0 = never.
    point_filter(double deadband, std::chrono::milliseconds heartbeat)
        : deadband_(deadband), heartbeat_(heartbeat) {}

    // Returns true when the reading should be published, and then takes it
    // as the last published one. `value` is empty for a bad-quality reading.
    bool offer(const std::optional<modbus::value>& value, clock::time_point now);

private:
    bool changed(const std::optional<modbus::value>& value) const;

    double deadband_;
    std::chrono::milliseconds heartbeat_;
    bool published_ = false;
    std::optional<modbus::value> last_;
    clock::time_point last_time_{};
};

}  // namespace fieldbridge::gateway
