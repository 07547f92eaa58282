// store.order: fresh_first, the pure parts: how a backlog is split when the
// link comes back, and how a historical message is marked.
#include "gateway/backlog_split.hpp"

#include <random>
#include <set>
#include <variant>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/historical_mark.hpp"
#include "sparkplug/payload_codec.hpp"
#include "tests/support/model_seeds.hpp"

namespace fieldbridge::gateway {
namespace {

using store::lane_row;
using store::lane_state;
using latest_map = std::unordered_map<std::string, std::int64_t>;

TEST(backlog_split, the_latest_row_of_each_topic_is_live_and_the_older_ones_historical) {
    // Rows 1..6 stored during an outage: a a b a b c.
    const latest_map latest{{"a", 4}, {"b", 5}, {"c", 6}};
    const auto next = split_backlog({}, 6, {}, latest, {});
    EXPECT_EQ(next.boundary, 6);
    EXPECT_EQ(next.fresh, (std::vector<std::int64_t>{4, 5, 6}));
    for (const std::int64_t id : {1, 2, 3}) EXPECT_TRUE(next.historical(id)) << id;
    for (const std::int64_t id : {4, 5, 6, 7}) EXPECT_FALSE(next.historical(id)) << id;
}

TEST(backlog_split, a_fresh_row_a_newer_one_supersedes_becomes_historical_unless_it_is_on_the_wire) {
    const lane_state last{6, {4, 5, 6}};
    // Since: 7 (a), 8 (b). Row 4 (a) waits, row 5 (b) was sent and not yet acknowledged.
    const std::vector<lane_row> still{{4, "a", false}, {5, "b", true}, {6, "c", false}};
    const auto next = split_backlog(last, 8, still, latest_map{{"a", 7}, {"b", 8}}, std::vector<std::int64_t>{5});
    EXPECT_EQ(next.boundary, 8);
    EXPECT_TRUE(next.historical(4));
    EXPECT_FALSE(next.historical(5));  // its bytes left unmarked
    EXPECT_FALSE(next.historical(6));  // still c's latest
    EXPECT_FALSE(next.historical(7));
    EXPECT_FALSE(next.historical(8));
    EXPECT_TRUE(next.historical(2));  // once historical, always
}

TEST(backlog_split, live_rows_in_flight_stay_live_though_newer_ones_came) {
    // Rows 7 and 9 of topic a; 7 is in flight.
    const auto next = split_backlog(lane_state{6, {}}, 9, {}, latest_map{{"a", 9}}, std::vector<std::int64_t>{7});
    EXPECT_FALSE(next.historical(7));
    EXPECT_FALSE(next.historical(9));
    EXPECT_TRUE(next.historical(8));
}

// The same over random histories, against the rules stated one by one.
TEST(backlog_split, random_splits_keep_every_rule) {
    const auto [first, last_seed] = testing::seed_range("FIELDBRIDGE_SPLIT", 2000);
    for (auto seed = first; seed <= last_seed; ++seed) {
        std::mt19937_64 r(seed);
        // A queue of rows 1..n over three topics, the last split somewhere in it.
        const std::int64_t n = 1 + static_cast<std::int64_t>(r() % 40);
        std::vector<std::string> topic(static_cast<std::size_t>(n) + 1);
        for (auto& t : topic) t = std::string(1, static_cast<char>('a' + r() % 3));
        lane_state last;
        last.boundary = static_cast<std::int64_t>(r() % static_cast<std::uint64_t>(n + 1));
        for (std::int64_t id = 1; id <= last.boundary; ++id) {
            if (r() % 3 == 0) last.fresh.push_back(id);
        }
        std::set<std::int64_t> stored, flying;
        for (std::int64_t id = 1; id <= n; ++id) {
            if (r() % 4 != 0) stored.insert(id);
            if (stored.count(id) && r() % 5 == 0) flying.insert(id);
        }
        latest_map latest;
        for (const auto id : stored) {
            if (id > last.boundary) latest[topic[static_cast<std::size_t>(id)]] = id;
        }
        std::vector<lane_row> still;
        for (const auto id : last.fresh) {
            if (stored.count(id)) still.push_back({id, topic[static_cast<std::size_t>(id)], flying.count(id) > 0});
        }
        const std::vector<std::int64_t> in_flight(flying.begin(), flying.end());
        const auto next = split_backlog(last, n, still, latest, in_flight);

        SCOPED_TRACE("seed " + std::to_string(seed) + " (FIELDBRIDGE_SPLIT_SEED=" + std::to_string(seed) + ")");
        ASSERT_EQ(next.boundary, n);
        ASSERT_TRUE(std::is_sorted(next.fresh.begin(), next.fresh.end()));
        ASSERT_EQ(std::adjacent_find(next.fresh.begin(), next.fresh.end()), next.fresh.end());
        for (const auto id : stored) {
            const auto& t = topic[static_cast<std::size_t>(id)];
            bool newer = false;  // a newer stored row of its topic above the last boundary
            for (auto later = std::max(id, last.boundary) + 1; later <= n; ++later) {
                newer = newer || (stored.count(later) && topic[static_cast<std::size_t>(later)] == t);
            }
            if (last.historical(id)) {
                ASSERT_TRUE(next.historical(id)) << "row " << id << " was historical";
            } else if (flying.count(id)) {
                ASSERT_FALSE(next.historical(id)) << "row " << id << " is on the wire unmarked";
            } else {
                ASSERT_EQ(next.historical(id), newer) << "row " << id << " of topic " << t;
            }
        }
    }
}

mqtt::message message(std::string payload, bool retain = true) {
    return mqtt::message{"plant/m1/power", std::move(payload), mqtt::qos::at_least_once, retain};
}

TEST(historical_mark, a_json_object_gets_historical_true_and_loses_retain) {
    auto m = message(R"({"value":229.01,"quality":"good","ts":"2026-12-03T10:00:00.000Z"})");
    mark_historical(m, config::payload_format::json, config::mqtt_protocol::v3_1_1);
    EXPECT_FALSE(m.retain);
    EXPECT_TRUE(m.user_properties.empty());
    const auto j = nlohmann::json::parse(m.payload);
    EXPECT_EQ(j.at("historical"), true);
    EXPECT_EQ(j.at("value"), 229.01);
    EXPECT_EQ(j.at("ts"), "2026-12-03T10:00:00.000Z");

    auto empty = message("{ }");
    mark_historical(empty, config::payload_format::device, config::mqtt_protocol::v3_1_1);
    EXPECT_EQ(nlohmann::json::parse(empty.payload), nlohmann::json({{"historical", true}}));
}

TEST(historical_mark, text_that_is_not_a_json_object_stays_and_mqtt5_gets_a_user_property) {
    for (const auto format : {config::payload_format::raw, config::payload_format::templated,
                              config::payload_format::json}) {
        auto m = message("229.01");
        mark_historical(m, format, config::mqtt_protocol::v5);
        EXPECT_EQ(m.payload, "229.01");
        EXPECT_FALSE(m.retain);
        EXPECT_EQ(m.user_properties, (std::vector<std::pair<std::string, std::string>>{{"historical", "true"}}));
    }
}

TEST(historical_mark, the_marker_follows_the_format_a_reload_sets) {
    config::gateway cfg;
    cfg.publish.format = config::payload_format::raw;
    cfg.mqtt.protocol = config::mqtt_protocol::v3_1_1;
    const auto mark = historical_marker(cfg);
    auto before = message(R"({"value":1})");
    mark(before);
    EXPECT_EQ(before.payload, R"({"value":1})");
    cfg.publish.format = config::payload_format::json;  // what a reload does to the running configuration
    auto after = message(R"({"value":2})");
    mark(after);
    EXPECT_EQ(nlohmann::json::parse(after.payload).at("historical"), true) << after.payload;
}

TEST(historical_mark, every_metric_of_a_sparkplug_payload_is_historical) {
    sparkplug::payload p;
    p.timestamp = 1'795'000'000'000;
    for (const auto* name : {"power", "state"}) {
        sparkplug::metric metric;
        metric.name = name;
        metric.timestamp = 1'795'000'000'000;
        metric.datatype = sparkplug::data_type::float64;
        metric.value = 1.5;
        p.metrics.push_back(metric);
    }
    auto m = message(sparkplug::encode(p), false);
    mark_historical(m, config::payload_format::sparkplug, config::mqtt_protocol::v3_1_1);
    auto decoded = sparkplug::decode(m.payload);
    const auto* back = std::get_if<sparkplug::payload>(&decoded);
    ASSERT_NE(back, nullptr);
    ASSERT_EQ(back->metrics.size(), 2U);
    for (const auto& metric : back->metrics) EXPECT_TRUE(metric.is_historical);
}

}  // namespace
}  // namespace fieldbridge::gateway
