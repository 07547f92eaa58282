// What the TCP-borne link backends do with peers that misbehave: a serial
// server that accepts a connection and closes it at once. Against the
// simulator where it can show the fault, else against a scripted peer on a
// loopback socket.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/rtu_over_tcp_link.hpp"
#include "tests/modbus/captured_log.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A listening socket on an ephemeral loopback port; -1 when none can be had.
int listen_on_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
}

// A serial server whose one client slot is taken by someone else: it
// accepts every connection and closes it at once. Notes when each came.
class accept_and_close {
public:
    accept_and_close() : listener_(listen_on_loopback(port_)) {
        if (listener_ < 0) return;
        thread_ = std::jthread([this](const std::stop_token& stop) {
            while (!stop.stop_requested()) {
                pollfd p{listener_, POLLIN, 0};
                if (::poll(&p, 1, 20) != 1) continue;
                const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                {
                    // Noted before the close: the relay's wait runs from when it saw the close.
                    std::lock_guard lock(mutex_);
                    accepted_.push_back(steady::now());
                }
                ::close(c);
            }
        });
    }
    ~accept_and_close() {
        thread_ = {};
        if (listener_ >= 0) ::close(listener_);
    }
    accept_and_close(const accept_and_close&) = delete;
    accept_and_close& operator=(const accept_and_close&) = delete;
    std::uint16_t port() const { return port_; }
    std::vector<steady::time_point> accepted() const {
        std::lock_guard lock(mutex_);
        return accepted_;
    }

private:
    std::uint16_t port_ = 0;
    int listener_ = -1;
    mutable std::mutex mutex_;
    std::vector<steady::time_point> accepted_;
    std::jthread thread_;
};

// The reopen back-off holds for a connection that closes before anything
// came over it: 100 ms, then doubling. Reconnecting at once would make
// thousands of connections a second and log a warning for each.
TEST(rtu_over_tcp_link, a_converter_that_closes_every_connection_at_once_is_retried_with_back_off) {
    const captured_log log;
    const accept_and_close converter;
    ASSERT_NE(converter.port(), 0);
    rtu_over_tcp_link l("line", config::tcp_link{"127.0.0.1", converter.port(), config::tcp_framing::rtu});
    // Sets the relay up (which may find a connection up for the moment it lasts).
    static_cast<void>(l.open(steady::now()));
    // Within 3 s the back-off (100, 200, 400, 800, 1600 ms) allows 5 or 6.
    EXPECT_FALSE(testing::wait_until([&] { return converter.accepted().size() > 8; }, 3s))
        << converter.accepted().size() << " connections in 3 s";
    const auto times = converter.accepted();
    ASSERT_GE(times.size(), 3u) << "it keeps trying";
    auto wait = 100ms;
    for (std::size_t i = 1; i < times.size(); ++i, wait = std::min(wait * 2, std::chrono::milliseconds(5000))) {
        EXPECT_GE(times[i] - times[i - 1], wait) << "between connection " << i << " and " << i + 1;
    }
    EXPECT_EQ(log.count("closed the connection before anything was answered"), 1u) << "told once, not each time";
}

}  // namespace
}  // namespace fieldbridge::modbus
