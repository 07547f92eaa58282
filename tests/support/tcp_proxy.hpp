// A TCP proxy for fault tests: forwards 127.0.0.1:port() to an upstream
// port, and on command stalls every connection (bytes stop moving both ways
// while the sockets stay open: a partition that looks like a live link) or
// cuts them (closed at once). Runs its own thread; the control calls are
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace fieldbridge::testing {

class tcp_proxy {
public:
    explicit tcp_proxy(std::uint16_t upstream_port);
    ~tcp_proxy();
    tcp_proxy(const tcp_proxy&) = delete;
    tcp_proxy& operator=(const tcp_proxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    // Stop moving bytes on every connection (new ones are accepted and stall too).
    void stall() { stalled_ = true; }
    void resume() { stalled_ = false; }
    // Close every connection now; new connections are accepted as before.
    void cut() { cut_requested_ = true; }
    // Connections accepted so far.
    unsigned accepted() const noexcept { return accepted_; }
    // cut() requests carried out so far (the connections closed).
    unsigned cuts() const noexcept { return cuts_; }

private:
    void run();

    std::uint16_t upstream_;
    std::uint16_t port_ = 0;
    int listen_fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<bool> stalled_{false};
    std::atomic<bool> cut_requested_{false};
    std::atomic<unsigned> accepted_{0};
    std::atomic<unsigned> cuts_{0};
    std::thread thread_;
};

}  // namespace fieldbridge::testing
