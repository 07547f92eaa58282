// simulator: serves the devices of one bus of a configuration as Modbus
// servers — over TCP (several clients at once) or RTU on a serial device (a
// real port or one end of a socat pty pair). Each device has its own
// register map at its unit id, built from its points; values follow the
// points' `simulate` waveforms over time, and a register written by a client
// keeps the written value (the points it touches stop following their
// waveform).
//
// A request for a unit id no device has gets no answer on RTU (as on a real
// line) and exception 11 "gateway target device failed to respond" on TCP
// (as from a Modbus TCP gateway). Reads of registers beyond a device's
// highest mapped address get exception 2.
//
// A TCP bus with `framing: rtu` is served like a serial device server: RTU
// frames on the TCP connection, one client at a time.
//
// On RTU with the bus's simulator_wire_timing, answers leave no sooner than
// a real line at the configured baud would carry them: the request's
// characters, the 3.5-character silence and the answer's characters, so that
// a pty pair behaves like an RS485 line (socat itself ignores the baud). It
// also counts requests that began less than 3.5 characters after its
// previous answer ended (a master that does not keep the silence).
//
// Thread-safety: construct, start() and stop() from one thread; serving
// happens on the simulator's own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "config/model.hpp"

namespace fieldbridge::modbus {

struct simulator_options {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 0;  // 0: the bus's own TCP port (an ephemeral one if that is 0 too)
    std::string serial_device;      // non-empty: serve RTU on this device instead of TCP
    int serial_fd = -1;             // >= 0: serve RTU on this open descriptor (not closed by the simulator)
};

class simulator {
public:
    // Throws std::runtime_error (unknown bus, a bus without devices).
    simulator(const config::gateway& cfg, const std::string& bus_name, simulator_options options = {});
    ~simulator();
    simulator(const simulator&) = delete;
    simulator& operator=(const simulator&) = delete;

    // Binds or opens the device (throws std::runtime_error on failure), then
    // serves on a thread of its own.
    void start();
    void stop();
    // The TCP port being served (after start()); 0 when serving RTU.
    std::uint16_t port() const { return port_; }

    // Requests answered so far (thread-safe).
    std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
    // TCP connections accepted (and kept) so far.
    std::uint64_t connections() const { return connections_.load(std::memory_order_relaxed); }
    // RTU with wire timing: requests that broke the silence after an answer.
    std::uint64_t silence_violations() const { return silence_violations_.load(std::memory_order_relaxed); }

private:
    struct state;

    void serve_tcp();
    void serve_rtu();
    void serve_rtu_over_tcp();
    // RTU frames on fd until it closes or stop(); false when fd failed.
    void serve_rtu_stream(int fd);

    std::unique_ptr<state> state_;
    simulator_options options_;
    std::uint16_t port_ = 0;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> silence_violations_{0};
    std::atomic<std::uint64_t> connections_{0};
    std::thread thread_;
};

}  // namespace fieldbridge::modbus
