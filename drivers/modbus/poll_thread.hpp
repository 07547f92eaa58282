// poll_thread: a thread running an Asio event loop that bus workers run
// their poll loops on (bus_worker.hpp): one per worker whose link blocks,
// or one shared by the workers of many Modbus TCP buses whose links do not
// (tcp_stream_link), so that a thousand connections take one thread.
//
// Thread-safety: construct and destroy from one thread (not this one);
// executor() from any. The constructor throws (boost::system::system_error)
// when the event loop's descriptors cannot be had. The destructor ends the loop once the work posted
// to it is done; the workers on it must have finished (bus_worker::stop).
#pragma once

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace fieldbridge::modbus {

class poll_thread {
public:
    using executor_type = boost::asio::io_context::executor_type;

    poll_thread();
    ~poll_thread();
    poll_thread(const poll_thread&) = delete;
    poll_thread& operator=(const poll_thread&) = delete;

    executor_type executor() { return io_.get_executor(); }

private:
    boost::asio::io_context io_{1};
    std::optional<boost::asio::executor_work_guard<executor_type>> work_;
    std::thread thread_;
};

}  // namespace fieldbridge::modbus
