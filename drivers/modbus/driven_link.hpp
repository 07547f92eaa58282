// driven_link: a link whose waits do not block (tcp_stream_link), asked
// through the blocking interface: each call runs the link's coroutine on
// an event loop of its own to its end. What make_link gives for Modbus TCP
// (scan, the one-shot commands, a worker on a thread of its own), so that
// one framing serves every Modbus TCP caller.
#pragma once

#include <optional>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "drivers/modbus/link.hpp"

namespace fieldbridge::modbus {

template <class Link>
class driven_link final : public blocking_link {
public:
    template <class... Args>
    explicit driven_link(Args&&... args) : link_(std::forward<Args>(args)..., io_.get_executor()) {}

    std::error_code open(clock::time_point now) override { return run(link_.async_open(now)); }
    std::error_code exchange(const request& r, reply& answer) override { return run(link_.async_exchange(r, answer)); }
    bool connected() const override { return link_.connected(); }
    void close() override { link_.close(); }
    void release() override { link_.release(); }
    std::uint64_t reconnects() const override { return link_.reconnects(); }
    clock::time_point ready_at(std::chrono::milliseconds connect_pause) const override {
        return link_.ready_at(connect_pause);
    }
    Link& inner() { return link_; }

    static constexpr int half_open_after = Link::half_open_after;

private:
    std::error_code run(boost::asio::awaitable<std::error_code> op) {
        std::optional<std::error_code> outcome;
        boost::asio::co_spawn(io_, std::move(op), [&](const std::exception_ptr& e, std::error_code error) {
            if (e) std::rethrow_exception(e);
            outcome = error;
        });
        io_.restart();
        io_.run();
        return outcome.value();
    }

    boost::asio::io_context io_;
    Link link_;
};

}  // namespace fieldbridge::modbus
