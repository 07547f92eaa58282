// device_publisher: what a device's answers become, in the order the
// forwarder gets them. Availability changes go out before the values of the
// poll that caused them, once per change; a write's read-back goes out at
// once and tells that the device is there; a reload keeps the health of the
// devices it keeps, and the retained availability follows it.
#include "gateway/device_publisher.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "gateway/sparkplug_node.hpp"
#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using system_time = std::chrono::system_clock::time_point;

const std::string plant_yaml = R"(
publish: { prefix: plant }
availability: { offline_after: 2 }
buses:
  line: { type: tcp, host: 127.0.0.1, port: 5020 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: voltage, register: holding, address: 0 }
      - { name: setpoint, register: holding, address: 1, writable: true }
  m2:
    bus: line
    unit_id: 2
    points:
      - { name: flow, register: holding, address: 0 }
)";

class device_publisher_test : public ::testing::Test {
protected:
    device_publisher_test()
        : cfg_(config::load_string(plant_yaml)),
          publisher_(cfg_, [this](const std::vector<mqtt::message>& batch, system_time) {
              for (const auto& m : batch) sent_.push_back(m);
          }) {}

    static modbus::poll_result good(const std::string& device, std::uint16_t v) {
        modbus::poll_result r;
        r.device = device;
        r.time = system_time{} + 1h;
        for (std::size_t i = 0; i < (device == "m1" ? 2u : 1u); ++i) {
            r.samples.push_back(modbus::sample{i, {static_cast<std::uint16_t>(v + i)}, {true, {}}});
        }
        return r;
    }
    static modbus::poll_result failed(const std::string& device) {
        auto r = good(device, 0);
        for (auto& s : r.samples) s = modbus::sample{s.point, {}, {false, std::make_error_code(std::errc::timed_out)}};
        return r;
    }
    std::vector<std::string> topics() const {
        std::vector<std::string> out;
        for (const auto& m : sent_) out.push_back(m.topic);
        return out;
    }
    long said(const std::string& topic) const {
        const auto all = topics();
        return std::count(all.begin(), all.end(), topic);
    }
    std::string state_in(std::size_t i) const { return nlohmann::json::parse(sent_.at(i).payload).at("state"); }

    config::gateway cfg_;
    config::gateway reloaded_;  // what a reload gives the publisher: it must outlive it
    std::vector<mqtt::message> sent_;
    device_publisher publisher_;
    steady::time_point t0_{};
};

TEST_F(device_publisher_test, the_first_good_poll_says_online_before_its_values) {
    EXPECT_EQ(publisher_.poll(good("m1", 230), t0_), modbus::device_state::online);
    EXPECT_EQ(topics(), (std::vector<std::string>{"plant/m1/availability", "plant/m1/voltage", "plant/m1/setpoint"}));
    EXPECT_EQ(state_in(0), "online");
    EXPECT_TRUE(sent_.at(0).retain);
    // Unchanged values and state: nothing more.
    sent_.clear();
    publisher_.poll(good("m1", 230), t0_ + 1s);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(device_publisher_test, offline_is_said_once_after_offline_after_failed_polls_and_online_again_once) {
    publisher_.poll(good("m1", 230), t0_);
    sent_.clear();
    EXPECT_EQ(publisher_.poll(failed("m1"), t0_ + 1s), modbus::device_state::online);  // one failed poll is no outage
    EXPECT_EQ(publisher_.poll(failed("m1"), t0_ + 2s), modbus::device_state::offline);
    ASSERT_FALSE(sent_.empty());
    EXPECT_EQ(said("plant/m1/availability"), 1);
    publisher_.poll(failed("m1"), t0_ + 3s);
    EXPECT_EQ(said("plant/m1/availability"), 1) << "still offline: not said again";
    sent_.clear();
    EXPECT_EQ(publisher_.poll(good("m1", 231), t0_ + 4s), modbus::device_state::online);
    EXPECT_EQ(sent_.at(0).topic, "plant/m1/availability");
    EXPECT_EQ(state_in(0), "online");
    // The other device was never polled: unknown, nothing said about it.
    EXPECT_EQ(publisher_.health("m2").state(), modbus::device_state::unknown);
}

TEST_F(device_publisher_test, a_read_back_goes_out_at_once_and_brings_an_offline_device_back) {
    publisher_.poll(failed("m1"), t0_);
    publisher_.poll(failed("m1"), t0_ + 1s);
    ASSERT_EQ(publisher_.health("m1").state(), modbus::device_state::offline);
    sent_.clear();
    const auto& setpoint = cfg_.devices.at(0).points.at(1);
    publisher_.written("m1", setpoint, {42}, system_time{} + 2h, t0_ + 2s);
    EXPECT_EQ(topics(), (std::vector<std::string>{"plant/m1/availability", "plant/m1/setpoint"}));
    EXPECT_EQ(state_in(0), "online");
    EXPECT_EQ(nlohmann::json::parse(sent_.at(1).payload).at("value"), 42);
    EXPECT_EQ(publisher_.mapper().latest("m1", 1)->value, modbus::value{std::uint64_t{42}});
}

TEST_F(device_publisher_test, a_read_back_of_a_point_a_reload_changed_or_removed_is_ignored) {
    auto changed = cfg_.devices.at(0).points.at(1);
    changed.address = 7;  // the point as it was before a reload
    publisher_.written("m1", changed, {42}, system_time{} + 2h, t0_);
    publisher_.written("gone", changed, {42}, system_time{} + 2h, t0_);
    EXPECT_TRUE(sent_.empty());
}

// A bus whose worker cannot be started: its devices are offline, with why,
// said once; the other buses' devices are not touched; the first poll of a
// worker started later says the device's state again.
TEST_F(device_publisher_test, the_devices_of_a_bus_no_worker_polls_are_offline_with_why_until_a_poll_comes) {
    publisher_.poll(good("m1", 230), t0_);
    sent_.clear();
    const std::map<std::string, std::string> not_started = {{"line", "bus line: cannot start its worker (x)"}};
    publisher_.not_polled(not_started, system_time{} + 2h);
    EXPECT_EQ(topics(), (std::vector<std::string>{"plant/m1/availability", "plant/m2/availability"}));
    EXPECT_EQ(state_in(0), "offline");
    EXPECT_EQ(state_in(1), "offline") << "never polled: offline, not unknown";
    EXPECT_EQ(publisher_.health("m2").last_error, "bus line: cannot start its worker (x)");
    sent_.clear();
    publisher_.not_polled(not_started, system_time{} + 3h);  // a second reload that cannot start it either
    publisher_.not_polled({{"other", "bus other: cannot start its worker (x)"}}, system_time{} + 3h);
    EXPECT_TRUE(sent_.empty()) << "said once";
    EXPECT_EQ(publisher_.poll(good("m1", 230), t0_ + 1s), modbus::device_state::online);
    EXPECT_EQ(state_in(0), "online");
    EXPECT_EQ(publisher_.health("m2").state(), modbus::device_state::offline);
}

TEST_F(device_publisher_test, a_reload_keeps_the_health_of_devices_it_keeps) {
    publisher_.poll(good("m1", 230), t0_);
    publisher_.poll(good("m2", 5), t0_);
    reloaded_ = config::load_string(plant_yaml.substr(0, plant_yaml.find("  m2:")));
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 2h);
    EXPECT_EQ(publisher_.health("m1").state(), modbus::device_state::online);
    EXPECT_THROW((void)publisher_.health("m2"), std::out_of_range);
    // The new point map is in use: the same values are new to it.
    sent_.clear();
    publisher_.poll(good("m1", 230), t0_ + 1s);
    EXPECT_EQ(topics(), (std::vector<std::string>{"plant/m1/voltage", "plant/m1/setpoint"}));
}

TEST_F(device_publisher_test, a_reload_that_moves_or_removes_an_availability_topic_clears_the_old_one_and_says_the_new) {
    publisher_.poll(good("m1", 230), t0_);
    publisher_.poll(good("m2", 5), t0_);
    sent_.clear();
    // m1 keeps its name under a new prefix; m2 is gone.
    reloaded_ = cfg_;
    reloaded_.publish.prefix = "plant2";
    reloaded_.devices.pop_back();
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 2h);
    ASSERT_EQ(topics(), (std::vector<std::string>{"plant/m1/availability", "plant/m2/availability",
                                                  "plant2/m1/availability"}));
    EXPECT_EQ(sent_[0].payload, "");
    EXPECT_TRUE(sent_[0].retain) << "an empty retained message clears the broker's";
    EXPECT_EQ(sent_[1].payload, "");
    EXPECT_TRUE(sent_[2].retain);
    EXPECT_EQ(state_in(2), "online");
    // Said once: the same configuration again says nothing.
    sent_.clear();
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 3h);
    EXPECT_TRUE(sent_.empty());
}

// A reload whose bus cannot start (the app builds the buses first and
// hands over why): its devices are said offline on their topics, the moved
// topic of one that was online never says online first, and one never
// polled is said offline too (no poll will say it).
TEST_F(device_publisher_test, a_reload_whose_bus_cannot_start_says_its_devices_offline_never_online_first) {
    const std::map<std::string, std::string> not_started = {
        {"line", "bus line: cannot start its worker (x)"}};
    publisher_.poll(good("m1", 230), t0_);
    sent_.clear();
    reloaded_ = cfg_;
    reloaded_.publish.prefix = "plant2";
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 2h, not_started);
    ASSERT_EQ(topics(), (std::vector<std::string>{"plant/m1/availability", "plant2/m1/availability",
                                                  "plant2/m2/availability"}));
    EXPECT_EQ(sent_[0].payload, "") << "the old topic cleared";
    EXPECT_EQ(state_in(1), "offline");
    EXPECT_EQ(state_in(2), "offline");
    EXPECT_EQ(publisher_.health("m1").last_error, "bus line: cannot start its worker (x)");
    // The same again: said once.
    sent_.clear();
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 3h, not_started);
    EXPECT_TRUE(sent_.empty());
    // Started by the next reload: the first poll says online.
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 4h);
    EXPECT_TRUE(sent_.empty());
    EXPECT_EQ(publisher_.poll(good("m1", 230), t0_ + 1s), modbus::device_state::online);
    EXPECT_EQ(state_in(0), "online");
}

TEST_F(device_publisher_test, a_reload_whose_offline_after_changes_a_devices_state_says_the_new_state) {
    // offline_after 2 in plant_yaml: two failed polls, offline.
    publisher_.poll(good("m1", 230), t0_);
    publisher_.poll(failed("m1"), t0_ + 1s);
    publisher_.poll(failed("m1"), t0_ + 2s);
    ASSERT_EQ(publisher_.health("m1").state(), modbus::device_state::offline);
    sent_.clear();
    reloaded_ = cfg_;
    reloaded_.devices.at(0).offline_after = 5;
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 2h);
    EXPECT_EQ(publisher_.health("m1").state(), modbus::device_state::online);
    ASSERT_EQ(topics(), std::vector<std::string>{"plant/m1/availability"});
    EXPECT_EQ(state_in(0), "online");
    // Back to 2: the failures counted are an outage again.
    sent_.clear();
    reloaded_.devices.at(0).offline_after = 2;
    publisher_.reconfigure(reloaded_, nullptr, system_time{} + 3h);
    ASSERT_EQ(topics(), std::vector<std::string>{"plant/m1/availability"});
    EXPECT_EQ(state_in(0), "offline");
    EXPECT_EQ(publisher_.health("m1").state_since, system_time{} + 3h);
}

// Sparkplug: a device's DBIRTH states its present values, so the poll that
// brings it online (its first, or its first after an outage) is in it while
// the node is born; while it is not, that poll is a DDATA for the store
// like the polls after it, and keeps its place in the history.
struct sparkplug_rig {
    sparkplug_rig()
        : cfg(config::load_string(R"(
publish: { format: sparkplug }
sparkplug: { group_id: plant1, edge_node_id: gw1 }
availability: { offline_after: 1 }
buses:
  line: { type: tcp, host: 127.0.0.1, port: 5020 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: level, register: holding, address: 0, type: uint16 }
)")),
          node(cfg, 0),
          publisher(cfg, [this](const std::vector<mqtt::message>& batch, system_time) {
              stored.insert(stored.end(), batch.begin(), batch.end());
          }) {
        publisher.set_sparkplug(&node, [this](mqtt::message m) { now_sent.push_back(std::move(m)); });
    }
    // A poll of m1's one point: its value, or no answer.
    void poll(std::optional<std::uint16_t> v, steady::time_point at) {
        modbus::poll_result r;
        r.device = "m1";
        r.time = system_time{} + 1h;
        r.samples.push_back(v ? modbus::sample{0, {*v}, {true, {}}}
                              : modbus::sample{0, {}, {false, std::make_error_code(std::errc::timed_out)}});
        publisher.poll(r, at);
    }

    config::gateway cfg;
    sparkplug_node node;
    std::vector<mqtt::message> now_sent;  // births and deaths, at once
    std::vector<mqtt::message> stored;    // handed to the store
    device_publisher publisher;
};

TEST(device_publisher_sparkplug, the_dbirth_of_a_device_coming_online_carries_the_values_of_that_poll) {
    sparkplug_rig s;
    (void)s.node.births(system_time{} + 1h);  // the node is born: device births go out at once
    const auto birth_value = [](const mqtt::message& m) -> sparkplug::wire_value {
        auto decoded = sparkplug::decode(m.payload);
        const auto* p = std::get_if<sparkplug::payload>(&decoded);
        if (p == nullptr || p->metrics.empty()) return sparkplug::null_value{};
        return p->metrics.back().value;
    };
    auto& now_sent = s.now_sent;
    s.poll(230, steady::time_point{});
    ASSERT_EQ(now_sent.size(), 1u);
    EXPECT_EQ(now_sent[0].topic, "spBv1.0/plant1/DBIRTH/gw1/m1");
    EXPECT_EQ(birth_value(now_sent[0]), sparkplug::wire_value{std::uint32_t{230}});
    s.poll(std::nullopt, steady::time_point{} + 1s);  // offline: DDEATH
    ASSERT_EQ(now_sent.size(), 2u);
    EXPECT_EQ(now_sent[1].topic, "spBv1.0/plant1/DDEATH/gw1/m1");
    s.poll(231, steady::time_point{} + 2s);
    ASSERT_EQ(now_sent.size(), 3u);
    EXPECT_EQ(now_sent[2].topic, "spBv1.0/plant1/DBIRTH/gw1/m1");
    EXPECT_EQ(birth_value(now_sent[2]), sparkplug::wire_value{std::uint32_t{231}}) << "not the outage's null";
}

TEST(device_publisher_sparkplug, while_the_node_is_not_born_the_poll_that_brings_a_device_online_is_stored) {
    sparkplug_rig s;  // no births: the link is not up
    s.poll(230, steady::time_point{});
    EXPECT_TRUE(s.now_sent.empty());
    ASSERT_EQ(s.stored.size(), 1u);
    EXPECT_EQ(s.stored[0].topic, "spBv1.0/plant1/DDATA/gw1/m1");
}

}  // namespace
}  // namespace fieldbridge::gateway
