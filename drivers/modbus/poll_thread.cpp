#include "drivers/modbus/poll_thread.hpp"

#include <boost/asio/steady_timer.hpp>

namespace fieldbridge::modbus {

poll_thread::poll_thread() : work_(io_.get_executor()) {
    // The event loop's descriptors (epoll, its wake-up, the timers') are
    // made here, when a timer is first made: a process short of descriptors
    // learns it now, not in the middle of a loop.
    const boost::asio::steady_timer first(io_);
    thread_ = std::thread([this] { io_.run(); });
}

poll_thread::~poll_thread() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
}

}  // namespace fieldbridge::modbus
