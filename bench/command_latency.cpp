// Command latency on loopback: publish a command to a writable point, wait
// for its reply (written, read back, answered), repeat. The gateway runs as
// it would in production (`fieldbridge run`) against `fieldbridge simulate`
// on Modbus TCP and a real mosquitto, with a poll load running: 20 devices x
// 10 points polled every second besides the one commanded.
//
// Usage: bench_command_latency [COMMANDS]   (default 500)
// Prints p50, p90, p99 and max of the command → reply time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "mqtt/client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;
using fieldbridge::testing::child_process;
using fieldbridge::testing::mosquitto_broker;

int main(int argc, char** argv) {
    const int commands = argc > 1 ? std::max(1, std::atoi(argv[1])) : 500;
    std::string pattern = (fs::temp_directory_path() / "fieldbridge-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    const fs::path dir = pattern;

    // Without TCP_NODELAY on the broker's side, Nagle's algorithm and delayed
    // ACKs add ~40 ms to small request/response exchanges; brokers in
    // production set it for the same reason.
    mosquitto_broker::options broker_options;
    broker_options.extra_config = "set_tcp_nodelay true\n";
    broker_options.log_packets = false;
    mosquitto_broker broker(broker_options);
    const auto modbus_port = fieldbridge::testing::free_tcp_port();
    std::ostringstream y;
    y << "mqtt: { host: 127.0.0.1, port: " << broker.port() << ", client_id: bench-gw }\n"
      << "publish: { prefix: bench, heartbeat: 60s }\n"
      << "store: { path: " << (dir / "queue.db").string() << " }\n"
      << "control: { socket: " << (dir / "control.sock").string() << " }\n"
      << "profiles:\n  meter:\n    points:\n";
    for (int i = 0; i < 10; ++i) {
        y << "      - { name: p" << i << ", register: input, address: " << 2 * i
          << ", type: float32, simulate: { wave: sine, value: 100, amplitude: 10, period: 7s } }\n";
    }
    y << "buses:\n  line: { type: tcp, host: 127.0.0.1, port: " << modbus_port << " }\n"
      << "devices:\n"
      << "  pump: { bus: line, unit_id: 1, poll_interval: 1s, points: [ { name: setpoint, register: holding, "
         "address: 0, type: uint16, writable: true } ] }\n";
    for (int d = 2; d <= 21; ++d) y << "  m" << d << ": { bus: line, unit_id: " << d << ", profile: meter, poll_interval: 1s }\n";
    const auto cfg = (dir / "bench.yaml").string();
    std::ofstream(cfg) << y.str();

    child_process sim({FIELDBRIDGE_BINARY, "simulate", "-c", cfg, "--bus", "line"});
    if (!fieldbridge::testing::wait_until([&] { return fieldbridge::testing::tcp_port_open(modbus_port); }, 10s)) {
        std::fprintf(stderr, "simulator did not start: %s\n", sim.output().c_str());
        return 1;
    }
    child_process gw({FIELDBRIDGE_BINARY, "--log-level", "warn", "run", "-c", cfg});

    asio::io_context io;
    fieldbridge::mqtt::client_options o;
    o.host = broker.host();
    o.port = broker.port();
    o.client_id = "bench-commander";
    fieldbridge::mqtt::client c(io.get_executor(), o);
    std::map<std::string, std::chrono::steady_clock::time_point> replies;
    c.subscribe("bench/pump/setpoint/reply", fieldbridge::mqtt::qos::at_least_once,
                [&](const fieldbridge::mqtt::message& m) {
                    const auto j = nlohmann::json::parse(m.payload, nullptr, false);
                    if (!j.is_discarded() && j.value("ok", false) && j.contains("id") && j["id"].is_string()) {
                        replies[j["id"].get<std::string>()] = std::chrono::steady_clock::now();
                    }
                });
    c.start();
    const auto run_until = [&](auto pred, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            io.restart();
            io.run_for(1ms);
        }
        return true;
    };
    // Warm up: the gateway is up and answering.
    bool ready = false;
    for (int attempt = 0; attempt < 100 && !ready; ++attempt) {
        const auto id = "warmup-" + std::to_string(attempt);
        c.publish({"bench/pump/setpoint/set", R"({"value": 1, "id": ")" + id + "\"}", fieldbridge::mqtt::qos::at_least_once, false});
        ready = run_until([&] { return replies.count(id) > 0; }, 200ms);
    }
    if (!ready) {
        std::fprintf(stderr, "the gateway does not answer commands:\n%s\n", gw.output().c_str());
        return 1;
    }

    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(commands));
    for (int i = 0; i < commands; ++i) {
        const auto id = "c" + std::to_string(i);
        const auto sent = std::chrono::steady_clock::now();
        c.publish({"bench/pump/setpoint/set", R"({"value": )" + std::to_string(i % 1000) + R"(, "id": ")" + id + "\"}",
                   fieldbridge::mqtt::qos::at_least_once, false});
        if (!run_until([&] { return replies.count(id) > 0; }, 10s)) {
            std::fprintf(stderr, "no reply to command %d\n", i);
            return 1;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(replies[id] - sent).count());
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))]; };
    std::printf("command -> reply latency, %d commands, 201 points polled every 1 s on the same Modbus TCP bus\n",
                commands);
    std::printf("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", at(0.50), at(0.90), at(0.99), ms.back());
    bool stopped = false;
    c.stop([&] { stopped = true; });
    run_until([&] { return stopped; }, 5s);
    fs::remove_all(dir);
    return 0;
}
