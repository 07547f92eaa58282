// One timer for many deadlines: wake_at(t) arms it for t unless it is
// already armed for t or earlier; when it fires, the task runs once (it
// asks for the next wake-up itself). For the command dispatcher's held
// commands. Not thread-safe: use from the executor's thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace fieldbridge::gateway {

class wakeup_timer {
public:
    using time_point = std::chrono::steady_clock::time_point;

    wakeup_timer(const boost::asio::any_io_executor& executor, std::function<void()> task)
        : timer_(executor), task_(std::move(task)) {}

    void wake_at(time_point t) {
        if (armed_ && *armed_ <= t) return;
        armed_ = t;
        timer_.expires_at(t);  // cancels the later wake-up
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            armed_.reset();
            task_();
        });
    }
    void cancel() {
        timer_.cancel();
        armed_.reset();
    }

private:
    boost::asio::steady_timer timer_;
    std::function<void()> task_;
    std::optional<time_point> armed_;
};

}  // namespace fieldbridge::gateway
