// The path to the broker stalled and cut by a TCP proxy the test controls,
// then the broker killed (SIGKILL) and restarted, while the gateway keeps
// polling and publishing one point at QoS 1 and one at QoS 2 to a subscriber
// with a persistent QoS 2 session. Through the stall and the cut: every
// message the gateway stored arrives (none missing at either QoS), the QoS 2
// ones exactly once. Through the broker kills: the gateway gets every stored
// message acknowledged and drops none; what the killed broker itself loses
// from its unsaved state is counted and reported. Every point's values
// arrive in poll order throughout.
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/support/config_builder.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/raw_control_client.hpp"
#include "tests/support/subscriber.hpp"
#include "tests/support/tcp_proxy.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::gateway_rig;
using testing::point_spec;
using testing::subscriber;
using testing::wait_until;

// Now in the payloads' timestamp format (ISO 8601 UTC, ms), comparable as text.
std::string iso8601_now() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[80];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return text;
}

TEST(fault, nothing_is_lost_through_broker_kills_and_a_stalled_then_cut_link) {
    gateway_rig::options o;
    o.broker.persistence = true;
    // Saved after every change, so that a SIGKILL loses nothing the broker
    // acknowledged (mosquitto's default would lose up to the save interval).
    o.broker.extra_config = "autosave_on_changes true\nautosave_interval 1\n";
    o.through_proxy = true;
    gateway_rig rig(o);
    auto& broker = rig.broker();
    auto& proxy = rig.proxy();
    rig.config.client_id("uplink-fault-gw")
        .mqtt()
        .set("keepalive", "2s")
        .set("clean_session", false)
        .set("reconnect", testing::yaml_map().set("min", "50ms").set("max", "300ms"));
    rig.config.prefix("u").heartbeat("60s");
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1")
        .bus("line")
        .unit_id(1)
        .poll_interval("20ms")
        .point(point_spec("q1", "input", 0, "float32").qos(1).simulate_ramp(0, 100000, "1000s"))
        .point(point_spec("q2", "input", 2, "float32").qos(2).simulate_ramp(0, 100000, "1000s"));

    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    subscriber::options persistent;
    persistent.client_id = "uplink-fault-sub";
    subscriber sub(broker, "u/m1/#", persistent);
    ASSERT_TRUE(sub.wait_subscribed(10s)) << broker.log();
    const auto count = [&] { return sub.messages().size(); };

    // Everything the queue delivers goes to u/m1/...: the two points and the
    // device's availability. Counted once per distinct payload (a QoS 1
    // duplicate, or a retained availability sent again on resubscribe, is
    // the same payload).
    std::map<std::string, std::vector<std::string>> by_topic;
    std::map<std::string, std::set<std::string>> unique;
    const auto settle = [&] {
        by_topic.clear();
        unique.clear();
        long long n = 0;
        for (const auto& r : sub.messages()) {
            by_topic[r.topic].push_back(r.payload);
            n += unique[r.topic].insert(r.payload).second ? 1 : 0;
        }
        return n;
    };
    // QoS 2 payloads received more than once, each with its timestamp.
    const auto qos2_repeats = [&] {
        std::vector<std::string> out;
        std::set<std::string> seen;
        for (const auto& p : by_topic["u/m1/q2"]) {
            if (!seen.insert(p).second) out.push_back(nlohmann::json::parse(p).at("ts").get<std::string>());
        }
        return out;
    };
    // The device goes quiet, the queue drains; returns what the gateway
    // delivered in all.
    const auto quiesce = [&]() -> long long {
        rig.kill_simulator();
        EXPECT_TRUE(wait_until([&] { return rig.status_number("queue", "messages") == 0; }, 30s));
        const auto j = rig.status().json;
        if (j.is_discarded()) return -1;
        EXPECT_EQ(j["queue"]["delivered"], j["queue"]["stored"]) << "the gateway lost or dropped messages";
        EXPECT_EQ(j["queue"]["dropped"]["by_messages"], 0);
        EXPECT_EQ(j["queue"]["refused"], 0);
        return j["queue"]["delivered"].get<long long>();
    };

    auto& gw = rig.start_gateway({"--log-level", "warn"});
    ASSERT_TRUE(wait_until([&] { return count() >= 10; }, 20s)) << gw.output() << broker.log();

    // (1) A stall: no bytes move, sockets stay open; the keepalive notices.
    proxy.stall();
    ASSERT_TRUE(wait_until(
        [&] {
            const auto j = rig.status().json;
            return !j.is_discarded() && j["broker"]["state"] != "connected";
        },
        20s))
        << gw.output();
    proxy.resume();
    auto before = count();
    ASSERT_TRUE(wait_until([&] { return count() >= before + 20; }, 30s)) << gw.output();

    // ... then a stall cut short: every connection closed mid-flow.
    proxy.stall();
    ASSERT_TRUE(wait_until([&] { return rig.status_number("queue", "messages") >= 20; }, 20s)) << gw.output();
    proxy.cut();
    proxy.resume();
    before = count();
    ASSERT_TRUE(wait_until([&] { return count() >= before + 20; }, 30s)) << gw.output();

    // Exact: every message the gateway delivered is at the subscriber, the
    // QoS 2 ones once.
    const auto delivered_1 = quiesce();
    ASSERT_GT(delivered_1, 40);
    EXPECT_TRUE(wait_until([&] { return settle() >= delivered_1; }, 15s));
    EXPECT_EQ(settle(), delivered_1) << "messages missing at the subscriber after the stall and the cut";
    EXPECT_EQ(qos2_repeats().size(), 0u) << "QoS 2 duplicates after the stall and the cut";

    // (2) The broker killed twice while the device is polled again; the
    // gateway stores meanwhile.
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    before = count();
    ASSERT_TRUE(wait_until([&] { return count() >= before + 20; }, 30s)) << gw.output();
    std::string broker_back;  // when the broker last came back, as payload timestamps read
    for (int k = 0; k < 2; ++k) {
        broker.kill9();
        ASSERT_TRUE(wait_until([&] { return rig.status_number("queue", "messages") >= 20; }, 20s)) << gw.output();
        broker.start();
        broker_back = iso8601_now();
        before = count();
        ASSERT_TRUE(wait_until([&] { return count() >= before + 20; }, 30s)) << gw.output() << broker.log();
    }
    const auto delivered_2 = quiesce();
    // A SIGKILLed mosquitto restarts from its last save, written after it
    // answered, not before: what it acknowledged just before dying may be
    // gone (missing here) or delivered again (a QoS 2 repeat). That is the
    // broker losing its own state; the gateway's side is checked above
    // (every stored message acknowledged, none dropped). Counted, and
    // values polled once the broker was back must arrive exactly once.
    const bool all_arrived = wait_until([&] { return settle() >= delivered_2; }, 15s);
    const auto arrived = settle();
    // Never more distinct messages than the gateway says it delivered.
    EXPECT_LE(arrived, delivered_2) << "the gateway's delivered count is short of what arrived";
    const auto missing_by_broker = delivered_2 - arrived;
    // Saved after every change, a killed broker can lose only what it had
    // acknowledged and not yet saved or passed on: a few messages per kill,
    // never a backlog (the gateway's in-flight window is 64).
    if (!all_arrived) {
        EXPECT_LE(missing_by_broker, 2 * 64) << "more lost than a broker kill can explain";
    }
    std::size_t repeats_by_broker = 0;
    for (const auto& ts : qos2_repeats()) {
        if (ts < broker_back) {
            ++repeats_by_broker;
        } else {
            ADD_FAILURE() << "QoS 2 duplicate of a value polled after the broker was back: " << ts;
        }
    }
    std::printf("lost by the SIGKILLed broker: %lld message(s); QoS 2 delivered again from its last save: %zu\n",
                missing_by_broker, repeats_by_broker);
    RecordProperty("missing_by_killed_broker", static_cast<int>(missing_by_broker));
    RecordProperty("qos2_repeats_by_killed_broker", static_cast<int>(repeats_by_broker));

    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(15s), 0) << gw.output();

    // Per point: in poll order (timestamps only increase). A QoS 1 message
    // sent again after a lost link (its PUBACK never came) may arrive twice;
    // the order is that of first arrivals.
    for (const auto& topic : {"u/m1/q1", "u/m1/q2"}) {
        std::vector<std::string> stamps;
        std::set<std::string> seen;
        for (const auto& p : by_topic[topic]) {
            const auto m = nlohmann::json::parse(p, nullptr, false);
            ASSERT_FALSE(m.is_discarded()) << p;
            if (!seen.insert(p).second) continue;
            stamps.push_back(m.at("ts").get<std::string>());
        }
        ASSERT_GE(stamps.size(), 80u) << topic;
        EXPECT_TRUE(std::is_sorted(stamps.begin(), stamps.end())) << topic << " out of order";
    }
}

// A reload asked on the control socket once the shutdown has begun is
// refused: it would start bus workers polling, and open routes for writes,
// after the goodbye. The client connects before SIGTERM and asks after it,
// while the goodbye waits for a broker that no longer answers (the proxy
// stalled), which the shutdown waits up to 5 s for.
TEST(fault, a_reload_asked_once_the_shutdown_began_is_refused) {
    gateway_rig::options o;
    o.through_proxy = true;
    gateway_rig rig(o);
    rig.config.client_id("reload-at-shutdown-gw").prefix("r");
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).poll_interval("100ms").point(point_spec("v", "holding", 0, "uint16"));
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();
    const auto connected = [&] {
        const auto j = rig.status().json;
        return j.is_object() && j.contains("broker") && j["broker"].value("state", "") == "connected";
    };
    ASSERT_TRUE(wait_until(connected, 20s)) << gw.output() << rig.status().output;

    testing::raw_client asks(rig.control_path());
    ASSERT_TRUE(asks.connected());
    rig.proxy().stall();
    gw.signal(SIGTERM);
    ASSERT_TRUE(wait_until([&] { return gw.output().find("shutting down") != std::string::npos; }, 5s)) << gw.output();
    ASSERT_TRUE(asks.send(R"({"version":1,"command":"reload"})"
                          "\n"));
    const auto line = asks.line();
    ASSERT_TRUE(line.has_value()) << gw.output();
    const auto answer = nlohmann::json::parse(*line, nullptr, false);
    ASSERT_TRUE(answer.contains("reload")) << *line;
    EXPECT_EQ(answer["reload"].value("reloaded", true), false) << *line;
    EXPECT_NE(answer["reload"].value("error", "").find("shutting down"), std::string::npos) << *line;
    EXPECT_EQ(gw.output().find("configuration reloaded"), std::string::npos) << gw.output();
    EXPECT_EQ(gw.wait(15s), 0) << gw.output();
}

}  // namespace
}  // namespace fieldbridge
