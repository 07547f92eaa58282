// Commands waiting for their offline device (commands.max_age): a deadline
// queue per device, bounded per device and in all. Pure: it owns no timer
// and reads no clock; the owner asks next_deadline(), arms its own timer and
// calls expire(now). What leaves the queue is handed back to the owner, who
// runs or answers it. Not thread-safe (the core thread owns it).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fieldbridge::gateway {

class held_commands {
public:
    using time_point = std::chrono::steady_clock::time_point;

    struct command {
        std::string device;
        time_point deadline;
        std::function<void()> go;                         // the device is back: write it
        std::function<void(const std::string&)> give_up;  // answer it with why not
    };

    // Why hold() refused a command; `waiting` is the count that was full.
    enum class refusal { none, device_full, all_full };
    struct hold_result {
        refusal refused = refusal::none;
        std::size_t waiting = 0;
    };

    held_commands(std::size_t per_device, std::size_t total) : per_device_(per_device), total_(total) {}

    // Queues c behind the device's earlier ones, unless the device already
    // has per_device waiting or all devices together total: then c is not
    // kept and the result says which bound was reached.
    hold_result hold(command c);

    // Every command of the device, none stays: those still in time to be
    // written (ready), and those whose deadline is at or before now (expired,
    // to be answered as expire() would have): a device may come back after a
    // deadline passed and before the owner's timer ran expire(). Each list in
    // the order held.
    struct released {
        std::vector<command> ready;
        std::vector<command> expired;
    };
    released release(const std::string& device, time_point now);
    // Every command whose deadline is at or before now, by device name and
    // then in the order held.
    std::vector<command> expire(time_point now);
    // Every command, by device name and then in the order held (to give up).
    std::vector<command> take_all();

    // The earliest deadline held, nullopt when nothing waits.
    std::optional<time_point> next_deadline() const;
    std::size_t size() const { return size_; }
    std::size_t size(const std::string& device) const;

private:
    std::size_t per_device_;
    std::size_t total_;
    std::size_t size_ = 0;
    std::map<std::string, std::deque<command>> waiting_;
};

}  // namespace fieldbridge::gateway
