// point_topics (every point's topic, kept once) and the command table that
// looks commands up in it, checked against a plain map of every topic over
// many random configurations: names from a small alphabet, so topics share
// prefixes, one topic is the prefix of another, devices have no points,
// sit on a bus that is not configured, or have points with their own topic
// (under the template's wildcard or not).
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "config/topic.hpp"
#include "gateway/commands.hpp"
#include "gateway/point_topics.hpp"
#include "mqtt/topic.hpp"

namespace fieldbridge::gateway {
namespace {

std::string random_name(std::mt19937& rng) {
    static const std::string letters = "ab/";
    std::string out(1 + rng() % 3, 'a');
    for (auto& c : out) c = letters[rng() % letters.size()];
    if (out.front() == '/') out.front() = 'a';
    return out;
}

config::gateway random_plant(std::mt19937& rng) {
    config::gateway g;
    // A prefix past max_command_topic now and then: the table's topic limit
    // is then its longest command topic.
    const auto prefix = rng() % 4;
    g.publish.prefix = prefix == 0 ? "" : prefix == 1 ? std::string(max_command_topic, 'a') : "site";
    g.publish.topic_template = rng() % 2 ? "{prefix}/{device}/{point}" : "{device}{point}";
    g.buses.push_back(config::bus{});
    g.buses.back().name = "line";
    if (rng() % 3 == 0) g.commands.device_topic = "{prefix}/{device}";
    // Suffixes made of the names' own letters, and none at all.
    static const char* const suffixes[] = {"/set", "", "a", "/b", "b/a"};
    g.commands.suffix = suffixes[rng() % std::size(suffixes)];
    g.commands.enabled = rng() % 8 != 0;
    const auto devices = rng() % 6;
    for (std::size_t i = 0; i < devices; ++i) {
        config::device d;
        d.name = random_name(rng);
        d.bus = rng() % 8 == 0 ? "elsewhere" : "line";
        const auto points = rng() % 5;
        for (std::size_t k = 0; k < points; ++k) {
            config::point p;
            p.name = random_name(rng);
            // Their own topic, elsewhere or where the template would put a
            // topic too (then the wildcard filter covers it).
            if (rng() % 6 == 0) p.topic = (rng() % 2 ? "own/" : "{prefix}/{device}/") + random_name(rng);
            d.points.push_back(p);
        }
        g.devices.push_back(d);
    }
    return g;
}

// The reference: every command topic and the first target that has it, as
// the table must answer (a point's topic before a device's).
std::map<std::string, command_target> reference(const config::gateway& g) {
    std::map<std::string, command_target> out;
    if (!g.commands.enabled) return out;
    for (std::size_t di = 0; di < g.devices.size(); ++di) {
        const auto& d = g.devices[di];
        if (d.bus != "line") continue;
        for (std::size_t pi = 0; pi < d.points.size(); ++pi) {
            out.emplace(config::point_topic(g.publish, d, d.points[pi], g.buses[0]) + g.commands.suffix,
                        command_target{di, pi});
        }
    }
    if (g.commands.device_topic.empty()) return out;
    for (std::size_t di = 0; di < g.devices.size(); ++di) {
        const auto& d = g.devices[di];
        if (d.bus != "line") continue;
        out.emplace(config::expand_topic(g.commands.device_topic, g.publish, d, config::point{}, g.buses[0]) +
                        g.commands.suffix,
                    command_target{di, 0, true});
    }
    return out;
}

TEST(point_topics, numbers_points_device_after_device_and_keeps_each_topic) {
    for (std::uint32_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937 rng(seed);
        const auto g = random_plant(rng);
        const point_topics topics(g);
        std::size_t number = 0;
        std::size_t longest = 0;
        for (std::size_t di = 0; di < g.devices.size(); ++di) {
            const auto& d = g.devices[di];
            ASSERT_EQ(topics.placed(di), d.bus == "line") << "seed " << seed;
            for (std::size_t pi = 0; pi < d.points.size(); ++pi, ++number) {
                ASSERT_EQ(topics.index(di, pi), number) << "seed " << seed;
                ASSERT_EQ(topics.locate(number), std::make_pair(di, pi)) << "seed " << seed;
                const auto expected =
                    topics.placed(di) ? config::point_topic(g.publish, d, d.points[pi], g.buses[0]) : std::string();
                ASSERT_EQ(topics.topic(number), expected) << "seed " << seed;
                longest = std::max(longest, expected.size());
            }
        }
        ASSERT_EQ(topics.size(), number) << "seed " << seed;
        ASSERT_EQ(topics.longest(), longest) << "seed " << seed;
    }
}

TEST(command_table, finds_exactly_the_targets_a_map_of_every_command_topic_finds) {
    for (std::uint32_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937 rng(seed);
        const auto g = random_plant(rng);
        const auto want = reference(g);
        const command_table table(g);
        std::size_t limit = max_command_topic;
        for (const auto& [topic, target] : want) {
            const auto got = table.find(topic);
            ASSERT_TRUE(got.has_value()) << "seed " << seed << ": " << topic;
            EXPECT_EQ(got->device, target.device) << "seed " << seed << ": " << topic;
            EXPECT_EQ(got->whole_device, target.whole_device) << "seed " << seed << ": " << topic;
            if (!target.whole_device) {
                EXPECT_EQ(got->point, target.point) << "seed " << seed << ": " << topic;
            }
            limit = std::max(limit, topic.size());
            // Topics next to a command topic name nothing unless the map has them.
            for (const auto& near : {topic.substr(0, topic.size() - 1), topic + "t", topic.substr(1), "a" + topic,
                                     topic.substr(0, topic.size() - g.commands.suffix.size())}) {
                EXPECT_EQ(table.find(near).has_value(), want.count(near) == 1) << "seed " << seed << ": " << near;
            }
        }
        EXPECT_EQ(table.topic_limit(), limit) << "seed " << seed;
        // Every command topic is subscribed; nothing is when there is none.
        // (Real names are one topic level each; these random ones may hold
        // a '/', and then a wildcard filter does not cover their topics.)
        EXPECT_EQ(table.filters().empty(), want.empty()) << "seed " << seed;
        const bool levels = std::none_of(g.devices.begin(), g.devices.end(), [](const config::device& d) {
            return d.name.find('/') != std::string::npos ||
                   std::any_of(d.points.begin(), d.points.end(),
                               [](const config::point& p) { return p.name.find('/') != std::string::npos; });
        });
        // Each command topic is under exactly one of the distinct filters:
        // the client hands a message to every subscription it matches, so a
        // topic under two would be written and answered twice.
        const std::set<std::string> distinct(table.filters().begin(), table.filters().end());
        for (const auto& entry : want) {
            EXPECT_EQ(std::count_if(distinct.begin(), distinct.end(),
                                    [&](const std::string& f) { return mqtt::topic_matches(f, entry.first); }),
                      1)
                << "seed " << seed << ": " << entry.first;
        }
        for (const auto& entry : want) {
            if (!levels) break;
            const std::string& topic = entry.first;
            EXPECT_TRUE(std::any_of(table.filters().begin(), table.filters().end(),
                                    [&](const std::string& f) { return mqtt::topic_matches(f, topic); }))
                << "seed " << seed << ": " << topic;
        }
        for (int k = 0; k < 20; ++k) {
            const auto topic = random_name(rng) + "/" + random_name(rng) + g.commands.suffix;
            EXPECT_EQ(table.find(topic).has_value(), want.count(topic) == 1) << "seed " << seed << ": " << topic;
        }
    }
}

TEST(command_table, device_topics_alone_keep_the_wildcard_filter) {
    // No device has a point: a command to a topic under the template's
    // wildcard is still taken (and answered that it names no point).
    config::gateway g;
    g.publish.prefix = "site";
    g.publish.topic_template = "{prefix}/{device}/{point}";
    g.buses.push_back(config::bus{});
    g.buses.back().name = "line";
    g.commands.device_topic = "{prefix}/{device}";
    config::device d;
    d.name = "pump";
    d.bus = "line";
    g.devices.push_back(d);
    const command_table table(g);
    EXPECT_EQ(table.filters(), (std::vector<std::string>{"site/+/+/set", "site/pump/set"}));
    ASSERT_TRUE(table.find("site/pump/set").has_value());
    EXPECT_TRUE(table.find("site/pump/set")->whole_device);
}

TEST(command_table, shares_the_points_topics_it_is_given) {
    std::mt19937 rng(7);
    auto g = random_plant(rng);
    while (g.devices.empty() || g.devices[0].points.empty() || g.devices[0].bus != "line") g = random_plant(rng);
    const auto topics = std::make_shared<const point_topics>(g);
    const command_table table(g, topics);
    EXPECT_GT(topics.use_count(), 1);
    const auto topic = std::string(topics->topic(0, 0)) + g.commands.suffix;
    EXPECT_TRUE(table.find(topic).has_value()) << topic;
}

}  // namespace
}  // namespace fieldbridge::gateway
