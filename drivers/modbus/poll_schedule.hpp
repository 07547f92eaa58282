// poll_schedule: which device on a bus is due next, and when. Pure: the
// caller passes `now`; no clock is read, no thread is started. Owned by one
// bus worker; not thread-safe.
//
// Each device is polled on a fixed grid start + k * interval, so a slow
// cycle does not push every later poll back (no drift). A poll that ends
// after one or more grid points has missed them: they are skipped, not
// caught up, so an overrun never turns into a burst of polls.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fieldbridge::modbus {

class poll_schedule {
public:
    using clock = std::chrono::steady_clock;

    struct due {
        std::size_t device = 0;
        clock::time_point at;
    };

    // One interval per device; intervals below 1 ms count as 1 ms. All
    // devices are first due at `start`.
    poll_schedule(const std::vector<std::chrono::milliseconds>& intervals, clock::time_point start);

    // The device due first (ties: lowest index). Requires at least one device.
    due next() const;

    // The poll of `device` that was due ended at `now`: move it to the
    // next grid point, or to the first one at or after `now` on an overrun.
    void completed(std::size_t device, clock::time_point now);

    // Polls of `device` from its next completion on are `interval` apart
    // (an offline device polled less often, and back).
    void set_interval(std::size_t device, std::chrono::milliseconds interval);

    // Grid points skipped because a poll ran past them, per device.
    std::uint64_t missed(std::size_t device) const { return entries_.at(device).missed; }

    std::size_t size() const { return entries_.size(); }

private:
    struct entry {
        clock::duration interval;
        clock::time_point next;
        std::uint64_t missed = 0;
    };
    std::vector<entry> entries_;
};

}  // namespace fieldbridge::modbus
