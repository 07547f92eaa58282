#include "drivers/modbus/poll_schedule.hpp"

#include <algorithm>
#include <cassert>

namespace fieldbridge::modbus {

poll_schedule::poll_schedule(const std::vector<std::chrono::milliseconds>& intervals, clock::time_point start) {
    entries_.reserve(intervals.size());
    for (const auto i : intervals) {
        entries_.push_back({std::max<clock::duration>(i, std::chrono::milliseconds(1)), start, 0});
    }
}

poll_schedule::due poll_schedule::next() const {
    assert(!entries_.empty());
    std::size_t best = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i) {
        if (entries_[i].next < entries_[best].next) best = i;
    }
    return {best, entries_[best].next};
}

void poll_schedule::set_interval(std::size_t device, std::chrono::milliseconds interval) {
    entries_.at(device).interval = std::max<clock::duration>(interval, std::chrono::milliseconds(1));
}

void poll_schedule::completed(std::size_t device, clock::time_point now) {
    auto& e = entries_.at(device);
    e.next += e.interval;
    if (e.next < now) {
        // Overrun: jump to the first grid point at or after now.
        const auto behind = (now - e.next + e.interval - clock::duration(1)) / e.interval;
        e.next += behind * e.interval;
        e.missed += static_cast<std::uint64_t>(behind);
    }
}

}  // namespace fieldbridge::modbus
