// The configuration as a Sparkplug edge node: a DCMD's metrics become point
// writes as JSON command values, by the metric's type; a metric named more
// than once is written once, with its last value (a DCMD writes at most each
// point of its device), the others refused with the reason.
#include "gateway/sparkplug_node.hpp"

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::gateway {
namespace {

// Loaded on first use: the loader's own tables are other files' statics.
const config::gateway& configuration() {
    static const config::gateway cfg = config::load_string(R"(
publish: { format: sparkplug }
sparkplug: { group_id: plant1, edge_node_id: gw1 }
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: setpoint, register: holding, address: 0, type: int16, writable: true }
      - { name: relay, register: coil, address: 3, writable: true }
)",
                                                           "plant.yaml");
    return cfg;
}

sparkplug::metric named(const std::string& name, sparkplug::wire_value v) {
    sparkplug::metric m;
    m.name = name;
    m.value = std::move(v);
    return m;
}

TEST(sparkplug_node, a_dcmd_writes_each_metric_once_with_its_last_value) {
    const sparkplug_node node(configuration(), 0);
    sparkplug::payload p;
    for (int i = 0; i < 1000; ++i) p.metrics.push_back(named("relay", i % 2 == 0));
    p.metrics.push_back(named("setpoint", std::uint32_t{0xFFFFFFFB}));  // Int16 -5, sign-extended
    const auto c = node.command("spBv1.0/plant1/DCMD/gw1/m1", sparkplug::encode(p));
    ASSERT_TRUE(c);
    ASSERT_EQ(c->writes.size(), 2u);
    EXPECT_EQ(c->writes[0].point, 1u);
    EXPECT_EQ(c->writes[0].value, false) << "the last of the 1000";
    EXPECT_EQ(c->writes[1].point, 0u);
    EXPECT_EQ(c->writes[1].value, -5);
    ASSERT_EQ(c->refused.size(), 999u);
    EXPECT_NE(c->refused.front().find("relay: named again later in the same DCMD"), std::string::npos);
}

TEST(sparkplug_node, a_value_of_another_type_is_refused_with_the_reason) {
    const sparkplug_node node(configuration(), 0);
    sparkplug::payload p;
    p.metrics.push_back(named("relay", std::string("on")));
    const auto c = node.command("spBv1.0/plant1/DCMD/gw1/m1", sparkplug::encode(p));
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->writes.empty());
    ASSERT_EQ(c->refused.size(), 1u);
    EXPECT_NE(c->refused.front().find("DCMD m1 relay: expected a boolean_value"), std::string::npos) << c->refused.front();
    EXPECT_FALSE(node.command("spBv1.0/plant1/DCMD/gw2/m1", sparkplug::encode(p))) << "another node's";
}

// A reload's new node: a DDEATH (through the old node, its seq next) for
// each device the old node had born that the new one has not online — one
// taken out, and one whose health is not online now — and none for a device
// online in both, nor while no session was born.
TEST(sparkplug_node, a_reload_says_ddeath_for_each_born_device_not_online_after_it) {
    static const config::gateway three = config::load_string(R"(
publish: { format: sparkplug }
sparkplug: { group_id: plant1, edge_node_id: gw1 }
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1: { bus: line, unit_id: 1, points: [{ name: a, register: holding, address: 0 }] }
  m2: { bus: line, unit_id: 2, points: [{ name: a, register: holding, address: 0 }] }
  m3: { bus: line, unit_id: 3, points: [{ name: a, register: holding, address: 0 }] }
)",
                                                             "three.yaml");
    static const config::gateway two = config::load_string(R"(
publish: { format: sparkplug }
sparkplug: { group_id: plant1, edge_node_id: gw1 }
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m3: { bus: line, unit_id: 3, points: [{ name: a, register: holding, address: 0 }] }
  m2: { bus: line, unit_id: 2, points: [{ name: a, register: holding, address: 0 }] }
)",
                                                           "two.yaml");
    const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
    sparkplug_node before(three, 0);
    for (std::size_t d = 0; d < 3; ++d) before.device_state(d, modbus::device_state::online, now);
    sparkplug_node not_born(two, 0, &before);
    EXPECT_TRUE(before.deaths_before(not_born, now).empty()) << "no session: nothing was born";
    const auto births = before.births(now);
    ASSERT_EQ(births.size(), 4u);
    sparkplug_node after(two, 0, &before);
    after.device_state(0, modbus::device_state::online, now);   // m3 online
    after.device_state(1, modbus::device_state::offline, now);  // m2 offline (a bus that did not start)
    const auto deaths = before.deaths_before(after, now);
    ASSERT_EQ(deaths.size(), 2u);
    EXPECT_EQ(deaths[0].topic, "spBv1.0/plant1/DDEATH/gw1/m1");
    EXPECT_EQ(deaths[1].topic, "spBv1.0/plant1/DDEATH/gw1/m2");
    const auto decoded = sparkplug::decode(deaths[0].payload);
    ASSERT_TRUE(std::holds_alternative<sparkplug::payload>(decoded));
    EXPECT_EQ(std::get<sparkplug::payload>(decoded).seq, 4u) << "after NBIRTH 0 and three DBIRTHs";
    EXPECT_TRUE(before.deaths_before(after, now).empty()) << "said once";
}

// A flood of rebirth requests costs at most one set of births a second,
// and none while the uplink has not written more than a MB it holds: the
// births would pile up in memory behind it.
TEST(rebirth_put_off, a_second_apart_and_not_behind_a_write_backlog) {
    using namespace std::chrono_literals;
    EXPECT_FALSE(rebirth_put_off(1s, 0));
    EXPECT_FALSE(rebirth_put_off(5min, rebirth_backlog_bytes));
    const auto soon = rebirth_put_off(999ms, 0);
    ASSERT_TRUE(soon);
    EXPECT_EQ(*soon, "births went out less than a second ago");
    const auto behind = rebirth_put_off(5min, rebirth_backlog_bytes + 1);
    ASSERT_TRUE(behind);
    EXPECT_EQ(*behind, std::to_string(rebirth_backlog_bytes + 1) +
                           " bytes wait to be written to the broker (the last births among them)");
}

}  // namespace
}  // namespace fieldbridge::gateway
