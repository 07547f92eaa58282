// What a listening socket does when accepting fails. With no descriptor to
// be had (EMFILE, ENFILE: the service's LimitNOFILE= reached) the client
// stays in the listen queue and the next accept fails at once: accepting
// again straight away would spin the core thread until a descriptor frees
// up. Instead the acceptor waits `pause` before it tries again, and the
// failure is logged once per run of failures, not once per attempt.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <spdlog/spdlog.h>

namespace fieldbridge::gateway {

class accept_retry {
public:
    static constexpr std::chrono::milliseconds pause{200};

    // what: the listener's name in the log ("control socket").
    accept_retry(const boost::asio::any_io_executor& executor, std::string what)
        : timer_(executor), what_(std::move(what)) {}

    // An accept worked: the next failure is logged again.
    void succeeded() {
        if (failing_) spdlog::info("{}: accepting connections again", what_);
        failing_ = false;
    }
    // An accept failed with ec: `again` (which accepts) runs after the pause,
    // unless cancel() came first.
    template <class Again>
    void failed(const boost::system::error_code& ec, Again again) {
        if (!failing_) {
            spdlog::warn("{}: cannot accept a connection ({}); trying again every {} ms", what_, ec.message(),
                         pause.count());
        }
        failing_ = true;
        timer_.expires_after(pause);
        timer_.async_wait([again = std::move(again)](const boost::system::error_code& e) {
            if (!e) again();
        });
    }
    // The listener stops: a retry waiting does not run.
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    std::string what_;
    bool failing_ = false;
};

}  // namespace fieldbridge::gateway
