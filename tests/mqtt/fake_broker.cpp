#include "tests/mqtt/fake_broker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>

namespace fieldbridge::mqtt::testing {
namespace {

using steady = std::chrono::steady_clock;

int millis_left(steady::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

// Waits until fd is readable; false on timeout.
bool readable(int fd, steady::time_point deadline) {
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        const int r = ::poll(&p, 1, millis_left(deadline));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

fake_connection::fake_connection(int fd, protocol_version version) : fd_(fd), version_(version) {}

fake_connection::~fake_connection() { drop(); }

void fake_connection::drop() {
    if (fd_ < 0) return;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
}

std::optional<packet> fake_connection::receive(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
        if (!rx_.empty()) {
            auto r = decode(rx_, decode_options{version_});
            if (r.status == decode_status::error) return std::nullopt;
            if (r.status == decode_status::complete) {
                rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(r.consumed));
                return std::move(r.packet);
            }
        }
        if (fd_ < 0 || !readable(fd_, deadline)) return std::nullopt;
        std::array<std::uint8_t, 4096> buf{};
        const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n <= 0) return std::nullopt;
        rx_.insert(rx_.end(), buf.begin(), buf.begin() + n);
    }
}

std::optional<packet> fake_connection::receive_skipping_pings(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
        auto p = receive(std::chrono::milliseconds(millis_left(deadline)));
        if (!p || !std::holds_alternative<pingreq>(*p)) return p;
        send(pingresp{});
    }
}

void fake_connection::send(const packet& p) {
    const auto bytes = encode(p, version_);
    if (!bytes) throw std::runtime_error("fake broker: cannot encode: " + bytes.error().message());
    send_bytes(*bytes);
}

void fake_connection::send_bytes(std::span<const std::uint8_t> bytes) {
    std::size_t done = 0;
    while (fd_ >= 0 && done < bytes.size()) {
        const auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

bool fake_connection::closed_by_client(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (fd_ >= 0 && readable(fd_, deadline)) {
        std::array<std::uint8_t, 4096> buf{};
        const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n <= 0) return true;
    }
    return false;
}

fake_broker::fake_broker(protocol_version version) : version_(version) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake broker: socket failed");
    int yes = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 8) != 0) {
        throw std::runtime_error("fake broker: cannot listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
}

fake_broker::~fake_broker() {
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::unique_ptr<fake_connection> fake_broker::accept(std::chrono::milliseconds timeout) {
    if (!readable(listen_fd_, steady::now() + timeout)) return nullptr;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return nullptr;
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    return std::make_unique<fake_connection>(fd, version_);
}

std::unique_ptr<fake_connection> fake_broker::accept_session(const connack& answer, connect* connect_out,
                                                             std::chrono::milliseconds timeout) {
    auto c = accept(timeout);
    if (!c) return nullptr;
    auto p = c->receive(timeout);
    if (!p || !std::holds_alternative<connect>(*p)) return nullptr;
    if (connect_out != nullptr) *connect_out = std::get<connect>(*p);
    c->send(answer);
    return c;
}

}  // namespace fieldbridge::mqtt::testing
