#include "drivers/modbus/rtu_over_tcp.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

#include "drivers/modbus/open_attempts.hpp"

namespace fieldbridge::modbus {
namespace {

// Writes all of buf or fails.
bool write_all(int fd, const std::uint8_t* buf, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd p{fd, POLLOUT, 0};
                if (::poll(&p, 1, 1000) <= 0) return false;
                continue;
            }
            return false;
        }
        buf += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

rtu_over_tcp::rtu_over_tcp(std::string bus, std::string host, std::uint16_t port)
    : bus_(std::move(bus)), host_(std::move(host)), port_(port) {
    master_ = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    char name[128] = {};
    if (master_ < 0 || grantpt(master_) != 0 || unlockpt(master_) != 0 || ptsname_r(master_, name, sizeof name) != 0) {
        const std::string why = std::strerror(errno);
        if (master_ >= 0) ::close(master_);
        throw std::runtime_error("bus " + bus_ + ": cannot create a pty for RTU over TCP: " + why);
    }
    device_ = name;
    slave_ = ::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (slave_ >= 0) {
        termios t{};
        if (tcgetattr(slave_, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(slave_, TCSANOW, &t);
        }
    }
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
        // The destructor does not run for a constructor that throws.
        if (slave_ >= 0) ::close(slave_);
        ::close(master_);
        throw std::runtime_error("bus " + bus_ + ": cannot start the relay for RTU over TCP: " + e.what());
    }
}

rtu_over_tcp::~rtu_over_tcp() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (slave_ >= 0) ::close(slave_);
    if (master_ >= 0) ::close(master_);
}

// A connected socket, or -1; waits at most a second for the connection.
int rtu_over_tcp::connect_once() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found); rc != 0) {
        last_error_ = gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    for (auto* a = found; a != nullptr && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last_error_ = std::strerror(errno);
            ::close(fd);
            fd = -1;
            continue;
        }
        pollfd p{fd, POLLOUT, 0};
        int error = 0;
        socklen_t len = sizeof error;
        if (::poll(&p, 1, 1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
            last_error_ = error != 0 ? std::strerror(error) : "timed out";
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) return -1;
    const int one = 1, idle = 10, interval = 5, count = 3;
    const unsigned user_timeout_ms = 20'000;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    return fd;
}

void rtu_over_tcp::run() {
    using steady = std::chrono::steady_clock;
    int sock = -1;
    open_attempts attempts;
    std::uint8_t buf[512];
    while (!stopping_) {
        if (sock < 0 && attempts.due(steady::now())) {
            sock = connect_once();
            // Measured from the attempt's end: a connect that timed out
            // after a second must not make the next one due at once.
            const auto now = steady::now();
            if (sock >= 0) {
                const auto opening = attempts.opened(now);
                if (opening.reopened) reconnects_.fetch_add(1, std::memory_order_relaxed);
                if (opening.tell) spdlog::info("bus {}: connected to {}:{} (RTU over TCP)", bus_, host_, port_);
                connected_.store(true, std::memory_order_release);
            } else if (attempts.failed(now)) {
                spdlog::warn("bus {}: cannot connect to {}:{}: {}; retrying", bus_, host_, port_, last_error_);
            }
        }
        pollfd fds[2] = {{master_, POLLIN, 0}, {sock, POLLIN, 0}};
        const int n = ::poll(fds, sock >= 0 ? 2 : 1, 100);  // stop is noticed within 100 ms
        if (n <= 0) continue;
        bool broken = false;
        if (fds[0].revents & POLLIN) {
            const ssize_t got = ::read(master_, buf, sizeof buf);
            // Bytes written while the connection is down go nowhere, as on
            // a line whose converter is off.
            if (got > 0 && sock >= 0 && !write_all(sock, buf, static_cast<std::size_t>(got))) broken = true;
        }
        if (sock >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            const ssize_t got = ::read(sock, buf, sizeof buf);
            if (got > 0) {
                // Something behind the converter answered: the connection is a
                // good one, and the back-off starts over.
                attempts.proven();
                write_all(master_, buf, static_cast<std::size_t>(got));
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                broken = true;
            }
        }
        if (broken) {
            connected_.store(false, std::memory_order_release);
            ::close(sock);
            sock = -1;
            // A converter that accepts and closes at once (its one client
            // slot taken, a client filter) backs off like a refused connect,
            // and is told once, not at every attempt.
            const bool proven = attempts.answered();
            if (attempts.broke(steady::now())) {
                if (proven) {
                    spdlog::warn("bus {}: the connection to {}:{} broke; reconnecting", bus_, host_, port_);
                } else {
                    spdlog::warn("bus {}: {}:{} closed the connection before anything was answered on it; "
                                 "retrying with back-off",
                                 bus_, host_, port_);
                }
            }
        }
    }
    connected_.store(false, std::memory_order_release);
    if (sock >= 0) ::close(sock);
}

}  // namespace fieldbridge::modbus
