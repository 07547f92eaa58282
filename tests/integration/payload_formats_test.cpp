// Payload formats on real peers: `fieldbridge run` with `publish.format:
// device` polls a simulated meter and publishes one message per poll on the
// device topic to a real mosquitto; commands keep their point topics and a
// write's read-back goes out as a device message. With `format: raw` the
// value alone goes out, commands unchanged. With `format: template`
// each point's message is its template filled in (the point's, the
// profile's or publish.template), read-backs included.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/config_builder.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/modbus_master.hpp"
#include "tests/support/subscriber.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::gateway_rig;
using testing::point_spec;
using testing::subscriber;
using testing::wait_until;

TEST(payload_formats, the_device_format_publishes_one_message_per_poll_with_every_point) {
    gateway_rig rig;
    rig.config.client_id("formats-gw").prefix("fmt").heartbeat("1s");
    rig.config.publish().set("format", "device").set("device_topic", "{prefix}/{device}/values");
    rig.config.profile("meter", {
                                    point_spec("voltage", "input", 0, "float32").unit("V").qos(1).simulate_constant(229.01),
                                    point_spec("energy", "holding", 10, "uint32").qos(2).simulate_constant(123456),
                                    point_spec("relay", "coil", 3, "bool").qos(0).retain().writable(),
                                });
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(3).profile("meter").poll_interval("200ms").timeout("300ms");
    subscriber sub(rig.broker(), "fmt/#");
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();

    const auto all_good = [](const nlohmann::json& j) { return !j.contains("quality") && j.at("points").size() == 3; };
    ASSERT_TRUE(wait_until([&] { return sub.find("fmt/m1/values", all_good).has_value(); }, 20s))
        << sub.dump() << gw.output();
    const auto m = *sub.find("fmt/m1/values", all_good);
    const auto j = nlohmann::json::parse(m.payload);
    EXPECT_EQ(j.at("device"), "m1");
    EXPECT_EQ(j.at("points").at("voltage").get<double>(), 229.01);
    EXPECT_EQ(j.at("points").at("energy"), 123456);
    EXPECT_EQ(j.at("points").at("relay"), false);
    EXPECT_TRUE(j.at("ts").is_string());
    EXPECT_EQ(m.qos, 2) << "the highest QoS of its points";
    // No per-point value topics in this format.
    EXPECT_FALSE(sub.find("fmt/m1/voltage", [](const auto&) { return true; }).has_value()) << sub.dump();

    // A command on the point's command topic: answered there, and the
    // read-back goes out as a device message holding that point.
    ASSERT_TRUE(rig.publish("fmt/m1/relay/set", R"({"value": true, "id": "c1"})", false));
    ASSERT_TRUE(wait_until(
        [&] { return sub.find("fmt/m1/relay/reply", [](const auto& r) { return r.value("id", "") == "c1"; }).has_value(); },
        10s))
        << sub.dump() << gw.output();
    EXPECT_EQ(nlohmann::json::parse(sub.find("fmt/m1/relay/reply", [](const auto&) { return true; })->payload).at("ok"), true);
    EXPECT_EQ(testing::read_coils(rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{1}));
    EXPECT_TRUE(wait_until(
        [&] {
            return sub.find("fmt/m1/values", [](const auto& v) { return v.at("points").value("relay", false) == true; })
                .has_value();
        },
        10s))
        << sub.dump();
    EXPECT_TRUE(gw.running()) << gw.output();
}

// The newest payload on topic, as it arrived (not JSON).
std::optional<std::string> latest_payload(const subscriber& sub, const std::string& topic) {
    std::optional<std::string> last;
    for (const auto& m : sub.messages()) {
        if (m.topic == topic) last = m.payload;
    }
    return last;
}

TEST(payload_formats, the_raw_format_publishes_the_value_alone_and_takes_commands) {
    gateway_rig rig;
    rig.config.client_id("raw-gw").prefix("raw").heartbeat("1s");
    rig.config.publish().set("format", "raw");
    rig.config.profile("meter", {
                                    point_spec("voltage", "input", 0, "float32").unit("V").simulate_constant(229.01),
                                    point_spec("relay", "coil", 3, "bool").writable(),
                                });
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(3).profile("meter").poll_interval("200ms").timeout("300ms");
    subscriber sub(rig.broker(), "raw/#");
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();

    ASSERT_TRUE(wait_until([&] { return latest_payload(sub, "raw/m1/voltage").has_value(); }, 20s))
        << sub.dump() << gw.output();
    EXPECT_EQ(*latest_payload(sub, "raw/m1/voltage"), "229.01");
    ASSERT_TRUE(wait_until([&] { return latest_payload(sub, "raw/m1/relay") == "false"; }, 10s)) << sub.dump();
    // Commands keep their JSON form and their reply topic; the read-back is raw.
    ASSERT_TRUE(rig.publish("raw/m1/relay/set", R"({"value": true, "id": "c1"})", false));
    ASSERT_TRUE(wait_until(
        [&] { return sub.find("raw/m1/relay/reply", [](const auto& r) { return r.value("id", "") == "c1"; }).has_value(); },
        10s))
        << sub.dump() << gw.output();
    EXPECT_EQ(testing::read_coils(rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{1}));
    EXPECT_TRUE(wait_until([&] { return latest_payload(sub, "raw/m1/relay") == "true"; }, 10s)) << sub.dump();
    EXPECT_TRUE(gw.running()) << gw.output();
}

TEST(payload_formats, the_template_format_fills_in_each_points_template) {
    gateway_rig rig;
    rig.config.client_id("template-gw").prefix("tpl").heartbeat("1s");
    rig.config.publish()
        .set("format", "template")
        .set("template", R"({"v":{{value}},"q":{{quality}},"at":{{ts_ms}},"id":"{{device}}.{{point}}"})");
    rig.config.profile("meter", {
                                    point_spec("voltage", "input", 0, "float32").unit("V").simulate_constant(229.01),
                                    point_spec("energy", "holding", 10, "uint32")
                                        .set("template", "energy={{value}} raw={{raw}}")
                                        .simulate_constant(123456),
                                    point_spec("relay", "coil", 3, "bool").writable(),
                                });
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(3).profile("meter").poll_interval("200ms").timeout("300ms");
    subscriber sub(rig.broker(), "tpl/#");
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();

    ASSERT_TRUE(wait_until([&] { return sub.find("tpl/m1/voltage", [](const auto&) { return true; }).has_value(); }, 20s))
        << sub.dump() << gw.output();
    const auto v = nlohmann::json::parse(sub.find("tpl/m1/voltage", [](const auto&) { return true; })->payload);
    EXPECT_EQ(v.at("v").get<double>(), 229.01);
    EXPECT_EQ(v.at("q"), "good");
    EXPECT_TRUE(v.at("at").is_number_integer());
    EXPECT_EQ(v.at("id"), "m1.voltage");
    const auto energy = [&] { return latest_payload(sub, "tpl/m1/energy"); };
    ASSERT_TRUE(wait_until([&] { return energy().has_value(); }, 10s)) << sub.dump();
    EXPECT_EQ(*energy(), "energy=123456 raw=1,57920") << "the point's own template, as text";

    // A command: answered on the reply topic as always, and the read-back
    // goes out through the template.
    ASSERT_TRUE(rig.publish("tpl/m1/relay/set", R"({"value": true, "id": "c1"})", false));
    ASSERT_TRUE(wait_until(
        [&] { return sub.find("tpl/m1/relay/reply", [](const auto& r) { return r.value("id", "") == "c1"; }).has_value(); },
        10s))
        << sub.dump() << gw.output();
    EXPECT_EQ(testing::read_coils(rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{1}));
    EXPECT_TRUE(wait_until(
        [&] { return sub.find("tpl/m1/relay", [](const auto& j) { return j.value("v", false) == true; }).has_value(); },
        10s))
        << sub.dump();
    EXPECT_TRUE(gw.running()) << gw.output();
}

}  // namespace
}  // namespace fieldbridge
