// The plain data a bus hands to the rest of the gateway: one device poll's
// samples, a write's or read's outcome, and the bus's counters. No thread,
// no libmodbus: whoever needs a struct includes this, not the worker.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "drivers/modbus/block_id.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/register_words.hpp"

namespace fieldbridge::modbus {

struct quality {
    bool good = true;
    std::error_code error;  // why the reading is bad
};

struct sample {
    std::size_t point = 0;              // index into the device's points
    register_words words;               // the point's registers; one 0/1 word for a coil or discrete input
    modbus::quality quality;
};

struct poll_result {
    std::string device;
    std::chrono::system_clock::time_point time;  // when the poll ended
    std::vector<sample> samples;
    std::chrono::microseconds duration{};
    // Merged reads the device refused with exception 2 during this poll and
    // that are read in parts from now on: worth remembering across restarts.
    std::vector<refused_read> refused;
    // Good values this poll read and then dropped, because a write let in
    // between its block reads changed their registers (the write's
    // read-back has the points' values): the device answered all the same.
    bool overwritten_good = false;
    // Held while the result is out: the worker's credit (result_credits)
    // comes back when the last copy goes. Whoever keeps results for longer
    // than it takes to use them resets it.
    std::shared_ptr<const void> receipt;
};

// Whether a poll read at least one point: the device answered.
inline bool any_good(const poll_result& r) {
    return r.overwritten_good ||
           std::any_of(r.samples.begin(), r.samples.end(), [](const sample& s) { return s.quality.good; });
}

struct bus_counters {
    std::uint64_t polls = 0;       // device polls completed
    std::uint64_t requests = 0;    // Modbus requests sent (retries included)
    std::uint64_t failures = 0;    // requests that failed
    std::uint64_t timeouts = 0;
    std::uint64_t exceptions = 0;  // Modbus exception responses
    std::uint64_t reconnects = 0;  // connections (re)opened after the first
    std::chrono::microseconds busy{};     // time spent in requests (waiting for answers included)
    std::chrono::microseconds running{};  // time since the worker started
    // Fraction of the time the bus spent on requests: how close to its
    // limit the line is. 0 before the worker started.
    double utilisation() const {
        return running.count() > 0 ? static_cast<double>(busy.count()) / static_cast<double>(running.count()) : 0.0;
    }
};

// Per device, from the worker's point of view.
struct device_counters {
    std::uint64_t polls = 0;
    std::uint64_t requests = 0;      // retries included
    std::uint64_t retries = 0;       // requests repeated after a failure
    std::uint64_t timeouts = 0;
    std::uint64_t exceptions = 0;    // Modbus exception responses
    std::uint64_t other_errors = 0;  // CRC, malformed answers, link down
    std::uint64_t missed_polls = 0;  // grid points skipped because the bus was late (cycles not kept)
    std::chrono::microseconds last_poll_duration{};
    std::optional<std::chrono::system_clock::time_point> last_success;  // last request answered
    // Block reads held back now: no answer in the device's last polls while
    // it answered its others (silent_blocks.hpp).
    std::vector<block_id> held_reads;
};

// The outcome of a read or a write: the error, or the point's registers as
// read (after the write; one 0/1 word for a coil or discrete input).
struct point_result {
    std::error_code error;
    std::vector<std::uint16_t> readback;
    // The device answered the write: it holds the value even when `error`
    // says the read-back after it failed (sending the write again may write
    // twice).
    bool written = false;
};

}  // namespace fieldbridge::modbus
