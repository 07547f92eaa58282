// The gateway killed (SIGKILL) at random instants while it publishes at
// QoS 2 to a broker that keeps sessions: a subscriber with a persistent
// session must see every value exactly once and in order, and once the
// device is quiet the queue must drain to empty (every stored message was
// acknowledged by the broker, which only then lets the gateway delete it).
#include <signal.h>

#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "tests/support/child_process.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/subscriber.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::gateway_rig;
using testing::point_spec;
using testing::subscriber;
using testing::wait_until;

TEST(fault, qos2_stays_exactly_once_and_in_order_across_gateway_kills) {
    gateway_rig::options o;
    o.broker.persistence = true;
    gateway_rig rig(o);
    rig.config.client_id("fault-gw")
        .mqtt()
        .set("keepalive", "5s")
        .set("clean_session", false)
        .set("reconnect", testing::yaml_map().set("min", "50ms").set("max", "200ms"));
    rig.config.prefix("f").heartbeat("60s").publish().set("qos", 2);
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).poll_interval("20ms").point(
        point_spec("ramp", "input", 0, "float32").simulate_ramp(0, 100000, "1000s"));

    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    // A persistent QoS 2 subscription that stays for the whole test.
    subscriber::options persistent;
    persistent.client_id = "fault-sub";
    subscriber sub(rig.broker(), "f/m1/ramp", persistent);
    ASSERT_TRUE(sub.wait_subscribed(10s)) << rig.broker().log();

    std::mt19937 random(20261123);
    const auto count = [&] { return sub.messages().size(); };
    constexpr int kills = 6;
    for (int k = 0; k < kills; ++k) {
        auto& gw = rig.start_gateway({"--log-level", "warn"});
        const auto before = count();
        ASSERT_TRUE(wait_until([&] { return count() >= before + 5; }, 20s)) << gw.output() << rig.broker().log();
        // Somewhere in the next 0..150 ms, mid-flow.
        const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(random));
        const auto at = std::chrono::steady_clock::now() + delay;
        wait_until([&] { return std::chrono::steady_clock::now() >= at; }, delay + 10ms);
        gw.signal(SIGKILL);
        ASSERT_TRUE(gw.wait(10s).has_value());
    }

    // A last run: the device goes quiet so that the queue can drain.
    auto& gw = rig.start_gateway({"--log-level", "warn"});
    ASSERT_TRUE(wait_until([&] { return count() >= 5; }, 20s));
    rig.kill_simulator();
    EXPECT_TRUE(wait_until([&] { return rig.queued_rows() == 0; }, 30s))
        << rig.queued_rows() << " rows left\n"
        << gw.output();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(10s), 0) << gw.output();

    // Exactly once, in order: the poll timestamps of the good values.
    const auto all = sub.messages();
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
}

}  // namespace
}  // namespace fieldbridge
