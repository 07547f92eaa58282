// One gateway under test with its peers, for the end-to-end and fault
// tests: a directory of its own, a real mosquitto broker (reached directly,
// or through a tcp_proxy that can stall and cut the link), the device
// simulator (`fieldbridge simulate`) on a TCP port or on one end of a socat
// pty pair, and the gateway (`fieldbridge run`). The configuration is built
// with `config` and written to gw.yaml each time something that reads it
// starts. Everything started is stopped when the rig goes, the gateway
// first. Not thread-safe: one test thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/tcp_proxy.hpp"
#include "tests/support/temp_dir.hpp"

namespace fieldbridge::testing {

// The fieldbridge binary the tests run: the one built with them, or the one
// FIELDBRIDGE_TEST_BINARY names (another build of the same sources).
std::string fieldbridge_binary();

// What a `fieldbridge` command printed and how it ended; json is the first
// JSON document in its output (discarded when there is none).
struct cli_answer {
    std::optional<int> exit_code;  // nullopt: still running after the deadline (then killed)
    nlohmann::json json;
    std::string output;
};

// Runs `fieldbridge args...` to its end, 30 s at most.
cli_answer run_fieldbridge(std::vector<std::string> args);

class gateway_rig {
public:
    struct options {
        mosquitto_broker::options broker;
        // The gateway's mqtt.port is the proxy's, which forwards to the broker.
        bool through_proxy = false;
    };

    gateway_rig();
    explicit gateway_rig(const options& o);
    ~gateway_rig();
    gateway_rig(const gateway_rig&) = delete;
    gateway_rig& operator=(const gateway_rig&) = delete;

    const std::filesystem::path& dir() const { return dir_.path(); }
    mosquitto_broker& broker() { return broker_; }
    // Only with options::through_proxy.
    tcp_proxy& proxy();
    // A free port for the simulator's TCP bus.
    std::uint16_t modbus_port() const { return modbus_port_; }

    // Starts out with mqtt host and port (the broker's or the proxy's),
    // store.path queue.db and control.socket control.sock, both beside gw.yaml.
    config_builder config;
    std::string config_path() const { return (dir() / "gw.yaml").string(); }
    // Writes config to gw.yaml; returns its path.
    std::string write_config();
    std::filesystem::path queue_path() const { return dir() / "queue.db"; }
    std::filesystem::path control_path() const { return dir() / "control.sock"; }

    // A socat pty pair standing in for an RS485 line; true once both ends exist.
    bool open_serial_line();
    std::string gateway_tty() const { return (dir() / "ttyGW").string(); }
    std::string device_tty() const { return (dir() / "ttyDEV").string(); }

    // `fieldbridge simulate` serving `bus` of gw.yaml (written first), on its
    // TCP port: true once the port listens (within 10 s).
    bool start_simulator(const std::string& bus = "line");
    // The same on the device end of the serial line (open_serial_line()).
    void start_serial_simulator(const std::string& bus = "line");
    // Same, from another configuration file.
    void start_simulator_with(const std::string& config_file, const std::string& bus);
    child_process& simulator() { return *simulator_; }
    // SIGKILL, waited for: the device vanishes.
    void kill_simulator();

    // `fieldbridge <global_args> run -c gw.yaml` (written first); replaces a
    // gateway started before (stopped first if it still runs).
    child_process& start_gateway(const std::vector<std::string>& global_args = {});
    child_process& gateway() { return *gateway_; }
    // SIGKILL, waited for: a crash or a power cut.
    void kill_gateway();

    // `fieldbridge status -c gw.yaml <extra>`.
    cli_answer status(const std::vector<std::string>& extra = {"--json"}) const;
    // status.<section>.<key> as a number, or -1 while the gateway does not answer.
    long long status_number(const std::string& section, const std::string& key) const;
    // Rows in the gateway's queue, read with sqlite3 as an operator would; -1 when unreadable.
    long queued_rows() const;
    // Rows in the queue that no subscriber can have had yet: all but the
    // QoS 2 flows whose PUBREL is out (the broker may have released those to
    // its subscribers already, and a resumed session only completes them).
    long unreleased_rows() const;
    // mosquitto_pub at QoS 1; true when it exited with 0.
    bool publish(const std::string& topic, const std::string& payload, bool retain = false);

private:
    temp_dir dir_;
    mosquitto_broker broker_;
    std::unique_ptr<tcp_proxy> proxy_;
    std::uint16_t modbus_port_;
    std::unique_ptr<child_process> serial_line_;
    std::unique_ptr<child_process> simulator_;
    std::unique_ptr<child_process> gateway_;
};

}  // namespace fieldbridge::testing
