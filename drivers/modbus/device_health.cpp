#include "drivers/modbus/device_health.hpp"

#include <utility>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

const char* to_string(device_state s) {
    switch (s) {
        case device_state::unknown: return "unknown";
        case device_state::online: return "online";
        case device_state::offline: return "offline";
    }
    return "unknown";
}

namespace {

// Reasons a point was not asked in a poll.
bool left_out(std::error_code e) {
    return e == make_error_code(modbus_errc::device_offline) || e == make_error_code(modbus_errc::block_silent) ||
           e == make_error_code(modbus_errc::not_readable);
}

}  // namespace

bool device_health::record(const poll_result& r) {
    const auto before = state();
    // A worker polls the device again.
    if (std::exchange(not_polled, false)) last_error.clear();
    // Nothing was asked (a device without points): no sign of the device
    // either way; it stays in its state (unknown, never online).
    if (r.samples.empty()) return settle(before, r.time);
    ++polls;
    last_poll = r.time;
    if (any_good(r)) {
        last_good = r.time;
        consecutive_failures = 0;
    } else {
        ++failed_polls;
        ++consecutive_failures;
    }
    // What this poll met (a timeout, an exception) says more than a point
    // left out of it: the first bad sample of the poll that was asked.
    const sample* first_bad = nullptr;
    for (const auto& s : r.samples) {
        if (s.quality.good) continue;
        if (!first_bad) first_bad = &s;
        if (!left_out(s.quality.error)) {
            first_bad = &s;
            break;
        }
    }
    if (first_bad) last_error = first_bad->quality.error.message();
    return settle(before, r.time);
}

bool device_health::record_answer(time_point t) {
    const auto before = state();
    // Heard from, but no poll: polls, failed_polls and last_poll are the
    // polls' alone (status and /metrics show them side by side).
    last_good = t;
    consecutive_failures = 0;
    return settle(before, t);
}

bool device_health::record_not_polled(time_point t, std::string why) {
    const auto before = state();
    not_polled = true;
    last_error = std::move(why);
    return settle(before, t);
}

bool device_health::set_offline_after(unsigned n, time_point t) {
    const auto before = state();
    offline_after = n;
    return settle(before, t);
}

device_state device_health::state() const {
    if (not_polled) return device_state::offline;
    if (consecutive_failures >= offline_after) return device_state::offline;
    // A device never heard from (no good value, no answer to a write) is
    // not said online by a failed poll or two: unknown until it answers,
    // or offline after offline_after polls.
    if (!last_good) return device_state::unknown;
    return device_state::online;
}

bool device_health::settle(device_state before, time_point t) {
    if (before == state()) return false;
    state_since = t;
    return true;
}

}  // namespace fieldbridge::modbus
