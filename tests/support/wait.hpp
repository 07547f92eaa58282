// Waiting on a condition with a deadline, for tests: no test sleeps and
// hopes. Header-only, no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace fieldbridge::testing {

// Evaluates pred until it holds or timeout has passed; returns its last value.
// Polls every few milliseconds: good for conditions in another process
// (a file, a port, a child's output) where nothing can notify us.
template <class Predicate>
bool wait_until(Predicate pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// released). Another process can take it in between; tests accept that.
std::uint16_t free_tcp_port();

// Whether something accepts TCP connections on 127.0.0.1:port right now.
bool tcp_port_open(std::uint16_t port);

}  // namespace fieldbridge::testing
