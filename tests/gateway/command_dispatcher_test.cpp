// The command dispatcher without a broker, a bus or a timer: its ports are
// recorded here and answered by hand, on a manual clock.
#include "gateway/command_dispatcher.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drivers/modbus/modbus_error.hpp"
#include "tests/support/captured_log.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;

config::gateway plant() {
    config::gateway g;
    g.publish.prefix = "site/a";
    g.publish.topic_template = "{prefix}/{device}/{point}";
    config::bus b;
    b.name = "line";
    g.buses.push_back(b);
    config::device pump;
    pump.name = "pump";
    pump.bus = "line";
    config::point sp;
    sp.name = "setpoint";
    sp.writable = true;
    config::point speed;
    speed.name = "speed";
    speed.address = 1;
    speed.writable = true;
    config::point hours;
    hours.name = "hours";
    hours.address = 2;
    pump.points = {sp, speed, hours};
    g.devices.push_back(pump);
    config::device fan = pump;
    fan.name = "fan";
    g.devices.push_back(fan);
    return g;
}

const std::string setpoint_topic = "site/a/pump/setpoint/set";
const std::string setpoint_reply = "site/a/pump/setpoint/reply";

// The dispatcher with every port recorded.
struct rig {
    struct write_call {
        std::size_t device;
        std::size_t point;
        modbus::value value;
        command_ports::point_handler done;
    };
    struct reply {
        mqtt::message message;
        std::function<void()> done;
    };

    explicit rig(config::gateway g = plant()) : cfg(std::move(g)), dispatcher(cfg, ports()) {}

    command_ports ports() {
        return {.polled = [this](std::size_t device) { return !unpolled.count(device); },
                .write =
                    [this](std::size_t device, std::size_t point, modbus::value v,
                           command_ports::point_handler done) {
                        writes.push_back({device, point, std::move(v), std::move(done)});
                    },
                .offline = [this](const std::string& device) { return offline.count(device) > 0; },
                .publish =
                    [this](mqtt::message m, std::function<void()> done) {
                        replies.push_back({std::move(m), std::move(done)});
                    },
                .written =
                    [this](const std::string& device, const config::point& point,
                           const std::vector<std::uint16_t>& words) {
                        written.push_back(device + "/" + point.name + "=" + std::to_string(words.at(0)));
                    },
                .subscribe = [this](const std::string& filter) { subscribed.push_back(filter); },
                .unsubscribe = [this](const std::string& filter) { unsubscribed.push_back(filter); },
                .wake_at = [this](command_ports::time_point t) { wakes.push_back(t); },
                .now = [this] { return now; }};
    }

    void command(const std::string& topic, const std::string& payload) {
        dispatcher.on_command(mqtt::message{topic, payload, mqtt::qos::at_least_once, false});
    }
    nlohmann::json reply_json(std::size_t i = 0) const {
        return nlohmann::json::parse(replies.at(i).message.payload);
    }

    config::gateway cfg;
    command_ports::time_point now{};
    std::set<std::size_t> unpolled;
    std::set<std::string> offline;
    std::vector<write_call> writes;
    std::vector<reply> replies;
    std::vector<std::string> written;
    std::vector<std::string> subscribed;
    std::vector<std::string> unsubscribed;
    std::vector<command_ports::time_point> wakes;
    command_dispatcher dispatcher;
};

TEST(command_dispatcher, writes_a_point_command_and_answers_with_the_value_read_back) {
    rig r;
    r.command(setpoint_topic, R"({"value": 42, "id": "c1"})");
    ASSERT_EQ(r.writes.size(), 1u);
    EXPECT_EQ(r.writes[0].device, 0u);
    EXPECT_EQ(r.writes[0].point, 0u);
    EXPECT_EQ(r.writes[0].value, modbus::value{std::uint64_t{42}});
    EXPECT_TRUE(r.replies.empty());  // answered once the device has
    r.writes[0].done({{}, {42}});
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.replies[0].message.topic, setpoint_reply);
    EXPECT_EQ(r.replies[0].message.qos, mqtt::qos::at_least_once);
    EXPECT_FALSE(r.replies[0].message.retain);
    EXPECT_EQ(r.reply_json(), (nlohmann::json{{"id", "c1"}, {"ok", true}, {"value", 42}}));
    EXPECT_EQ(r.written, std::vector<std::string>{"pump/setpoint=42"});
    EXPECT_EQ(r.dispatcher.counters().received, 1u);
    EXPECT_EQ(r.dispatcher.counters().refused, 0u);
    // The second device's point of the same name goes to that device.
    r.command("site/a/fan/speed/set", "7");
    ASSERT_EQ(r.writes.size(), 2u);
    EXPECT_EQ(r.writes[1].device, 1u);
    EXPECT_EQ(r.writes[1].point, 1u);
}

TEST(command_dispatcher, a_device_error_is_answered_with_the_modbus_exception) {
    rig r;
    r.command(setpoint_topic, "5");
    ASSERT_EQ(r.writes.size(), 1u);
    r.writes[0].done({modbus::make_error_code(modbus::modbus_errc::illegal_data_value), {}});
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_EQ(j.at("modbus_exception"), 3);
    EXPECT_TRUE(r.written.empty());
}

TEST(command_dispatcher, a_write_the_device_took_but_did_not_read_back_is_answered_as_written) {
    rig r;
    r.command(setpoint_topic, R"({"value": 5, "id": "w"})");
    ASSERT_EQ(r.writes.size(), 1u);
    // The read-back after the write got exception 2: not the write's refusal.
    r.writes[0].done({modbus::make_error_code(modbus::modbus_errc::illegal_data_address), {}, true});
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("id"), "w");
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_EQ(j.at("written"), true);
    EXPECT_FALSE(j.contains("modbus_exception")) << j;
    EXPECT_EQ(j.at("error").get<std::string>().rfind("the device took the write; reading it back failed: ", 0), 0u)
        << j;
    EXPECT_TRUE(r.written.empty());  // nothing read back to publish
    // A write refused by the device says nothing of the kind.
    r.command(setpoint_topic, "6");
    r.writes[1].done({modbus::make_error_code(modbus::modbus_errc::illegal_data_address), {}});
    EXPECT_FALSE(r.reply_json(1).contains("written"));
    EXPECT_EQ(r.reply_json(1).at("modbus_exception"), 2);
}

TEST(command_dispatcher, refuses_what_it_cannot_write_and_counts_each_refusal) {
    rig r;
    r.unpolled.insert(1);
    r.command("site/a/pump/nothing/set", "1");  // no such point: the reply topic follows the command's
    r.command("site/a/pump/hours/set", "1");    // read-only
    r.command(setpoint_topic, "not a number");
    r.command(setpoint_topic, std::string(max_command_payload + 1, '1'));
    r.command("site/a/fan/setpoint/set", "1");  // its bus polls nothing
    EXPECT_TRUE(r.writes.empty());
    ASSERT_EQ(r.replies.size(), 5u);
    EXPECT_EQ(r.replies[0].message.topic, "site/a/pump/nothing/reply");
    EXPECT_EQ(r.replies[1].message.topic, "site/a/pump/hours/reply");
    for (std::size_t i = 0; i < r.replies.size(); ++i) EXPECT_EQ(r.reply_json(i).at("ok"), false) << i;
    EXPECT_NE(r.reply_json(4).at("error").get<std::string>().find("fan is not polled"), std::string::npos);
    const auto& c = r.dispatcher.counters();
    EXPECT_EQ(c.received, 5u);
    EXPECT_EQ(c.refused, 5u);
    EXPECT_EQ(c.payload_too_large, 1u);
}

TEST(command_dispatcher, ignores_retained_commands_and_drops_overlong_topics_unanswered) {
    rig r;
    r.dispatcher.on_command(mqtt::message{setpoint_topic, "1", mqtt::qos::at_least_once, true});
    r.command("site/a/" + std::string(max_command_topic, 'x') + "/set", "1");
    EXPECT_TRUE(r.writes.empty());
    EXPECT_TRUE(r.replies.empty());
    const auto& c = r.dispatcher.counters();
    EXPECT_EQ(c.received, 2u);
    EXPECT_EQ(c.topic_too_long, 1u);
    EXPECT_EQ(c.refused, 0u);
    // Accepted when the configuration says so.
    auto g = plant();
    g.commands.accept_retained = true;
    rig accepting(g);
    accepting.dispatcher.on_command(mqtt::message{setpoint_topic, "1", mqtt::qos::at_least_once, true});
    EXPECT_EQ(accepting.writes.size(), 1u);
}

TEST(command_dispatcher, answers_on_the_mqtt5_response_topic_with_the_correlation_data) {
    rig r;
    mqtt::message m{setpoint_topic, "3", mqtt::qos::at_least_once, false, "app/7/answers", "\x01\x02req"};
    r.dispatcher.on_command(m);
    ASSERT_EQ(r.writes.size(), 1u);
    r.writes[0].done({{}, {3}});
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.replies[0].message.topic, "app/7/answers");
    EXPECT_EQ(r.replies[0].message.correlation_data, "\x01\x02req");
    // At the bounds: taken.
    m.response_topic = std::string(max_command_topic, 'r');
    m.correlation_data = std::string(max_correlation_data, 'c');
    r.dispatcher.on_command(m);
    ASSERT_EQ(r.writes.size(), 2u);
    r.writes[1].done({{}, {3}});
    EXPECT_EQ(r.replies.at(1).message.topic, m.response_topic);
    EXPECT_EQ(r.replies.at(1).message.correlation_data, m.correlation_data);
    EXPECT_EQ(r.dispatcher.counters().reply_address_too_long, 0u);
    EXPECT_EQ(r.dispatcher.counters().response_topic_refused, 0u);
}

// [MQTT-4.10] request/response: the gateway publishes its answer where the
// command says. A Response Topic the gateway itself takes commands on would
// make the answer come back as a command (a write of the reply JSON); one
// with a wildcard, not UTF-8, with a control character or under $SYS
// cannot be published to. Such a command is not
// written: the caller would not hear its outcome. Its refusal goes to the
// configured reply topic with the Correlation Data.
TEST(command_dispatcher, refuses_a_command_whose_response_topic_no_reply_can_go_to) {
    rig r;
    const std::vector<std::pair<std::string, std::string>> cases{
        {setpoint_topic, "is one of the gateway's command topics"},      // a point's command topic
        {"site/a/fan/speed/set", "is one of the gateway's command topics"},  // another point's
        {"site/a/pump/nothing/set", "is one of the gateway's command topics"},  // under the command wildcard
        {"app/+/answers", "holds a wildcard (+ or #)"},
        {"app/#", "holds a wildcard (+ or #)"},
        {std::string("app/\xff\xfe"), "is not a valid UTF-8 topic name"},
        {std::string("app/\0nul", 8), "is not a valid UTF-8 topic name"},
        // Taken by the decoder, refused by the broker (which would close
        // the link over the first, and drop the reply under the others).
        {std::string("app/\x01") + "x", "is one the broker refuses: string holds a control character"},
        {"$SYS/answers", "is one the broker refuses: topic begins with $SYS or $share"},
        {"$share/g/answers", "is one the broker refuses: topic begins with $SYS or $share"},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& [topic, why] = cases[i];
        r.dispatcher.on_command(mqtt::message{setpoint_topic, R"({"value": 3, "id": "c)" + std::to_string(i) + "\"}",
                                              mqtt::qos::at_least_once, false, topic, "corr"});
        ASSERT_EQ(r.replies.size(), i + 1) << i;
        const auto& reply = r.replies[i].message;
        EXPECT_EQ(reply.topic, setpoint_reply) << i;
        EXPECT_EQ(reply.correlation_data, "corr") << i;
        const auto j = r.reply_json(i);
        EXPECT_EQ(j.at("id"), "c" + std::to_string(i)) << i;
        EXPECT_EQ(j.at("ok"), false) << i;
        const auto error = j.at("error").get<std::string>();
        EXPECT_NE(error.find(why), std::string::npos) << i << ": " << error;
        EXPECT_NE(error.find("not written"), std::string::npos) << i << ": " << error;
    }
    EXPECT_TRUE(r.writes.empty());
    EXPECT_EQ(r.dispatcher.counters().response_topic_refused, cases.size());
    EXPECT_EQ(r.dispatcher.counters().refused, cases.size());
    // A device-level command the same way.
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig devices(g);
    devices.dispatcher.on_command(mqtt::message{"site/a/pump/set", R"({"setpoint": 1})", mqtt::qos::at_least_once,
                                                false, "site/a/fan/set", "corr"});
    EXPECT_TRUE(devices.writes.empty());
    ASSERT_EQ(devices.replies.size(), 1u);
    EXPECT_EQ(devices.replies[0].message.topic, "site/a/pump/reply");
    EXPECT_EQ(devices.reply_json().at("ok"), false);
}

// A Response Topic the gateway publishes its own messages on: a reply there
// reaches that topic's subscribers as a value, an availability or the
// gateway's status (and a JSON reply in the Sparkplug namespace breaks its
// decoders). Refused like the others; what the gateway does not publish on
// in the configured format stays usable.
TEST(command_dispatcher, refuses_a_response_topic_the_gateway_publishes_its_own_messages_on) {
    // Whether a command with this Response Topic is refused; a taken one is
    // written and its reply checked to go there.
    const auto refused = [](rig& r, const std::string& response_topic) {
        const auto writes = r.writes.size();
        const auto replies = r.replies.size();
        r.dispatcher.on_command(
            mqtt::message{setpoint_topic, "3", mqtt::qos::at_least_once, false, response_topic, "corr"});
        if (r.writes.size() == writes + 1) {
            r.writes.back().done({{}, {3}});
            EXPECT_EQ(r.replies.at(replies).message.topic, response_topic);
            return false;
        }
        EXPECT_EQ(r.writes.size(), writes) << response_topic;
        const auto j = r.reply_json(replies);
        EXPECT_EQ(r.replies.at(replies).message.topic, setpoint_reply);
        EXPECT_NE(j.at("error").get<std::string>().find("is one the gateway publishes its own messages on"),
                  std::string::npos)
            << j.dump();
        return true;
    };
    rig points;  // a message per point
    for (const std::string topic : {"site/a/pump/setpoint", "site/a/fan/hours", "site/a/pump/availability",
                                    "site/a/fan/availability", "site/a/status", "spBv1.0/g/DDATA/n/pump",
                                    "spBv1.0/STATE/host"}) {
        EXPECT_TRUE(refused(points, topic)) << topic;
    }
    for (const std::string topic : {"site/a/pump", "site/a/pump/setpoint/reply", "site/a/pump/setpoint/x",
                                    "site/a/statu", "site/a/pump/setpoin", "app/answers"}) {
        EXPECT_FALSE(refused(points, topic)) << topic;
    }
    EXPECT_EQ(points.dispatcher.counters().response_topic_refused, 7u);

    auto g = plant();
    g.publish.format = config::payload_format::device;
    rig devices(g);  // a message per device on publish.device_topic
    EXPECT_TRUE(refused(devices, "site/a/pump"));
    EXPECT_TRUE(refused(devices, "site/a/fan/availability"));
    EXPECT_FALSE(refused(devices, "site/a/pump/setpoint"));

    g.publish.format = config::payload_format::sparkplug;
    rig sparkplug(g);  // no availability or status topics: NBIRTH, DDEATH and so on
    EXPECT_TRUE(refused(sparkplug, "spBv1.0/g/NCMD/n"));
    EXPECT_FALSE(refused(sparkplug, "site/a/status"));
    EXPECT_FALSE(refused(sparkplug, "site/a/pump/availability"));
    EXPECT_FALSE(refused(sparkplug, "site/a/pump/setpoint"));
}

// Whatever reply topic got past the checks (the loader refuses configured
// reply topics that are command topics), no reply is published on a command topic.
TEST(command_dispatcher, never_publishes_a_reply_on_a_command_topic) {
    auto g = plant();
    g.commands.reply_suffix = "/set";  // the loader refuses this; the dispatcher holds anyway
    rig r(g);
    r.command(setpoint_topic, "3");
    ASSERT_EQ(r.writes.size(), 1u);
    r.writes[0].done({{}, {3}});
    EXPECT_TRUE(r.replies.empty());
    EXPECT_EQ(r.dispatcher.counters().replies_looping, 1u);
    EXPECT_EQ(r.dispatcher.pending_replies(), 0u);
}

TEST(command_dispatcher, refuses_a_response_topic_or_correlation_data_past_its_bound) {
    rig r;
    mqtt::message long_topic{setpoint_topic,
                             R"({"value": 1, "id": "t"})",
                             mqtt::qos::at_least_once,
                             false,
                             std::string(max_command_topic + 1, 'r'),
                             "corr"};
    mqtt::message long_data{setpoint_topic,
                            R"({"value": 1, "id": "d"})",
                            mqtt::qos::at_least_once,
                            false,
                            "app/answers",
                            std::string(max_correlation_data + 1, 'c')};
    r.dispatcher.on_command(long_topic);
    r.dispatcher.on_command(long_data);
    EXPECT_TRUE(r.writes.empty());
    ASSERT_EQ(r.replies.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        // Refused on the configured reply topic, carrying none of what was too long.
        EXPECT_EQ(r.replies[i].message.topic, setpoint_reply) << i;
        EXPECT_TRUE(r.replies[i].message.correlation_data.empty()) << i;
        EXPECT_EQ(r.reply_json(i).at("ok"), false) << i;
    }
    EXPECT_EQ(r.reply_json(0).at("id"), "t");
    EXPECT_EQ(r.reply_json(1).at("id"), "d");
    EXPECT_EQ(r.dispatcher.counters().reply_address_too_long, 2u);
    EXPECT_EQ(r.dispatcher.counters().refused, 2u);
}

TEST(command_dispatcher, keeps_at_most_max_pending_replies_and_counts_the_rest) {
    rig r;
    const std::size_t extra = 37;
    for (std::size_t i = 0; i < max_pending_replies + extra; ++i) r.command("site/a/pump/nothing/set", "1");
    EXPECT_EQ(r.replies.size(), max_pending_replies);  // what the client holds stays bounded
    EXPECT_EQ(r.dispatcher.pending_replies(), max_pending_replies);
    EXPECT_EQ(r.dispatcher.counters().replies_dropped, extra);
    EXPECT_EQ(r.dispatcher.counters().refused, max_pending_replies + extra);
    // A write's answer past the bound is not sent either (the write still happens).
    r.command(setpoint_topic, "1");
    ASSERT_EQ(r.writes.size(), 1u);
    r.writes[0].done({{}, {1}});
    EXPECT_EQ(r.replies.size(), max_pending_replies);
    EXPECT_EQ(r.dispatcher.counters().replies_dropped, extra + 1);
    // Completed replies make room again, whatever their outcome.
    for (auto& reply : r.replies) reply.done();
    EXPECT_EQ(r.dispatcher.pending_replies(), 0u);
    r.replies.clear();
    r.command("site/a/pump/nothing/set", "1");
    EXPECT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.dispatcher.pending_replies(), 1u);
}

config::gateway waiting_plant() {
    auto g = plant();
    g.commands.max_age = 5000ms;
    return g;
}

TEST(command_dispatcher, holds_a_command_for_an_offline_device_and_writes_it_when_it_is_back) {
    rig r(waiting_plant());
    r.offline.insert("pump");
    r.now += 10s;
    r.command(setpoint_topic, R"({"value": 9, "id": "h"})");
    EXPECT_TRUE(r.writes.empty());
    EXPECT_TRUE(r.replies.empty());
    EXPECT_EQ(r.dispatcher.held(), 1u);
    ASSERT_FALSE(r.wakes.empty());
    EXPECT_EQ(r.wakes.back(), r.now + 5000ms);
    r.now += 2s;
    r.dispatcher.expire(r.now);  // not yet
    EXPECT_EQ(r.dispatcher.held(), 1u);
    // Another device coming back releases nothing of this one.
    r.dispatcher.device_back("fan");
    EXPECT_TRUE(r.writes.empty());
    r.offline.clear();
    r.dispatcher.device_back("pump");
    EXPECT_EQ(r.dispatcher.held(), 0u);
    ASSERT_EQ(r.writes.size(), 1u);
    EXPECT_EQ(r.writes[0].value, modbus::value{std::uint64_t{9}});
    r.writes[0].done({{}, {9}});
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.reply_json(), (nlohmann::json{{"id", "h"}, {"ok", true}, {"value", 9}}));
    EXPECT_EQ(r.dispatcher.counters().refused, 0u);
}

TEST(command_dispatcher, answers_a_held_command_when_its_max_age_is_up) {
    rig r(waiting_plant());
    r.offline.insert("pump");
    r.command(setpoint_topic, R"({"value": 9, "id": "late"})");
    ASSERT_EQ(r.dispatcher.held(), 1u);
    const auto deadline = r.wakes.at(0);
    r.now = deadline - 1ms;
    r.dispatcher.expire(r.now);
    EXPECT_TRUE(r.replies.empty());
    r.now = deadline;
    r.dispatcher.expire(r.now);
    EXPECT_EQ(r.dispatcher.held(), 0u);
    ASSERT_EQ(r.replies.size(), 1u);
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("id"), "late");
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_NE(
        j.at("error").get<std::string>().find("stayed offline for longer than commands.max_age (5000 ms)"),
        std::string::npos);
    EXPECT_TRUE(r.writes.empty());
    // The device coming back later writes nothing.
    r.offline.clear();
    r.dispatcher.device_back("pump");
    EXPECT_TRUE(r.writes.empty());
}

// The wake-up timer for a deadline may run late (a busy core thread): a
// device back in between must not have the expired command written.
TEST(command_dispatcher, a_held_command_past_its_max_age_is_not_written_when_its_device_comes_back) {
    rig r(waiting_plant());
    r.offline.insert("pump");
    r.command(setpoint_topic, R"({"value": 9, "id": "stale"})");
    r.now += 1s;
    r.command(setpoint_topic, R"({"value": 10, "id": "fresh"})");
    ASSERT_EQ(r.dispatcher.held(), 2u);
    r.now += 4500ms;  // past the first one's deadline, not the second's; no expire() ran
    r.offline.clear();
    r.dispatcher.device_back("pump");
    EXPECT_EQ(r.dispatcher.held(), 0u);
    ASSERT_EQ(r.writes.size(), 1u);
    EXPECT_EQ(r.writes[0].value, modbus::value{std::uint64_t{10}});
    ASSERT_EQ(r.replies.size(), 1u);
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("id"), "stale");
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_NE(
        j.at("error").get<std::string>().find("stayed offline for longer than commands.max_age (5000 ms)"),
        std::string::npos);
    r.writes[0].done({{}, {10}});
    ASSERT_EQ(r.replies.size(), 2u);
    EXPECT_EQ(r.reply_json(1), (nlohmann::json{{"id", "fresh"}, {"ok", true}, {"value", 10}}));
}

TEST(command_dispatcher, refuses_at_once_for_an_offline_device_without_max_age_or_room) {
    rig now_or_never;
    now_or_never.offline.insert("pump");
    now_or_never.command(setpoint_topic, "1");
    ASSERT_EQ(now_or_never.replies.size(), 1u);
    EXPECT_EQ(now_or_never.reply_json().at("error"), "device pump is offline");

    rig r(waiting_plant());
    r.offline.insert("pump");
    for (std::size_t i = 0; i < max_held_per_device; ++i) r.command(setpoint_topic, "1");
    EXPECT_TRUE(r.replies.empty());
    r.command(setpoint_topic, "1");
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_NE(r.reply_json().at("error").get<std::string>().find("100 commands already wait for it"),
              std::string::npos);
    EXPECT_EQ(r.dispatcher.counters().held_full, 1u);
    EXPECT_EQ(r.dispatcher.held(), max_held_per_device);
    // Given up all at once (reload, shutdown), each with the reason.
    r.dispatcher.give_up_all("the gateway is shutting down");
    EXPECT_EQ(r.dispatcher.held(), 0u);
    EXPECT_EQ(r.replies.size(), 1 + max_held_per_device);
    EXPECT_EQ(r.reply_json(1).at("error"), "the gateway is shutting down");
}

// While the gateway stops, a command still gets its answer: nothing more is
// written, held commands are given up, bad commands are refused as before.
TEST(command_dispatcher, once_closed_it_writes_nothing_more_and_answers_every_command) {
    auto g = waiting_plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig r(g);
    r.offline.insert("pump");
    r.command(setpoint_topic, "1");
    EXPECT_EQ(r.dispatcher.held(), 1u);
    r.dispatcher.close("the gateway is shutting down");
    EXPECT_EQ(r.dispatcher.held(), 0u);
    r.offline.clear();
    r.unpolled = {0, 1};  // as the shutdown leaves them: its buses retired
    r.command(setpoint_topic, R"({"value": 2, "id": "late"})");
    r.command("site/a/pump/set", R"({"values": {"speed": 4}, "id": "late-device"})");
    r.command("site/a/pump/hours/set", "1");  // read-only: refused for that, as before
    EXPECT_TRUE(r.writes.empty());
    ASSERT_EQ(r.replies.size(), 4u);
    EXPECT_EQ(r.reply_json(0).at("error"), "the gateway is shutting down");
    EXPECT_EQ(r.reply_json(1), (nlohmann::json{{"id", "late"}, {"ok", false}, {"error", "the gateway is shutting down"}}));
    EXPECT_EQ(r.reply_json(2).at("id"), "late-device");
    EXPECT_EQ(r.reply_json(2).at("error"), "the gateway is shutting down");
    EXPECT_NE(r.reply_json(3).at("error").get<std::string>().find("not writable"), std::string::npos)
        << r.reply_json(3);
}

// The gateway's stop waits for the answers of writes still at a device: the
// waiter runs once the last one's reply has gone out, at once when none is out.
TEST(command_dispatcher, runs_what_waits_for_the_writes_once_the_last_reply_went_out) {
    // (Once the client completed each reply's publish: it may wait in the
    // client's queue behind the messages the forwarder handed over.)
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig r(g);
    int runs = 0;
    std::size_t replies_then = 0;
    const auto waiter = [&] {
        ++runs;
        replies_then = r.replies.size();
    };
    r.dispatcher.when_writes_answered(waiter);
    EXPECT_EQ(runs, 1) << "nothing out: at once";
    r.command(setpoint_topic, "5");
    r.command("site/a/pump/set", R"({"values": {"speed": 4, "setpoint": 8}})");
    ASSERT_EQ(r.writes.size(), 3u);
    r.dispatcher.close("the gateway is shutting down");
    r.dispatcher.when_writes_answered(waiter);
    r.writes[0].done({{}, {5}});
    r.writes[1].done({{}, {4}});
    EXPECT_EQ(runs, 1) << "one write of the device command is still out";
    r.writes[2].done({{}, {8}});
    ASSERT_EQ(r.replies.size(), 2u);
    EXPECT_EQ(runs, 1) << "both replies are handed to the client, neither is out yet";
    r.replies[1].done();
    EXPECT_EQ(runs, 1) << "one reply is still in the client's queue";
    r.replies[0].done();
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(replies_then, 2u) << "both replies went out before the waiter ran";
    // No write out, a reply still out: it waits for the reply.
    r.dispatcher.close("the gateway is shutting down");
    r.command(setpoint_topic, "{\"value\": 1, \"id\": \"late\"}");  // refused: its reply is handed over
    ASSERT_EQ(r.replies.size(), 3u);
    r.dispatcher.when_writes_answered(waiter);
    EXPECT_EQ(runs, 2);
    r.replies[2].done();
    EXPECT_EQ(runs, 3);
}

TEST(command_dispatcher, writes_a_device_command_point_by_point_and_answers_once) {
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig r(g);
    r.command("site/a/pump/set", R"({"values": {"speed": 4, "setpoint": 8}, "id": "both"})");
    ASSERT_EQ(r.writes.size(), 2u);
    EXPECT_EQ(r.writes[0].point, 1u);  // in the order given
    EXPECT_EQ(r.writes[1].point, 0u);
    r.writes[0].done({{}, {4}});
    EXPECT_TRUE(r.replies.empty());
    r.writes[1].done({modbus::make_error_code(modbus::modbus_errc::server_device_failure), {}});
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_FALSE(r.reply_json().at("errors").at("setpoint").contains("written"));
    EXPECT_EQ(r.replies[0].message.topic, "site/a/pump/reply");
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("id"), "both");
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_EQ(j.at("values"), (nlohmann::json{{"speed", 4}}));
    EXPECT_EQ(j.at("errors").at("setpoint").at("modbus_exception"), 4);
    // Nothing is written when one of the points is refused.
    r.command("site/a/pump/set", R"({"speed": 4, "hours": 1})");
    EXPECT_EQ(r.writes.size(), 2u);
    EXPECT_EQ(r.reply_json(1).at("ok"), false);
}

TEST(command_dispatcher, a_device_command_naming_more_points_than_a_bus_queues_is_refused_for_good) {
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    auto& pump = g.devices.at(0);
    nlohmann::json values = nlohmann::json::object();
    for (std::size_t i = 0; i <= max_queued_writes_per_bus; ++i) {
        config::point p;
        p.name = "p" + std::to_string(i);
        p.address = static_cast<std::uint16_t>(10 + i);
        p.writable = true;
        pump.points.push_back(p);
        values[p.name] = 1;
    }
    rig r(g);
    r.command("site/a/pump/set", nlohmann::json{{"values", values}, {"id", "many"}}.dump());
    EXPECT_TRUE(r.writes.empty());
    ASSERT_EQ(r.replies.size(), 1u);
    const auto error = r.reply_json().at("error").get<std::string>();
    EXPECT_NE(error.find("names 101 points; one command writes at most 100"), std::string::npos) << error;
    EXPECT_EQ(error.find("again later"), std::string::npos) << error;
    // As many as a bus queues go.
    values.erase("p0");
    r.command("site/a/pump/set", nlohmann::json{{"values", values}, {"id", "hundred"}}.dump());
    EXPECT_EQ(r.writes.size(), max_queued_writes_per_bus);
}

TEST(command_dispatcher, subscribes_each_filter_once) {
    rig r;
    r.dispatcher.subscribe();
    EXPECT_EQ(r.subscribed, std::vector<std::string>{"site/a/+/+/set"});
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    r.cfg = g;
    r.dispatcher.reconfigure(r.cfg);
    r.dispatcher.subscribe();
    EXPECT_EQ(r.subscribed,
              (std::vector<std::string>{"site/a/+/+/set", "site/a/pump/set", "site/a/fan/set"}));
    EXPECT_TRUE(r.unsubscribed.empty());
}

// A reload that moves the command topics (a new prefix) or takes some away
// (no device topics, commands off): the filters no command topic is under
// any more are unsubscribed, so that the broker stops sending their messages.
TEST(command_dispatcher, unsubscribes_the_filters_a_reload_took_away) {
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig r(g);
    r.dispatcher.subscribe();
    ASSERT_EQ(r.subscribed, (std::vector<std::string>{"site/a/+/+/set", "site/a/pump/set", "site/a/fan/set"}));

    // The fan goes, and the prefix moves.
    r.cfg.devices.pop_back();
    r.cfg.publish.prefix = "site/b";
    r.dispatcher.reconfigure(r.cfg);
    r.dispatcher.subscribe();
    auto gone = r.unsubscribed;
    std::sort(gone.begin(), gone.end());
    EXPECT_EQ(gone, (std::vector<std::string>{"site/a/+/+/set", "site/a/fan/set", "site/a/pump/set"}));
    EXPECT_EQ(r.subscribed, (std::vector<std::string>{"site/a/+/+/set", "site/a/pump/set", "site/a/fan/set",
                                                       "site/b/+/+/set", "site/b/pump/set"}));

    // Commands off: nothing stays subscribed; on again: subscribed anew.
    r.unsubscribed.clear();
    r.cfg.commands.enabled = false;
    r.dispatcher.reconfigure(r.cfg);
    r.dispatcher.subscribe();
    gone = r.unsubscribed;
    std::sort(gone.begin(), gone.end());
    EXPECT_EQ(gone, (std::vector<std::string>{"site/b/+/+/set", "site/b/pump/set"}));
    r.subscribed.clear();
    r.cfg.commands.enabled = true;
    r.dispatcher.reconfigure(r.cfg);
    r.dispatcher.subscribe();
    EXPECT_EQ(r.subscribed, (std::vector<std::string>{"site/b/+/+/set", "site/b/pump/set"}));
    // The same configuration again: nothing changes.
    r.subscribed.clear();
    r.unsubscribed.clear();
    r.dispatcher.reconfigure(r.cfg);
    r.dispatcher.subscribe();
    EXPECT_TRUE(r.subscribed.empty());
    EXPECT_TRUE(r.unsubscribed.empty());
}

}  // namespace
}  // namespace fieldbridge::gateway

namespace fieldbridge::gateway {
namespace {

// A flood of commands cannot queue writes on a bus without end: past
// max_queued_writes_per_bus writes not yet answered, a command is refused
// with the reason; once the bus answers one, there is room again.
TEST(command_dispatcher, refuses_a_command_when_its_bus_already_has_the_most_writes_waiting) {
    auto g = plant();
    g.commands.device_topic = "{prefix}/{device}";
    rig r(g);
    for (std::size_t i = 0; i < max_queued_writes_per_bus; ++i) r.command(setpoint_topic, "1");
    EXPECT_EQ(r.writes.size(), max_queued_writes_per_bus);
    EXPECT_TRUE(r.replies.empty());
    r.command("site/a/fan/setpoint/set", R"({"value": 2, "id": "flood"})");  // another device, same bus
    EXPECT_EQ(r.writes.size(), max_queued_writes_per_bus);
    ASSERT_EQ(r.replies.size(), 1u);
    const auto j = r.reply_json();
    EXPECT_EQ(j.at("id"), "flood");
    EXPECT_EQ(j.at("ok"), false);
    EXPECT_EQ(j.at("error"), "bus line already has 100 writes waiting (at most 100); not written, send it again later");
    EXPECT_EQ(r.dispatcher.counters().bus_queue_full, 1u);
    EXPECT_EQ(r.dispatcher.counters().refused, 1u);
    // A device command needs room for all its writes, or none is queued.
    r.writes[0].done({{}, {1}});
    r.command("site/a/pump/set", R"({"values": {"setpoint": 1, "speed": 2}, "id": "both"})");
    EXPECT_EQ(r.writes.size(), max_queued_writes_per_bus);
    EXPECT_EQ(r.dispatcher.counters().bus_queue_full, 2u) << r.replies.back().message.payload;
    // A failed write frees its place too.
    r.writes[1].done({modbus::make_error_code(modbus::modbus_errc::timeout), {}});
    r.command(setpoint_topic, "3");
    EXPECT_EQ(r.writes.size(), max_queued_writes_per_bus + 1);
    EXPECT_EQ(r.dispatcher.counters().bus_queue_full, 2u);
}

// Sparkplug commands have no reply address, and any device name may follow
// DCMD in a topic: a flood of them with made-up names is one journal line a
// minute, not one per topic (a key per topic filled the limiter, which then
// forgot them all every 1 024 names and let every line through).
TEST(command_dispatcher, a_flood_of_refused_sparkplug_commands_is_one_log_line_a_minute) {
    testing::captured_log log;
    rig r;
    for (int i = 0; i < 3000; ++i) {
        r.dispatcher.refused("spBv1.0/g/DCMD/n/dev" + std::to_string(i), "not a device of this node");
    }
    EXPECT_EQ(log.count("refused: not a device of this node"), 1u);
    EXPECT_EQ(r.dispatcher.counters().refused, 3000u);
    r.now += 61s;
    r.dispatcher.refused("spBv1.0/g/DCMD/n/other", "not a device of this node");
    EXPECT_EQ(log.count("refused: not a device of this node"), 2u);
}

// Lines that repeat with what a client sends or a device answers are held
// to one a minute per kind (with the number held back), as refusals are:
// the retained commands a broker hands over at each subscription, failed
// writes of a point, commands held for an offline device.
TEST(command_dispatcher, repeating_ignored_retained_commands_failed_writes_and_held_commands_log_once_a_minute) {
    testing::captured_log log;
    rig r(waiting_plant());
    for (int i = 0; i < 500; ++i) {
        r.dispatcher.on_command(mqtt::message{"site/a/pump/p" + std::to_string(i) + "/set", "1",
                                              mqtt::qos::at_least_once, true});
    }
    EXPECT_EQ(r.dispatcher.counters().retained_ignored, 500u);
    EXPECT_EQ(log.count("ignoring the retained command"), 1u);

    const auto fail_all = [&r] {
        for (auto& w : r.writes) w.done({modbus::make_error_code(modbus::modbus_errc::illegal_data_value), {}});
        r.writes.clear();
    };
    for (int i = 0; i < 20; ++i) r.command(setpoint_topic, "5");
    fail_all();
    EXPECT_EQ(r.dispatcher.counters().writes_failed, 20u);
    EXPECT_EQ(r.replies.size(), 20u);  // every caller hears it
    EXPECT_EQ(log.count("command to pump/setpoint failed"), 1u);
    // Another point's, and a device command's, are lines of their own.
    r.command("site/a/pump/speed/set", "5");
    fail_all();
    EXPECT_EQ(log.count("command to pump/speed failed"), 1u);

    r.offline.insert("fan");
    for (int i = 0; i < 10; ++i) r.command("site/a/fan/speed/set", "5");
    EXPECT_EQ(r.dispatcher.held(), 10u);
    EXPECT_EQ(log.count("command for offline device fan held"), 1u);

    // A minute on, each kind again, with what was held back.
    r.now += 61s;
    r.dispatcher.on_command(mqtt::message{"site/a/pump/speed/set", "1", mqtt::qos::at_least_once, true});
    r.command(setpoint_topic, "5");
    r.dispatcher.expire(r.now);  // the held ones expire first (answered, not written)
    r.command("site/a/fan/speed/set", "5");
    fail_all();
    EXPECT_EQ(log.count("ignoring the retained command on site/a/pump/speed/set (commands.accept_retained is off) "
                        "(499 similar message(s) suppressed)"),
              1u);
    EXPECT_EQ(log.count("failed: Modbus exception 3: illegal data value (19 similar message(s) suppressed)"), 1u)
        << "a second line for pump/setpoint";
    EXPECT_EQ(log.count("held for up to 5000 ms (9 similar message(s) suppressed)"), 1u);
}

}  // namespace
}  // namespace fieldbridge::gateway
