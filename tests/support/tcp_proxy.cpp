#include "tests/support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace fieldbridge::testing {
namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

struct pair_of_sockets {
    int client;
    int server;
};

}  // namespace

tcp_proxy::tcp_proxy(std::uint16_t upstream_port) : upstream_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("tcp_proxy: socket failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("tcp_proxy: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

tcp_proxy::~tcp_proxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
}

void tcp_proxy::run() {
    std::vector<pair_of_sockets> pairs;
    const auto close_all = [&] {
        for (const auto& p : pairs) {
            ::close(p.client);
            ::close(p.server);
        }
        pairs.clear();
    };
    char buffer[16384];
    while (!stop_) {
        if (cut_requested_.exchange(false)) {
            close_all();
            ++cuts_;
        }
        std::vector<pollfd> fds;
        fds.push_back({listen_fd_, POLLIN, 0});
        if (!stalled_) {
            for (const auto& p : pairs) {
                fds.push_back({p.client, POLLIN, 0});
                fds.push_back({p.server, POLLIN, 0});
            }
        }
        if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
        if (fds[0].revents & POLLIN) {
            const int c = ::accept(listen_fd_, nullptr, nullptr);
            if (c >= 0) {
                const int s = ::socket(AF_INET, SOCK_STREAM, 0);
                auto up = loopback(upstream_);
                if (s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&up), sizeof up) == 0) {
                    pairs.push_back({c, s});
                    ++accepted_;
                } else {
                    ::close(c);
                    if (s >= 0) ::close(s);
                }
            }
        }
        if (stalled_) continue;
        std::vector<pair_of_sockets> alive;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            const auto& p = pairs[i];
            const auto forward = [&](int from, int to, std::size_t index) {
                if (index >= fds.size() || !(fds[index].revents & (POLLIN | POLLHUP | POLLERR))) return true;
                const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
                return n > 0 && ::send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n;
            };
            const bool ok = forward(p.client, p.server, 1 + 2 * i) && forward(p.server, p.client, 2 + 2 * i);
            if (ok) {
                alive.push_back(p);
            } else {
                ::close(p.client);
                ::close(p.server);
            }
        }
        pairs = std::move(alive);
    }
    close_all();
}

}  // namespace fieldbridge::testing
