#include "drivers/modbus/device_health.hpp"

namespace fieldbridge::modbus {

const char* to_string(device_state s) {
    switch (s) {
        case device_state::unknown: return "unknown";
        case device_state::online: return "online";
        case device_state::offline: return "offline";
    }
    return "unknown";
}

bool device_health::record(const poll_result& r) {
    const auto before = state();
    ++polls;
    last_poll = r.time;
    if (r.samples.empty()) return settle(before, r.time);
    if (any_good(r)) {
        last_good = r.time;
        consecutive_failures = 0;
    } else {
        ++failed_polls;
        ++consecutive_failures;
    }
    for (const auto& s : r.samples) {
        if (!s.quality.good) {
            last_error = s.quality.error.message();
            break;
        }
    }
    return settle(before, r.time);
}

bool device_health::record_answer(time_point t) {
    const auto before = state();
    ++polls;
    last_poll = t;
    last_good = t;
    consecutive_failures = 0;
    return settle(before, t);
}

device_state device_health::state() const {
    if (polls == 0) return device_state::unknown;
    return consecutive_failures >= offline_after ? device_state::offline : device_state::online;
}

bool device_health::settle(device_state before, time_point t) {
    if (before == state()) return false;
    state_since = t;
    return true;
}

}  // namespace fieldbridge::modbus
