#include "gateway/point_filter.hpp"

#include <cmath>

namespace fieldbridge::gateway {
namespace {

bool changed(const stored_value& last, const filter_settings& settings, const stored_value& value) {
    if (value.is_bad() != last.is_bad()) return true;  // quality changed
    if (value.is_bad()) return false;                  // still bad
    if (value.what() != last.what()) return true;
    const auto now_number = value.number();
    const auto last_number = last.number();
    if (now_number && last_number) {
        // Both NaN: unchanged; one NaN: changed; otherwise beyond the band.
        if (std::isnan(*now_number) || std::isnan(*last_number))
            return std::isnan(*now_number) != std::isnan(*last_number);
        if (settings.deadband > 0.0) return std::fabs(*now_number - *last_number) >= settings.deadband;
    }
    return !(value == last);
}

}  // namespace

bool offer(filter_state& state, const filter_settings& settings, const stored_value& value,
           filter_clock::time_point now) {
    const bool heartbeat_due = settings.heartbeat.count() > 0 && now - state.last_time >= settings.heartbeat;
    if (state.last.is_set() && !heartbeat_due && !changed(state.last, settings, value)) return false;
    state.last = value;
    state.last_time = now;
    return true;
}

}  // namespace fieldbridge::gateway
