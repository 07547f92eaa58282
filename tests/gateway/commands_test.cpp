// Command payloads, values and topics, without a broker.
#include "gateway/commands.hpp"

#include <cmath>
#include <random>

#include <fmt/format.h>
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
    // A reply of this or another gateway, sent to a command topic (an MQTT 5
    // Response Topic can name one), writes nothing, to a string point either.
    for (const bool text_point : {false, true}) {
        const auto reply = parse_command(R"({"id": "z", "ok": true, "value": 42})", text_point);
        EXPECT_FALSE(reply.command);
        EXPECT_EQ(reply.error, "a command reply (it has \"ok\") is not a command");
        EXPECT_EQ(reply.id, "z");
    }
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
    const auto sp = t.find("site/a/pump/setpoint/set");
    ASSERT_TRUE(sp.has_value());
    EXPECT_EQ(sp->point, 0u);
    EXPECT_EQ(t.reply_topic_for("site/a/pump/setpoint/set"), "site/a/pump/setpoint/reply");
    ASSERT_TRUE(t.find("custom/pump-mode/set").has_value());
    EXPECT_EQ(t.reply_topic_for("custom/pump-mode/set"), "custom/pump-mode/reply");
    EXPECT_FALSE(t.find("site/a/pump/setpoint").has_value());
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/+/+/set", "custom/pump-mode/set"}));
    EXPECT_EQ(t.reply_topic_for("site/a/x/y/set"), "site/a/x/y/reply");
}

TEST(command_table, a_topic_under_the_wildcard_gets_no_filter_of_its_own) {
    // A point's own topic and a device topic where the template puts topics
    // too: one filter each would hand every command to them twice.
    auto g = plant("{prefix}/{device}/{point}");
    g.devices[0].points.edit()[1].topic = "{prefix}/{device}/mode";
    g.commands.device_topic = "{prefix}/{device}/all";
    const command_table t(g);
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/+/+/set"}));
    ASSERT_TRUE(t.find("site/a/pump/mode/set").has_value());
    EXPECT_EQ(t.find("site/a/pump/mode/set")->point, 1u);
    ASSERT_TRUE(t.find("site/a/pump/all/set").has_value());
    EXPECT_TRUE(t.find("site/a/pump/all/set")->whole_device);
}

TEST(command_table, a_template_without_whole_levels_subscribes_each_topic) {
    const command_table t(plant("{prefix}/{device}-{point}"));
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/pump-setpoint/set", "custom/pump-mode/set"}));
}

TEST(command_table, device_commands_get_a_topic_per_device_when_configured) {
    auto g = plant("{prefix}/{device}/{point}");
    EXPECT_FALSE(command_table(g).find("site/a/pump/set").has_value());  // off by default
    g.commands.device_topic = "{prefix}/{device}";
    const command_table t(g);
    const auto d = t.find("site/a/pump/set");
    ASSERT_TRUE(d.has_value());
    EXPECT_TRUE(d->whole_device);
    EXPECT_EQ(d->device, 0u);
    EXPECT_EQ(t.reply_topic_for("site/a/pump/set"), "site/a/pump/reply");
    EXPECT_EQ(t.filters(), (std::vector<std::string>{"site/a/+/+/set", "custom/pump-mode/set", "site/a/pump/set"}));
    // A point whose command topic is the same keeps it.
    g.commands.device_topic = "{prefix}/{device}/setpoint";
    const command_table clash(g);
    ASSERT_TRUE(clash.find("site/a/pump/setpoint/set").has_value());
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

// --- every payload: no throw, a decision, and the caller's id kept ---

// Payloads of every shape a client (or a fuzzer, or a broken script) sends:
// well-formed commands, objects missing or mistyping keys, cut-off JSON,
// nested junk, bare text, control bytes, oversized ones; many of them carry
// an id, some before and some after the point where they break.
std::vector<std::string> generated_payloads(std::uint32_t seed, std::size_t count) {
    std::mt19937 rng(seed);
    const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const std::vector<std::string> values = {"1", "-3", "3.7", "1e308", "-0.0", "true", "false", "null", "\"txt\"",
                                             "[1,2]", "{}", "{\"a\":1}", "18446744073709551615", "\"\\u00e9\"",
                                             "\"\"", "[[[[]]]]"};
    const std::vector<std::string> ids = {"\"r-10\"", "\"\"", "\"x y\"", "\"\\u2603\"", "5", "null", "[\"a\"]",
                                          "{\"id\":\"inner\"}", "\"" + std::string(300, 'i') + "\""};
    const std::vector<std::string> keys = {"value", "id", "values", "v", "ID", "extra", ""};
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        std::string p;
        switch (pick(7)) {
            case 0: {  // an object of random keys and values
                p = "{";
                const auto n = pick(4);
                for (std::size_t k = 0; k < n; ++k) {
                    if (k) p += ",";
                    const auto& key = keys[pick(keys.size())];
                    p += "\"" + key + "\":" + (key == "id" ? ids[pick(ids.size())] : values[pick(values.size())]);
                }
                p += "}";
                break;
            }
            case 1:  // a bare value
                p = values[pick(values.size())];
                break;
            case 2: {  // an object with an id, cut anywhere
                const std::string whole = "{\"id\":" + ids[pick(ids.size())] + ",\"value\":" + values[pick(values.size())] + "}";
                p = whole.substr(0, 1 + pick(whole.size()));
                break;
            }
            case 3:  // random bytes
                for (auto n = pick(40); n > 0; --n) p += static_cast<char>(rng() & 0xFF);
                break;
            case 4:  // the id after something broken
                p = "{\"value\": " + values[pick(values.size())] + ",, \"id\": \"late\"}";
                break;
            case 5:  // a well-formed object with an id, the value maybe missing or of any type
                p = "{\"id\":" + ids[pick(ids.size())] + (pick(4) == 0 ? "" : ",\"value\":" + values[pick(values.size())]) + "}";
                break;
            default:  // oversized, with an id first
                p = "{\"id\":\"big-" + std::to_string(i) + "\",\"value\":\"" +
                    std::string(max_command_payload + pick(100), 'x') + "\"}";
                break;
        }
        out.push_back(std::move(p));
    }
    return out;
}

// The id the payload carries, as a full JSON parser sees it.
std::optional<std::string> id_in(const std::string& payload) {
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
    return j["id"].get<std::string>();
}

config::gateway typed_plant(config::data_type type) {
    auto g = plant("{prefix}/{device}/{point}");
    auto& p = g.devices[0].points.edit()[0];
    p.type = type;
    p.length = type == config::data_type::string ? 8 : 0;
    return g;
}

TEST(command_property, every_payload_is_decided_without_a_throw_and_a_string_id_reaches_the_reply) {
    const auto payloads = generated_payloads(20261201, 4000);
    std::size_t with_id = 0;
    std::size_t refused_with_id = 0;
    for (const auto type : {config::data_type::uint16, config::data_type::string, config::data_type::boolean}) {
        const auto g = typed_plant(type);
        const command_table table(g);
        for (const auto& payload : payloads) {
            SCOPED_TRACE(payload.substr(0, 200));
            point_command_decision d;
            ASSERT_NO_THROW(d = decide_point_command(g, table.find("site/a/pump/setpoint/set"), "site/a/pump/setpoint/set", payload));
            ASSERT_TRUE(d.write.has_value() != !d.refusal.empty()) << d.refusal;
            const auto reply = nlohmann::json::parse(reply_payload(d.id, d.write.has_value(), d.refusal, nullptr, 0));
            if (const auto id = payload.size() <= max_command_payload ? id_in(payload) : std::nullopt) {
                ++with_id;
                if (!d.write) ++refused_with_id;
                EXPECT_EQ(d.id, id);
                EXPECT_EQ(reply.at("id"), *id);
            }
            // Also on a topic that names no point.
            ASSERT_NO_THROW(d = decide_point_command(g, std::nullopt, "site/a/x/y/set", payload));
            EXPECT_FALSE(d.write);
            if (const auto id = payload.size() <= max_command_payload ? id_in(payload) : std::nullopt) {
                EXPECT_EQ(d.id, id);
            }

            parsed_device_command dc;
            ASSERT_NO_THROW(dc = parse_device_command(payload));
            ASSERT_TRUE(dc.command.has_value() != !dc.error.empty());
            if (const auto id = payload.size() <= max_command_payload ? id_in(payload) : std::nullopt) {
                EXPECT_EQ(dc.id, id);
            }
        }
    }
    // The generator did reach the case this is about.
    EXPECT_GT(with_id, 1000u);
    EXPECT_GT(refused_with_id, 500u);
}

TEST(command_property, a_refusal_keeps_the_id_whatever_else_is_wrong) {
    const auto g = typed_plant(config::data_type::uint16);
    const command_table table(g);
    const auto target = table.find("site/a/pump/setpoint/set");
    for (const auto* payload : {R"({"id":"r-10"})", R"({"id":"r-10","value":"abc"})", R"({"id":"r-10","value":[1]})",
                                R"({"id":"r-10","value":)", R"({"id":"r-10","value":1,)", R"({"id":"r-10","value":99999999})",
                                R"({"id":"r-10","value":3.7})", R"({"id":5,"id":"r-10","value":"x"})"}) {
        SCOPED_TRACE(payload);
        const auto d = decide_point_command(g, target, "site/a/pump/setpoint/set", payload);
        EXPECT_FALSE(d.write);
        EXPECT_EQ(d.id, "r-10");
        EXPECT_EQ(nlohmann::json::parse(reply_payload(d.id, false, d.refusal, nullptr, 0)).at("id"), "r-10");
    }
    // Past the size bound, an id within its first 4 KiB is found.
    const auto big = R"({"id":"r-11","value":")" + std::string(10000, 'x') + "\"}";
    EXPECT_EQ(decide_point_command(g, target, "site/a/pump/setpoint/set", big).id, "r-11");
    EXPECT_EQ(parse_device_command(big).id, "r-11");
    EXPECT_EQ(parse_device_command(R"({"values":{"a":1},"id":"r-12","other":1})").id, "r-12");
    EXPECT_EQ(parse_device_command(R"({"values":{"a":,"id":"r-13"})").id, std::nullopt);  // broken before the id
    EXPECT_EQ(parse_device_command(R"({"id":"r-14","values":{"a":)").id, "r-14");
    // An id nested deeper is not the caller's.
    EXPECT_EQ(command_id(R"({"value":{"id":"inner"}})"), std::nullopt);
    EXPECT_EQ(command_id(R"([{"id":"inner"}])"), std::nullopt);
    EXPECT_EQ(command_id(R"({"value":{"id":"inner"},"id":"outer")"), "outer");
}

TEST(command_property, an_id_survives_a_payload_cut_at_any_byte_after_it) {
    const auto g = typed_plant(config::data_type::uint16);
    const command_table table(g);
    const auto target = table.find("site/a/pump/setpoint/set");
    for (const std::string whole : {R"({"id":"c-1","value":{"nested":[1,2,{"x":"y"}]}})",
                                    R"({ "value" : 17 , "id" : "c-\u00e9" , "extra" : [true] })",
                                    R"({"value":"a string with \"quotes\"","id":"c-3"})"}) {
        const auto id = nlohmann::json::parse(whole).at("id").get<std::string>();
        // Just past the closing quote of the id's value (the ids hold no escaped quote).
        const auto id_open = whole.find('"', whole.find(':', whole.find("\"id\"")));
        const auto id_closed = whole.find('"', id_open + 1) + 1;
        for (std::size_t cut = 1; cut <= whole.size(); ++cut) {
            const auto payload = whole.substr(0, cut);
            SCOPED_TRACE(payload);
            const auto d = decide_point_command(g, target, "site/a/pump/setpoint/set", payload);
            if (cut >= id_closed) {
                EXPECT_EQ(d.id, id);
                EXPECT_EQ(parse_device_command(payload).id, id);
            } else {
                EXPECT_EQ(d.id, std::nullopt);
            }
            if (cut < whole.size()) {
                EXPECT_FALSE(d.write);
            }
        }
    }
}

// --- 14: integer points take whole raw values; string points any text ---

TEST(command_value, an_integer_point_takes_whole_raw_values_and_names_the_nearest_otherwise) {
    std::mt19937 rng(14);
    const std::vector<double> scales = {1.0, 0.1, 0.01, 0.5, 2.0, 10.0, -1.0, 0.25};
    const std::vector<double> offsets = {0.0, 100.0, -40.0, 0.5};
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (const auto type : {config::data_type::int16, config::data_type::uint16, config::data_type::int32,
                            config::data_type::uint32, config::data_type::int64, config::data_type::uint64}) {
        for (const double scale : scales) {
            for (const double offset : offsets) {
                config::point p;
                p.type = type;
                p.scale = scale;
                p.offset = offset;
                p.writable = true;
                config::device d;
                d.name = "dev";
                p.name = "pt";
                for (int i = 0; i < 40; ++i) {
                    const auto raw = static_cast<std::int64_t>(rng() % 20000);
                    const double value = static_cast<double>(raw) * scale + offset;
                    std::string why;
                    // A whole raw value, however the decimal comes out, is written and reads back as asked.
                    const auto v = write_value(d, p, nlohmann::json(value), why);
                    ASSERT_TRUE(v) << value << " scale " << scale << " offset " << offset << ": " << why;
                    const auto back = modbus::decode(p, *modbus::encode(p, *v, 0));
                    ASSERT_TRUE(back);
                    const double got = std::visit(
                        [](const auto& x) -> double {
                            if constexpr (std::is_arithmetic_v<std::decay_t<decltype(x)>>) return static_cast<double>(x);
                            return 0.0;
                        },
                        *back);
                    EXPECT_NEAR(got, value, 1e-9 * std::max(1.0, std::fabs(value)));
                    ++accepted;
                    // A value between two raw steps is refused, naming both neighbours.
                    const double frac = 0.1 + 0.8 * static_cast<double>(rng() % 1000) / 1000.0;
                    const double between = (static_cast<double>(raw) + frac) * scale + offset;
                    why.clear();
                    EXPECT_FALSE(write_value(d, p, nlohmann::json(between), why)) << between;
                    const double lo = std::min(value, value + scale);
                    const double hi = std::max(value, value + scale);
                    EXPECT_NE(why.find("the nearest writable values are " + fmt::format("{:.12g}", lo) + " and " +
                                       fmt::format("{:.12g}", hi)),
                              std::string::npos)
                        << why;
                    ++refused;
                }
            }
        }
    }
    EXPECT_GT(accepted, 1000u);
    EXPECT_EQ(refused, accepted);
    // The outside tester's case: 3.7 to an unscaled integer is refused, no longer rounded to 4.
    config::point plain;
    plain.writable = true;
    std::string why;
    EXPECT_FALSE(write_value(config::device{}, plain, 3.7, why));
    EXPECT_NE(why.find("nearest writable values are 3 and 4"), std::string::npos) << why;
    EXPECT_TRUE(write_value(config::device{}, plain, 4.0, why));
    // Floats keep taking any number.
    config::point f;
    f.type = config::data_type::float32;
    f.writable = true;
    EXPECT_TRUE(write_value(config::device{}, f, 3.7, why));
}

TEST(parse_command, a_string_point_takes_any_text_as_it_is) {
    const auto g = typed_plant(config::data_type::string);
    const command_table table(g);
    const auto target = table.find("site/a/pump/setpoint/set");
    const auto written = [&](const std::string& payload) -> std::optional<std::string> {
        const auto d = decide_point_command(g, target, "site/a/pump/setpoint/set", payload);
        if (!d.write) return std::nullopt;
        return std::get<std::string>(d.write->value);
    };
    // Text that looks like JSON is still text.
    for (const std::string text : {"5", "3.7", "true", "null", "[1,2]", "{broken", "{\"a\":1}", "ABC-12", " x ", "-0"}) {
        EXPECT_EQ(written(text), text) << text;
    }
    // A JSON string is its content; the object form takes a string value and an id.
    EXPECT_EQ(written("\"quoted\""), "quoted");
    const auto d = decide_point_command(g, target, "site/a/pump/setpoint/set", R"({"value":"AB12","id":"s-1"})");
    ASSERT_TRUE(d.write) << d.refusal;
    EXPECT_EQ(std::get<std::string>(d.write->value), "AB12");
    EXPECT_EQ(d.id, "s-1");
    const auto bad = decide_point_command(g, target, "site/a/pump/setpoint/set", R"({"value":5,"id":"s-2"})");
    EXPECT_FALSE(bad.write);
    EXPECT_NE(bad.refusal.find("expected a string"), std::string::npos) << bad.refusal;
    EXPECT_EQ(bad.id, "s-2");
    // Longer than the point holds (8 registers, 16 bytes): refused by the codec.
    EXPECT_FALSE(written(std::string(17, 'x')));
    EXPECT_FALSE(written(""));
    // Every printable text up to the point's size is written verbatim.
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        std::string text;
        for (auto n = 1 + rng() % 16; n > 0; --n) text += static_cast<char>(0x20 + rng() % 0x5F);
        if (text.front() == '"' && text.size() > 1 && text.back() == '"') continue;  // a JSON string
        const auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_object() && (j.contains("value") || j.contains("id"))) continue;  // the object form
        EXPECT_EQ(written(text), text) << text;
    }
}

// --- bounds on what a message can make the gateway hold ---

TEST(command_table, takes_topics_up_to_the_bound_or_the_longest_configured_one) {
    auto g = plant("{prefix}/{device}/{point}");
    EXPECT_EQ(command_table(g).topic_limit(), max_command_topic);
    g.devices[0].points.edit()[1].topic = std::string(2000, 't');
    EXPECT_EQ(command_table(g).topic_limit(), 2000u + 4u);  // + "/set"
}

TEST(shortened, cuts_untrusted_text_and_says_how_long_it_was) {
    EXPECT_EQ(shortened("short"), "short");
    EXPECT_EQ(shortened(std::string(60000, 'a'), 10), "aaaaaaaaaa... (60000 bytes)");
    const auto no_point = decide_point_command(plant("{prefix}/{device}/{point}"), std::nullopt, std::string(900, 'z'), "1");
    EXPECT_LT(no_point.refusal.size(), 200u);
}

}  // namespace
}  // namespace fieldbridge::gateway
