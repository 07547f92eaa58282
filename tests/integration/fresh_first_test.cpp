// store.order: fresh_first on real peers: `fieldbridge run` polls a
// simulated device through an uplink outage (a proxy in front of a real
// mosquitto stalls and cuts the link) and a gateway kill in the middle of
// it; when the link is back the subscriber gets the point's latest value
// first, the backlog behind it marked "historical": true with its original
// timestamp and (MQTT 5.0) the user property historical=true, never
// retained, every value exactly once (QoS 2); the broker's retained value
// stays the current one.
#include <algorithm>
#include <csignal>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

struct reading {
    double value = 0;
    bool historical = false;
    std::string ts;
    bool retain = false;
    std::string user_properties;
};

std::vector<reading> readings(const std::vector<testing::received>& all, std::size_t from, const std::string& topic) {
    std::vector<reading> out;
    for (std::size_t n = from; n < all.size(); ++n) {
        if (all[n].topic != topic) continue;
        const auto j = nlohmann::json::parse(all[n].payload, nullptr, false);
        if (j.is_discarded() || !j.contains("value") || !j.at("value").is_number()) continue;
        out.push_back({j.at("value").get<double>(), j.value("historical", false), j.value("ts", ""), all[n].retain,
                       all[n].user_properties});
    }
    return out;
}

TEST(fresh_first, after_an_outage_the_latest_value_comes_first_and_the_backlog_follows_marked_historical) {
    gateway_rig::options o;
    o.through_proxy = true;
    gateway_rig rig(o);
    rig.config.client_id("fresh-gw")
        .mqtt()
        .set("keepalive", "2s")
        .set("clean_session", false)
        .set("protocol", "5")
        .set("session_expiry", "1h")
        .set("reconnect", testing::yaml_map().set("min", "50ms").set("max", "300ms"));
    rig.config.prefix("fresh").heartbeat("60s");
    rig.config.store().set("order", "fresh_first");
    rig.config.tcp_bus("line", rig.modbus_port());
    // +10 a poll: every poll publishes a new value, and a later one is larger.
    rig.config.device("m1").bus("line").unit_id(1).poll_interval("100ms").point(
        point_spec("level", "input", 0, "float32").qos(2).retain().simulate_ramp(0, 100000, "1000s"));
    const std::string topic = "fresh/m1/level";
    subscriber::options persistent;
    persistent.client_id = "fresh-sub";
    persistent.mqtt5 = true;  // the publisher's retain flag and user properties
    subscriber sub(rig.broker(), "fresh/m1/#", persistent);
    ASSERT_TRUE(sub.wait_subscribed(10s)) << rig.broker().log();
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto* gw = &rig.start_gateway();
    ASSERT_TRUE(wait_until([&] { return sub.count(topic) >= 5; }, 20s)) << gw->output();

    // The uplink goes: readings pile up in the store. The gateway is killed
    // in the middle of the outage and starts again on the same store.
    rig.proxy().stall();
    rig.proxy().cut();
    ASSERT_TRUE(wait_until([&] { return rig.queued_rows() >= 15; }, 20s)) << rig.queued_rows() << "\n" << gw->output();
    rig.kill_gateway();
    const auto at_kill = rig.queued_rows();
    gw = &rig.start_gateway();
    ASSERT_TRUE(wait_until([&] { return rig.queued_rows() >= at_kill + 15; }, 20s)) << gw->output();

    // The link is back.
    // A QoS 2 flow whose PUBREL went out before the stall may have reached
    // the subscriber already: the rows still to deliver are the others.
    const auto before = sub.messages().size();
    const auto stored = static_cast<std::size_t>(std::max(rig.unreleased_rows(), 0L));
    rig.proxy().cut();
    rig.proxy().resume();
    ASSERT_TRUE(wait_until([&] { return rig.queued_rows() == 0 && sub.messages().size() >= before + stored; }, 30s))
        << rig.queued_rows() << " rows left, " << sub.messages().size() - before << " of " << stored
        << " stored messages arrived\n"
        << sub.dump() << "\n--- gateway:\n"
        << gw->output() << "\n--- broker:\n"
        << rig.broker().log();
    ASSERT_TRUE(wait_until([&] { return gw->output().find("the latest of each topic first") != std::string::npos; },
                           5s))
        << gw->output();

    const auto after = readings(sub.messages(), before, topic);
    std::vector<reading> historical;
    for (const auto& r : after) {
        if (r.historical) historical.push_back(r);
    }
    ASSERT_FALSE(historical.empty()) << sub.dump();
    const auto newest_historical =
        std::max_element(historical.begin(), historical.end(), [](auto& a, auto& b) { return a.value < b.value; });
    // The latest value: the first unmarked one newer than the whole backlog,
    // ahead of every historical message. Only flows in flight when the link
    // stalled (resumed first, as sent) may come before it, and they are older.
    const auto fresh = std::find_if(after.begin(), after.end(),
                                    [&](const reading& r) { return !r.historical && r.value > newest_historical->value; });
    ASSERT_NE(fresh, after.end()) << sub.dump();
    const auto first_historical = std::find_if(after.begin(), after.end(), [](const reading& r) { return r.historical; });
    EXPECT_LT(fresh - after.begin(), first_historical - after.begin()) << sub.dump();
    const auto oldest_historical =
        std::min_element(historical.begin(), historical.end(), [](auto& a, auto& b) { return a.value < b.value; });
    for (auto it = after.begin(); it != fresh; ++it) {
        EXPECT_LT(it->value, oldest_historical->value) << "resumed before the latest value: " << it->ts;
    }
    // Live values in production order; the backlog drains in production
    // order too, each with the timestamp of its poll.
    double last_live = -1, last_historical = -1;
    for (const auto& r : after) {
        auto& last = r.historical ? last_historical : last_live;
        EXPECT_GT(r.value, last) << sub.dump();
        last = r.value;
        EXPECT_FALSE(r.ts.empty());
        EXPECT_EQ(r.retain, !r.historical) << r.ts;
        EXPECT_EQ(r.user_properties, r.historical ? "historical:true" : "") << r.ts;
    }
    EXPECT_GE(after.size(), stored);
    // Every value once (QoS 2), from the first poll to the last.
    auto all = readings(sub.messages(), 0, topic);
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.value < b.value; });
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end(), [](auto& a, auto& b) { return a.value == b.value; }),
              all.end())
        << sub.dump();

    // The broker's retained value is a current one, never a historical one.
    subscriber late(rig.broker(), topic);
    ASSERT_TRUE(wait_until([&] { return late.count(topic) >= 1; }, 10s)) << late.dump();
    const auto retained = late.messages().front();
    EXPECT_TRUE(retained.retain);
    const auto j = nlohmann::json::parse(retained.payload);
    EXPECT_FALSE(j.contains("historical")) << retained.payload;
    EXPECT_GE(j.at("value").get<double>(), fresh->value);
}

}  // namespace
}  // namespace fieldbridge
