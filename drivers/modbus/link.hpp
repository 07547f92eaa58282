// link: the connection a bus worker talks to its devices through, whatever
// carries it. One backend per transport, in the manner of libmodbus' own
// backend table: tcp_stream_link (Modbus TCP framed here, on Asio, for many
// connections on one thread; driven_link asks it through the blocking
// interface), rtu_link (RTU on a local serial line) and rtu_over_tcp_link
// (RTU frames through a serial device server). A backend owns the connection, the
// framing, the line's silence and RS485 direction, and what a failed
// request does to the connection; the worker decides what to ask and what
// to do with the answer.
//
// The worker asks through coroutines (open, exchange). A blocking_link
// answers them with a blocking call on the worker's own thread; a link
// whose waits do not block (shares_thread()) may share a poll thread with
// the links of other buses.
//
// Thread-safety: one thread (the bus worker's) uses a link; not shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "config/model.hpp"
#include "drivers/modbus/request.hpp"

namespace fieldbridge::modbus {

class link {
public:
    using clock = std::chrono::steady_clock;

    link() = default;
    virtual ~link() = default;
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    // Opens the connection unless it is open. After a failed attempt the
    // next one waits (the reopen back-off, open_attempts), so this returns
    // connection_failed at once while the back-off runs.
    virtual boost::asio::awaitable<std::error_code> async_open(clock::time_point now) = 0;
    virtual bool connected() const = 0;
    // Closes the connection (the worker ends, or the link is broken); the
    // next open after a close() counts as a reconnect.
    virtual void close() = 0;
    // The device just polled asks for the connection to be closed after its
    // poll (close_after_poll). Only a connection of its own is closed, and
    // opening it again is not a reconnect; a line the devices share stays.
    virtual void release() = 0;
    // Connections opened again after the first one (broken links).
    virtual std::uint64_t reconnects() const = 0;

    // The earliest moment the next request may start: after the silence
    // that must follow the last frame on a serial line, and `connect_pause`
    // after a TCP connection opened (devices deaf just after connect).
    virtual clock::time_point ready_at(std::chrono::milliseconds connect_pause) const = 0;

    // Sends r on the open link and waits for its answer (up to r.timeout).
    // Empty: answered as asked, and `answer` holds what a read returned.
    // Otherwise the reason (a Modbus exception, timeout, invalid_response,
    // connection_failed), after the backend did what the failure means for
    // the connection (reopen, flush a half frame, nothing).
    virtual boost::asio::awaitable<std::error_code> async_exchange(const request& r, reply& answer) = 0;

    // Whether the link waits without blocking its thread: such a link may
    // share a poll thread with the links of other buses.
    virtual bool shares_thread() const { return false; }
    // Ends the open or exchange in flight soon (connection_failed): the
    // worker is stopping. Called on the worker's executor; a blocking link's
    // call ends on its own.
    virtual void cancel() {}
};

// A link that talks with blocking calls: used as it is by one-shot callers
// (scan), and by a bus worker on a thread of its own.
class blocking_link : public link {
public:
    virtual std::error_code open(clock::time_point now) = 0;
    virtual std::error_code exchange(const request& r, reply& answer) = 0;

    boost::asio::awaitable<std::error_code> async_open(clock::time_point now) final { co_return open(now); }
    boost::asio::awaitable<std::error_code> async_exchange(const request& r, reply& answer) final {
        co_return exchange(r, answer);
    }
};

// The backend the bus's configuration asks for (not yet opened), asked
// through blocking calls.
std::unique_ptr<blocking_link> make_link(const config::bus& bus);

// Whether the bus's transport has a backend that does not block (Modbus
// TCP): make_shared_link gives it, for a poll thread shared with other buses.
bool shares_poll_thread(const config::bus& bus);
std::unique_ptr<link> make_shared_link(const config::bus& bus, const boost::asio::any_io_executor& executor);

}  // namespace fieldbridge::modbus
