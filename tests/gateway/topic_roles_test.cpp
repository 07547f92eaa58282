// One topic, one use (config/topic_roles): configurations whose topics meet
// are refused, by case through the loader, and as a class: over many random
// plants whose names, templates and suffixes share letters, the
// configuration passes validation exactly when nothing the gateway publishes
// is under a filter the command table subscribes to, no two published
// messages share a topic and no two command targets do.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/topic.hpp"
#include "config/validate.hpp"
#include "gateway/commands.hpp"
#include "mqtt/topic.hpp"
#include "tests/config/load_errors.hpp"

namespace fieldbridge::gateway {
namespace {

using config::testing::errors_of;

const std::string bus = "buses: { plant: { type: tcp, host: 127.0.0.1 } }\n";

// `head`, the bus, and device d1 (unit 1) with the points given as flow
// maps, e.g. "{ name: a, register: holding, address: 0 }".
std::string plant_with(const std::string& head, const std::string& points) {
    return head + bus + "devices:\n  d1: { bus: plant, unit_id: 1, points: [ " + points + " ] }\n";
}

const std::string point_a = "{ name: a, register: holding, address: 0 }";

TEST(topic_roles, a_point_topic_that_is_another_points_command_topic_is_refused) {
    const auto e = errors_of("commands: { suffix: \"-set\" }\n" + bus +
                             "devices:\n"
                             "  boiler:\n"
                             "    bus: plant\n"
                             "    unit_id: 1\n"
                             "    points:\n"
                             "      - { name: temp, register: holding, address: 0, type: int16, writable: true }\n"
                             "      - { name: temp-set, register: holding, address: 1, type: int16 }\n");
    EXPECT_NE(e.find("plant.yaml:9:"), std::string::npos) << e;
    EXPECT_NE(e.find("the topic of devices.boiler.points[temp-set] fieldbridge/boiler/temp-set is also the command "
                     "topic of devices.boiler.points[temp]"),
              std::string::npos)
        << e;
}

TEST(topic_roles, availability_topics_are_each_their_own) {
    auto e = errors_of("availability: { device_topic: \"{prefix}/{bus}/availability\" }\n" + bus +
                       "devices:\n"
                       "  d1: { bus: plant, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] }\n"
                       "  d2: { bus: plant, unit_id: 2, points: [ { name: a, register: holding, address: 0 } ] }\n");
    EXPECT_NE(e.find("the availability topic (availability.device_topic) of devices.d2 fieldbridge/plant/availability is "
                     "also the availability topic (availability.device_topic) of devices.d1"),
              std::string::npos)
        << e;
    // A point named availability publishes where its device's state goes.
    e = errors_of(plant_with("", "{ name: availability, register: holding, address: 0 }"));
    EXPECT_NE(e.find("the availability topic (availability.device_topic) of devices.d1 fieldbridge/d1/availability is also "
                     "the topic of devices.d1.points[availability]"),
              std::string::npos)
        << e;
    // And one on the gateway's status topic, at the point's line (no
    // availability section is written to point at).
    e = errors_of(plant_with("", "{ name: a, register: holding, address: 0, topic: \"{prefix}/status\" }"));
    EXPECT_NE(e.find("is also the topic of devices.d1.points[a]"), std::string::npos) << e;
    EXPECT_EQ(e.rfind("plant.yaml:3:", 0), 0u) << e;
}

TEST(topic_roles, a_reply_on_a_command_topic_and_a_topic_under_the_command_filter_are_refused) {
    auto e = errors_of("commands: { suffix: \"/x\", reply_suffix: \"/set/x\" }\n" + bus +
                       "devices:\n"
                       "  d1:\n"
                       "    bus: plant\n"
                       "    unit_id: 1\n"
                       "    points:\n"
                       "      - { name: a, register: holding, address: 0 }\n"
                       "      - { name: b, register: holding, address: 1, topic: \"{prefix}/d1/a/set\" }\n");
    EXPECT_NE(e.find("the reply topic of devices.d1.points[a] fieldbridge/d1/a/set/x is also the command topic of "
                     "devices.d1.points[b]"),
              std::string::npos)
        << e;
    // Availability under fieldbridge/+/+/set: every change of state would be
    // answered as a command naming no point.
    e = errors_of(plant_with("availability: { device_topic: \"{prefix}/{device}/state/set\" }\n", point_a));
    EXPECT_NE(e.find("the availability topic (availability.device_topic) of devices.d1 fieldbridge/d1/state/set is under the "
                     "command filter fieldbridge/+/+/set"),
              std::string::npos)
        << e;
    // A device command topic that is a point's.
    e = errors_of(plant_with("commands: { device_topic: \"{prefix}/{device}/a\" }\n", point_a));
    EXPECT_NE(e.find("the device command topic (commands.device_topic) of devices.d1 fieldbridge/d1/a/set is also "
                     "the command topic of devices.d1.points[a]"),
              std::string::npos)
        << e;
}

// A Sparkplug edge node publishes its values as DDATA, but the points' JSON
// command topics take commands beside DCMD, and their replies go where the
// JSON format puts them: a command topic that is its own reply topic is
// refused as it is with the JSON format (its replies would never be sent).
TEST(topic_roles, the_json_command_topics_of_a_sparkplug_node_are_checked_too) {
    const auto e = errors_of(plant_with("mqtt: { client_id: gw1 }\npublish: { format: sparkplug }\n"
                                        "commands: { suffix: \"/reply\" }\n",
                                        "{ name: a, register: holding, address: 0, writable: true }"));
    EXPECT_NE(e.find("the reply topic of devices.d1.points[a] fieldbridge/d1/a/reply is also the command topic of "
                     "devices.d1.points[a]"),
              std::string::npos)
        << e;
    // Its status and availability topics are not published: a point may have them.
    EXPECT_NO_THROW(config::load_string(
        plant_with("mqtt: { client_id: gw1 }\npublish: { format: sparkplug }\n",
                   "{ name: status, register: holding, address: 0, topic: \"{prefix}/status\" }"),
        "plant.yaml"));
}

// The property, over random plants.

std::string random_name(std::mt19937& rng) {
    static const std::string letters = "ab";
    std::string out(1 + rng() % 2, 'a');
    for (auto& c : out) c = letters[rng() % letters.size()];
    return out;
}

config::gateway random_plant(std::mt19937& rng) {
    static const char* const templates[] = {"{prefix}/{device}/{point}", "{prefix}/{device}{point}",
                                            "{prefix}/{point}/{device}"};
    static const char* const suffixes[] = {"/set", "/a", "a", "/b/a", "/reply"};
    static const char* const replies[] = {"/reply", "/a/a", "b", "/set"};
    static const char* const availability[] = {"{prefix}/{device}/availability", "{prefix}/{device}/a",
                                               "{prefix}/{device}", "{prefix}/{device}/a/set", "{prefix}/a"};
    config::gateway g;
    g.publish.prefix = "s";
    g.publish.topic_template = templates[rng() % std::size(templates)];
    const auto format = rng() % 5;
    g.publish.format = format == 0   ? config::payload_format::device
                       : format == 1 ? config::payload_format::sparkplug
                                     : config::payload_format::json;
    g.sparkplug.edge_node_id = "n";
    g.publish.device_topic = rng() % 2 ? "{prefix}/{device}" : "{prefix}/{device}/b";
    g.commands.suffix = suffixes[rng() % std::size(suffixes)];
    do {
        g.commands.reply_suffix = replies[rng() % std::size(replies)];
    } while (g.commands.reply_suffix == g.commands.suffix);
    g.commands.enabled = rng() % 6 != 0;
    if (rng() % 3 == 0) g.commands.device_topic = rng() % 2 ? "{prefix}/{device}" : "{prefix}/{device}/a";
    g.availability.gateway_topic = rng() % 4 == 0 ? "{prefix}/a/a" : "{prefix}/status";
    g.availability.device_topic = availability[rng() % std::size(availability)];
    g.buses.push_back(config::bus{});
    g.buses.back().name = "line";
    std::set<std::string> names;
    const auto devices = 1 + rng() % 3;
    for (std::size_t i = 0; i < devices; ++i) {
        config::device d;
        d.name = random_name(rng);
        if (!names.insert(d.name).second) continue;
        d.bus = "line";
        std::set<std::string> points;
        const auto count = rng() % 4;
        for (std::size_t k = 0; k < count; ++k) {
            config::point p;
            p.name = random_name(rng);
            if (!points.insert(p.name).second) continue;
            p.address = static_cast<std::uint16_t>(k);
            if (rng() % 5 == 0) p.topic = "{prefix}/" + random_name(rng) + "/" + random_name(rng);
            d.points.push_back(p);
        }
        g.devices.push_back(d);
    }
    return g;
}

struct use {
    std::string topic;
    std::string what;
};

// Every topic the gateway publishes on, with what goes there (a Sparkplug
// edge node: the replies to the points' JSON commands; its states and
// values go on Sparkplug's own topics).
std::vector<use> published(const config::gateway& g) {
    std::vector<use> out;
    const bool sparkplug = g.publish.format == config::payload_format::sparkplug;
    if (!sparkplug) out.push_back({config::availability_topic(g.availability.gateway_topic, g, ""), "status"});
    for (const auto& d : g.devices) {
        const auto& b = g.buses[0];
        if (!sparkplug) {
            out.push_back({config::expand_topic(g.availability.device_topic, g.publish, d, config::point{}, b),
                           "availability of " + d.name});
        }
        if (g.publish.format == config::payload_format::device) {
            out.push_back({config::expand_topic(g.publish.device_topic, g.publish, d, config::point{}, b),
                           "values of " + d.name});
        }
        for (const auto& p : d.points) {
            const auto topic = config::point_topic(g.publish, d, p, b);
            if (g.publish.format == config::payload_format::json) {
                out.push_back({topic, "value of " + d.name + "." + p.name});
            }
            if (g.commands.enabled) {
                out.push_back({topic + g.commands.reply_suffix, "reply of " + d.name + "." + p.name});
            }
        }
        if (g.commands.enabled && !g.commands.device_topic.empty()) {
            out.push_back({config::expand_topic(g.commands.device_topic, g.publish, d, config::point{}, b) +
                               g.commands.reply_suffix,
                           "device reply of " + d.name});
        }
    }
    return out;
}

// Why the plant's topics meet at run time, or empty.
std::string collision(const config::gateway& g) {
    std::set<std::string> points;
    for (const auto& d : g.devices) {
        for (const auto& p : d.points) {
            if (!points.insert(config::point_topic(g.publish, d, p, g.buses[0])).second) return "two points, one topic";
        }
    }
    // format: device: a device's topic is none of the points' (validate's
    // rule: their command topics are made from them).
    if (g.publish.format == config::payload_format::device) {
        for (const auto& d : g.devices) {
            if (points.contains(config::expand_topic(g.publish.device_topic, g.publish, d, config::point{}, g.buses[0]))) {
                return "a device topic is a point's";
            }
        }
    }
    const auto out = published(g);
    std::set<std::string> seen;
    for (const auto& u : out) {
        if (!seen.insert(u.topic).second) return "two messages on " + u.topic;
    }
    if (!g.commands.enabled) return {};
    const command_table table(g);
    for (const auto& u : out) {
        for (const auto& f : table.filters()) {
            if (mqtt::topic_matches(f, u.topic)) return u.what + " " + u.topic + " is under the filter " + f;
        }
    }
    std::set<std::string> targets;
    for (const auto& d : g.devices) {
        for (const auto& p : d.points) {
            if (!targets.insert(config::point_topic(g.publish, d, p, g.buses[0]) + g.commands.suffix).second) {
                return "two points take commands on one topic";
            }
        }
    }
    if (!g.commands.device_topic.empty()) {
        for (const auto& d : g.devices) {
            const auto topic = config::expand_topic(g.commands.device_topic, g.publish, d, config::point{},
                                                    g.buses[0]) +
                               g.commands.suffix;
            if (!targets.insert(topic).second) return "two targets take commands on " + topic;
        }
    }
    return {};
}

// The loader refuses an empty string; a configuration built otherwise meets
// validation's own check.
TEST(topic_roles, an_empty_command_or_reply_suffix_is_refused) {
    EXPECT_NE(errors_of(plant_with("commands: { suffix: \"\" }\n", point_a)).find("commands.suffix: is empty"),
              std::string::npos);
    std::mt19937 rng(1);
    auto g = random_plant(rng);
    g.commands.enabled = true;
    const auto said = [&] {
        std::string out;
        for (const auto& d : config::validate(g)) out += config::to_string(d) + "\n";
        return out;
    };
    ASSERT_EQ(said(), "");
    g.commands.suffix.clear();
    EXPECT_NE(said().find("commands.suffix is empty: every point's topic would be its command topic too; expected "
                          "text that follows the point's topic, such as /set"),
              std::string::npos)
        << said();
    g.commands.suffix = "/set";
    g.commands.reply_suffix.clear();
    EXPECT_NE(said().find("commands.reply_suffix is empty: every point's topic would be its reply topic too; "
                          "expected text that follows the point's topic, such as /reply"),
              std::string::npos)
        << said();
    g.commands.enabled = false;  // the suffixes are not used
    EXPECT_EQ(said(), "");
}

TEST(topic_roles, validation_passes_exactly_the_plants_whose_topics_do_not_meet) {
    std::size_t refused = 0;
    const std::uint32_t seeds = 4000;
    for (std::uint32_t seed = 1; seed <= seeds; ++seed) {
        std::mt19937 rng(seed);
        const auto g = random_plant(rng);
        const auto why = collision(g);
        const auto diagnostics = config::validate(g);
        std::string said;
        for (const auto& d : diagnostics) said += config::to_string(d) + "\n";
        if (why.empty()) {
            EXPECT_TRUE(diagnostics.empty()) << "seed " << seed << ": refused, but nothing meets:\n" << said;
        } else {
            EXPECT_FALSE(diagnostics.empty()) << "seed " << seed << ": passed, but " << why;
            ++refused;
        }
    }
    // Both kinds occur often enough for the property to say something.
    EXPECT_GT(refused, seeds / 10);
    EXPECT_LT(refused, seeds * 9 / 10);
}

}  // namespace
}  // namespace fieldbridge::gateway
