// The gateway killed (SIGKILL) at random instants while it publishes at
// QoS 2 to a broker that keeps sessions: a subscriber with a persistent
// session must see every value exactly once and in order, and once the
// device is quiet the queue must drain to empty (every stored message was
// acknowledged by the broker, which only then lets the gateway delete it).
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "tests/fault/subscriber_output.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::child_process;
using testing::mosquitto_broker;
using testing::wait_until;

using fault_test::parse;

long queued_rows(const fs::path& db) {
    child_process q({"sqlite3", db.string(), "SELECT count(*) FROM messages"});
    if (q.wait(10s) != 0) return -1;
    try {
        return std::stol(q.output());
    } catch (const std::exception&) {
        return -1;
    }
}

TEST(fault, qos2_stays_exactly_once_and_in_order_across_gateway_kills) {
    std::string pattern = (fs::temp_directory_path() / "fieldbridge-fault-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    const fs::path dir = pattern;

    mosquitto_broker::options bo;
    bo.persistence = true;
    mosquitto_broker broker(bo);
    const auto modbus_port = testing::free_tcp_port();
    std::ostringstream y;
    y << "mqtt: { host: 127.0.0.1, port: " << broker.port()
      << ", client_id: fault-gw, keepalive: 5s, clean_session: false, reconnect: { min: 50ms, max: 200ms } }\n"
      << "publish: { prefix: f, heartbeat: 60s, qos: 2 }\n"
      << "store: { path: queue.db }\n"
      << "control: { socket: control.sock }\n"
      << "buses:\n  line: { type: tcp, host: 127.0.0.1, port: " << modbus_port << " }\n"
      << "devices:\n  m1: { bus: line, unit_id: 1, poll_interval: 20ms, points: [\n"
      << "    { name: ramp, register: input, address: 0, type: float32,\n"
      << "      simulate: { wave: ramp, value: 0, amplitude: 100000, period: 1000s } } ] }\n";
    const auto cfg = (dir / "gw.yaml").string();
    std::ofstream(cfg) << y.str();

    child_process sim({FIELDBRIDGE_BINARY, "simulate", "-c", cfg, "--bus", "line"});
    ASSERT_TRUE(wait_until([&] { return testing::tcp_port_open(modbus_port); }, 10s)) << sim.output();
    // A persistent QoS 2 subscription that stays for the whole test.
    child_process sub({"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "2", "-c",
                       "-i", "fault-sub", "-F", "%t %q %p", "-t", "f/m1/ramp"});
    ASSERT_TRUE(wait_until([&] { return broker.log().find("fault-sub") != std::string::npos; }, 10s));

    std::mt19937 random(20261123);
    const auto count = [&] { return parse(sub.output()).size(); };
    constexpr int kills = 6;
    for (int k = 0; k < kills; ++k) {
        child_process gw({FIELDBRIDGE_BINARY, "--log-level", "warn", "run", "-c", cfg});
        const auto before = count();
        ASSERT_TRUE(wait_until([&] { return count() >= before + 5; }, 20s)) << gw.output() << broker.log();
        // Somewhere in the next 0..150 ms, mid-flow.
        const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(random));
        const auto at = std::chrono::steady_clock::now() + delay;
        wait_until([&] { return std::chrono::steady_clock::now() >= at; }, delay + 10ms);
        gw.signal(SIGKILL);
        ASSERT_TRUE(gw.wait(10s).has_value());
    }

    // A last run: the device goes quiet so that the queue can drain.
    child_process gw({FIELDBRIDGE_BINARY, "--log-level", "warn", "run", "-c", cfg});
    ASSERT_TRUE(wait_until([&] { return count() >= 5; }, 20s));
    sim.signal(SIGKILL);
    EXPECT_TRUE(wait_until([&] { return queued_rows(dir / "queue.db") == 0; }, 30s))
        << queued_rows(dir / "queue.db") << " rows left\n"
        << gw.output();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(10s), 0) << gw.output();

    // Exactly once, in order: the poll timestamps of the good values.
    const auto all = parse(sub.output());
    std::vector<std::string> stamps;
    for (const auto& r : all) {
        EXPECT_EQ(r.qos, 2) << r.payload;
        const auto j = nlohmann::json::parse(r.payload, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.payload;
        if (j.at("quality") == "good") stamps.push_back(j.at("ts").get<std::string>() + " " + j.at("value").dump());
    }
    ASSERT_GE(stamps.size(), static_cast<std::size_t>(kills * 5));
    std::set<std::string> unique(stamps.begin(), stamps.end());
    EXPECT_EQ(unique.size(), stamps.size()) << "duplicates at QoS 2";
    EXPECT_TRUE(std::is_sorted(stamps.begin(), stamps.end())) << "out of order";
    std::error_code ec;
    fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace fieldbridge
