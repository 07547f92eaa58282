// Decides whether a new reading of one point is published: on the first
// reading, on a quality change, on a value change beyond the deadband, and
// when the heartbeat has elapsed since the last publish. Pure; owned by the
// core thread.
//
// The mapper keeps one filter_state per point (24 bytes) and passes the
// point's settings with each reading; point_filter bundles both for a
// single point.
#pragma once

#include <chrono>
#include <optional>

#include "drivers/modbus/value_codec.hpp"
#include "gateway/stored_value.hpp"

namespace fieldbridge::gateway {

using filter_clock = std::chrono::steady_clock;

struct filter_settings {
    double deadband = 0.0;                   // absolute, in engineering units; 0 publishes every change
    std::chrono::milliseconds heartbeat{0};  // republish an unchanged value this often; 0 = never
};

// The last published reading of a point (unset before the first).
struct filter_state {
    stored_value last;
    filter_clock::time_point last_time{};
};

// True when `value` (bad: is_bad()) should be published; it then becomes the
// state's last published reading.
bool offer(filter_state& state, const filter_settings& settings, const stored_value& value,
           filter_clock::time_point now);

class point_filter {
public:
    using clock = filter_clock;

    point_filter(double deadband, std::chrono::milliseconds heartbeat) : settings_{deadband, heartbeat} {}

    // `value` is empty for a bad-quality reading.
    bool offer(const std::optional<modbus::value>& value, clock::time_point now) {
        return gateway::offer(state_, settings_, stored_value(value), now);
    }

private:
    filter_settings settings_;
    filter_state state_;
};

}  // namespace fieldbridge::gateway
