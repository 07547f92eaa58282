// Runs a task now and then every `interval` on the timer's executor, until
// cancel() or destruction. For the core's housekeeping (watchdog pings,
// queue expiry). Not thread-safe: use from the executor's thread.
#pragma once

#include <chrono>
#include <functional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace fieldbridge::gateway {

class periodic_timer {
public:
    explicit periodic_timer(const boost::asio::any_io_executor& executor) : timer_(executor) {}

    void start(std::chrono::steady_clock::duration interval, std::function<void()> task) {
        interval_ = interval;
        task_ = std::move(task);
        tick();
    }
    void cancel() { timer_.cancel(); }

private:
    void tick() {
        task_();
        timer_.expires_after(interval_);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) tick();
        });
    }

    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::duration interval_{};
    std::function<void()> task_;
};

}  // namespace fieldbridge::gateway
