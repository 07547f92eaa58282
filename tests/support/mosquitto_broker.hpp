// A real mosquitto broker for tests: its own directory, configuration and
// loopback port; started in the constructor, killed in the destructor. It
// can be stopped, killed and restarted on the same port to play an uplink
// outage. Not thread-safe: one test thread owns it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/child_process.hpp"

namespace fieldbridge::testing {

class mosquitto_broker {
public:
    struct options {
        // The listener speaks TLS with a certificate for the name localhost
        // only (not the address 127.0.0.1), signed by a CA made for this
        // broker (ca_file()).
        bool tls = false;
        // Keep sessions and queued messages on disk across restarts.
        bool persistence = false;
        // Log every packet (mosquitto's debug lines: what wait_subscribed()
        // and tests that read log() look for). Off, the log keeps errors,
        // warnings, notices and connections only: at tens of thousands of
        // messages a second, two flushed log lines each are most of the
        // broker's own work, so the benchmarks turn it off.
        bool log_packets = true;
        // Appended to the generated mosquitto.conf.
        std::string extra_config;
    };

    mosquitto_broker();
    explicit mosquitto_broker(options o);
    ~mosquitto_broker();
    mosquitto_broker(const mosquitto_broker&) = delete;
    mosquitto_broker& operator=(const mosquitto_broker&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string host() const { return "127.0.0.1"; }
    std::filesystem::path dir() const { return dir_; }
    // The CA that signed the server certificate (TLS only); client.crt and
    // client.key beside it are a client certificate signed by the same CA.
    std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
    bool running() const;
    // The broker's process (-1 when it is not started): for the benchmarks'
    // CPU figures.
    pid_t pid() const noexcept;

    // Starts on the same port; throws std::runtime_error if it does not
    // listen within 10 s.
    void start();
    // SIGTERM and wait: a clean broker shutdown.
    void stop();
    // SIGKILL: the broker vanishes without closing anything cleanly.
    void kill9();
    // The broker's log so far.
    std::string log() const;

private:
    void write_config() const;
    void make_certificates() const;

    options options_;
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
};

}  // namespace fieldbridge::testing
