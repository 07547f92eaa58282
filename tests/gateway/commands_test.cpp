// Command payloads, values and topics, without a broker.
#include "gateway/commands.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::gateway {
namespace {

TEST(parse_command, takes_bare_values_objects_and_text) {
    EXPECT_EQ(parse_command("42").command->value, 42);
    EXPECT_EQ(parse_command("21.5").command->value, 21.5);
    EXPECT_EQ(parse_command("true").command->value, true);
    EXPECT_EQ(parse_command("\"text\"").command->value, "text");
    EXPECT_EQ(parse_command("plain words").command->value, "plain words");
    const auto c = parse_command(R"({"value": 7, "id": "abc"})");
    ASSERT_TRUE(c.command);
    EXPECT_EQ(c.command->value, 7);
    EXPECT_EQ(c.command->id, "abc");
}

TEST(parse_command, refuses_what_is_not_a_command) {
    EXPECT_EQ(parse_command("").error, "empty command");
    EXPECT_EQ(parse_command("{\"value\": ").error, "malformed JSON");
    EXPECT_NE(parse_command(R"({"id": "x"})").error.find("no \"value\""), std::string::npos);
    EXPECT_NE(parse_command(R"({"value": 1, "id": 5})").error.find("id"), std::string::npos);
    EXPECT_FALSE(parse_command("[1,2]").command);
    EXPECT_FALSE(parse_command("null").command);
    EXPECT_FALSE(parse_command(std::string(max_command_payload + 1, '1')).command);
}

TEST(command_value, follows_the_point_type) {
    config::point b;
    b.type = config::data_type::boolean;
    config::point n;
    n.type = config::data_type::float32;
    config::point s;
    s.type = config::data_type::string;
    std::string why;
    EXPECT_EQ(command_value(b, true, why), modbus::value{true});
    EXPECT_EQ(command_value(b, 0, why), modbus::value{false});
    EXPECT_FALSE(command_value(b, 2, why));
    EXPECT_FALSE(command_value(b, "on", why));
    EXPECT_EQ(command_value(n, 21.5, why), modbus::value{21.5});
    EXPECT_EQ(command_value(n, -3, why), modbus::value{std::int64_t{-3}});
    EXPECT_FALSE(command_value(n, "21.5", why));
    EXPECT_EQ(why, "expected a number");
    EXPECT_EQ(command_value(s, "abc", why), modbus::value{std::string("abc")});
    EXPECT_FALSE(command_value(s, 5, why));
}

config::gateway plant(std::string topic_template) {
    config::gateway g;
    g.publish.prefix = "site/a";
    g.publish.topic_template = std::move(topic_template);
    config::bus b;
    b.name = "line";
    g.buses.push_back(b);
    config::device d;
    d.name = "pump";
    d.bus = "line";
    config::point sp;
    sp.name = "setpoint";
    sp.writable = true;
    config::point own;
    own.name = "mode";
    own.topic = "custom/pump-mode";
    d.points = {sp, own};
    g.devices.push_back(d);
    return g;
}

TEST(command_table, derives_topics_replies_and_filters) {
    const command_table t(plant("{prefix}/{device}/{point}"));
    const auto* sp = t.find("site/a/pump/setpoint/set");
    ASSERT_NE(sp, nullptr);
    EXPECT_EQ(sp->point, 0u);
    EXPECT_EQ(t.reply_topic_for("site/a/pump/setpoint/set"), "site/a/pump/setpoint/reply");
    ASSERT_NE(t.find("custom/pump-mode/set"), nullptr);
    EXPECT_EQ(t.reply_topic_for("custom/pump-mode/set"), "custom/pump-mode/reply");
    EXPECT_EQ(t.find("site/a/pump/setpoint"), nullptr);
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/+/+/set", "custom/pump-mode/set"}));
    EXPECT_EQ(t.reply_topic_for("site/a/x/y/set"), "site/a/x/y/reply");
}

TEST(command_table, a_template_without_whole_levels_subscribes_each_topic) {
    const command_table t(plant("{prefix}/{device}-{point}"));
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/pump-setpoint/set", "custom/pump-mode/set"}));
}

TEST(command_table, device_commands_get_a_topic_per_device_when_configured) {
    auto g = plant("{prefix}/{device}/{point}");
    EXPECT_EQ(command_table(g).find("site/a/pump/set"), nullptr);  // off by default
    g.commands.device_topic = "{prefix}/{device}";
    const command_table t(g);
    const auto* d = t.find("site/a/pump/set");
    ASSERT_NE(d, nullptr);
    EXPECT_TRUE(d->whole_device);
    EXPECT_EQ(d->device, 0u);
    EXPECT_EQ(t.reply_topic_for("site/a/pump/set"), "site/a/pump/reply");
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/+/+/set", "custom/pump-mode/set", "site/a/pump/set"}));
    // A point whose command topic is the same keeps it.
    g.commands.device_topic = "{prefix}/{device}/setpoint";
    const command_table clash(g);
    ASSERT_NE(clash.find("site/a/pump/setpoint/set"), nullptr);
    EXPECT_FALSE(clash.find("site/a/pump/setpoint/set")->whole_device);
}

TEST(parse_device_command, takes_points_in_the_order_given_with_or_without_an_id) {
    auto c = parse_device_command(R"({"zeta": 1, "alpha": true})");
    ASSERT_TRUE(c.command) << c.error;
    ASSERT_EQ(c.command->values.size(), 2u);
    EXPECT_EQ(c.command->values[0].first, "zeta");  // not sorted
    EXPECT_EQ(c.command->values[1].second, true);
    EXPECT_FALSE(c.command->id);
    c = parse_device_command(R"({"values": {"sp": 21.5}, "id": "x7"})");
    ASSERT_TRUE(c.command) << c.error;
    EXPECT_EQ(c.command->id, "x7");
    EXPECT_EQ(c.command->values.at(0), (std::pair<std::string, nlohmann::json>{"sp", 21.5}));
    for (const auto* bad : {"", "42", "[1]", "{", "{}", R"({"values": 3})", R"({"values": {}, "id": "a"})",
                            R"({"values": {"a": 1}, "id": 5})", R"({"values": {"a": 1}, "other": 1})"}) {
        EXPECT_FALSE(parse_device_command(bad).command) << bad;
        EXPECT_FALSE(parse_device_command(bad).error.empty()) << bad;
    }
    EXPECT_FALSE(parse_device_command(std::string(5000, ' ') + "{}").command);
}

TEST(command_table, disabled_commands_subscribe_nothing) {
    auto g = plant("{prefix}/{device}/{point}");
    g.commands.enabled = false;
    EXPECT_TRUE(command_table(g).filters().empty());
}

}  // namespace
}  // namespace fieldbridge::gateway
