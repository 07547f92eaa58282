// What the gateway knows of one device from its polls, and the one
// definition of online and offline: a device is offline after
// `offline_after` polls in a row without one good value, online with
// the first poll that reads one (unknown before either); offline, too,
// while no worker can poll it
// (its bus's worker could not be started). The bus worker uses it to slow the polling
// of an offline device; the core uses it for availability, status and held
// commands. Pure: the times come from the polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "drivers/modbus/poll_result.hpp"

namespace fieldbridge::modbus {

enum class device_state : std::uint8_t { unknown, online, offline };

// "unknown", "online", "offline": the words of status and availability payloads.
const char* to_string(device_state s);

struct device_health {
    using time_point = std::chrono::system_clock::time_point;

    // Consecutive polls without a single good value before a device counts as offline.
    unsigned offline_after = 3;

    std::optional<time_point> last_poll;
    std::optional<time_point> last_good;
    std::optional<time_point> state_since;  // when state() last changed
    std::uint64_t polls = 0;
    std::uint64_t failed_polls = 0;
    unsigned consecutive_failures = 0;
    // The last bad poll's error: of its first point that was asked, or of
    // its first point when none was (offline, held back, not readable).
    std::string last_error;
    // Set by record_not_polled(), cleared by the next poll.
    bool not_polled = false;

    // Counts one poll. A poll without samples (nothing was due) neither
    // answers nor fails. Returns true when state() changed with it.
    bool record(const poll_result& r);
    // Counts an answer outside the poll schedule (a write and its read-back
    // at time t): the device is there (last_good; no poll is counted).
    // Returns true when state() changed.
    bool record_answer(time_point t);
    // No worker polls the device (its bus's worker could not be started, at
    // time t, for the reason `why`, kept as last_error): offline until a
    // worker's poll comes. An answer does not end it: with no worker, one
    // can only come from a worker a reload retired. Returns true when
    // state() changed with it.
    bool record_not_polled(time_point t, std::string why);
    // A reload's offline_after: the failures counted so far may now be an
    // outage, or no longer one. Returns true when state() changed with it.
    bool set_offline_after(unsigned n, time_point t);
    device_state state() const;

private:
    bool settle(device_state before, time_point t);
};

}  // namespace fieldbridge::modbus
