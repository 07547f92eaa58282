// rtu_over_tcp: RTU frames on a TCP connection, for devices behind a serial
// device server (converter) that passes the line's bytes through unchanged.
//
// It gives libmodbus' RTU backend a serial device to talk to: a pty pair,
// whose far end a thread of its own relays to and from the TCP connection.
// The connection is opened (and reopened after it broke) with a back-off;
// while it is down, connected() says so and the bytes written meanwhile are
// dropped. A device behind the converter that does not answer is an RTU
// timeout like on a local line and leaves the connection alone; a converter
// that went away is found by the connection failing (TCP_USER_TIMEOUT bounds
// how long unacknowledged bytes may wait, keepalive probes an idle link).
//
// Thread-safety: construct and destroy from one thread; connected() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace fieldbridge::modbus {

class rtu_over_tcp {
public:
    // Throws std::runtime_error when no pty (or no thread) can be had; the
    // bus worker tries again later with its reopen back-off.
    rtu_over_tcp(std::string bus, std::string host, std::uint16_t port);
    ~rtu_over_tcp();
    rtu_over_tcp(const rtu_over_tcp&) = delete;
    rtu_over_tcp& operator=(const rtu_over_tcp&) = delete;

    // The serial device to open with the RTU backend.
    const std::string& device() const { return device_; }
    bool connected() const { return connected_.load(std::memory_order_acquire); }
    // Connections opened after the first.
    std::uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }

private:
    void run();
    int connect_once();

    std::string bus_;
    std::string host_;
    std::uint16_t port_;
    int master_ = -1;
    int slave_ = -1;  // kept open so that the master never sees a hang-up
    std::string device_;
    std::string last_error_;  // relay thread only
    std::atomic<bool> connected_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> reconnects_{0};
    std::thread thread_;
};

}  // namespace fieldbridge::modbus
