#include "gateway/point_mapper.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;

config::gateway two_point_config() {
    config::gateway cfg;
    cfg.publish.prefix = "plant";
    cfg.publish.heartbeat = 0s;
    cfg.buses.push_back(config::bus{"line1", config::tcp_link{"127.0.0.1", 1502}, {}});
    config::device d;
    d.name = "meter1";
    d.bus = "line1";
    config::point v;
    v.name = "voltage";
    v.kind = config::register_kind::input_register;
    v.type = config::data_type::float32;
    v.unit = "V";
    v.qos = config::quality_of_service::exactly_once;
    v.deadband = 0.5;
    config::point relay;
    relay.name = "relay";
    relay.kind = config::register_kind::coil;
    relay.type = config::data_type::boolean;
    relay.qos = config::quality_of_service::at_most_once;
    relay.retain = true;
    relay.topic = "custom/{device}/relay-state";
    d.points = {v, relay};
    cfg.devices.push_back(d);
    return cfg;
}

modbus::poll_result result_of(std::vector<modbus::sample> samples) {
    return modbus::poll_result{"meter1", std::chrono::system_clock::time_point{}, std::move(samples), {}, {}, false, {}};
}

modbus::sample good(std::size_t point, std::vector<std::uint16_t> words) {
    return modbus::sample{point, std::move(words), modbus::quality{true, {}}};
}

const std::chrono::steady_clock::time_point t0{};

TEST(point_mapper, topics_follow_the_template_or_the_point_override) {
    point_mapper m(two_point_config());
    EXPECT_EQ(m.topic("meter1", 0), "plant/meter1/voltage");
    EXPECT_EQ(m.topic("meter1", 1), "custom/meter1/relay-state");
}

TEST(point_mapper, decodes_and_carries_qos_and_retain) {
    point_mapper m(two_point_config());
    // 229.01 as float32 ABCD: 0x4365 0x028F
    const auto out = m.map(result_of({good(0, {0x4365, 0x028F}), good(1, {1})}), t0);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].topic, "plant/meter1/voltage");
    EXPECT_EQ(out[0].qos, mqtt::qos::exactly_once);
    EXPECT_FALSE(out[0].retain);
    EXPECT_EQ(nlohmann::json::parse(out[0].payload).at("value").get<double>(), 229.01);
    EXPECT_EQ(out[1].qos, mqtt::qos::at_most_once);
    EXPECT_TRUE(out[1].retain);
    EXPECT_EQ(nlohmann::json::parse(out[1].payload).at("value"), true);
}

TEST(point_mapper, unchanged_values_are_suppressed_and_changes_published) {
    point_mapper m(two_point_config());
    ASSERT_EQ(m.map(result_of({good(1, {0})}), t0).size(), 1u);
    EXPECT_TRUE(m.map(result_of({good(1, {0})}), t0 + 1s).empty());
    EXPECT_EQ(m.map(result_of({good(1, {1})}), t0 + 2s).size(), 1u);
    EXPECT_EQ(m.stats().suppressed, 1u);
}

TEST(point_mapper, bad_quality_is_published_once_with_the_reason) {
    point_mapper m(two_point_config());
    const modbus::sample bad{0, {}, modbus::quality{false, std::make_error_code(std::errc::timed_out)}};
    auto out = m.map(result_of({bad}), t0);
    ASSERT_EQ(out.size(), 1u);
    const auto j = nlohmann::json::parse(out[0].payload);
    EXPECT_EQ(j.at("quality"), "bad");
    EXPECT_TRUE(j.at("value").is_null());
    EXPECT_TRUE(m.map(result_of({bad}), t0 + 1s).empty());
}

TEST(point_mapper, wrong_word_count_is_a_decode_error_not_a_crash) {
    point_mapper m(two_point_config());
    auto out = m.map(result_of({good(0, {0x4365})}), t0);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(out[0].payload).at("quality"), "bad");
    EXPECT_EQ(m.stats().decode_errors, 1u);
}

TEST(point_mapper, unknown_device_or_point_is_counted_and_skipped) {
    point_mapper m(two_point_config());
    auto r = result_of({good(0, {0, 0})});
    r.device = "nobody";
    EXPECT_TRUE(m.map(r, t0).empty());
    EXPECT_TRUE(m.map(result_of({good(9, {0})}), t0).empty());
    EXPECT_EQ(m.stats().unknown, 2u);
}

// A write's read-back (map_point) is a sample of that point outside the
// schedule: filtered against what polls published, counted, and the
// point's latest reading afterwards; an unknown device or point gives none.
TEST(point_mapper, a_read_back_is_mapped_filtered_and_counted_like_a_polled_sample) {
    point_mapper m(two_point_config());
    const std::chrono::system_clock::time_point written{std::chrono::hours(1)};
    ASSERT_EQ(m.map(result_of({good(1, {0})}), t0).size(), 1u);  // relay off, polled
    auto out = m.map_point("meter1", 1, {1}, written, t0 + 1s);   // switched on by a write
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].topic, "custom/meter1/relay-state");
    EXPECT_TRUE(out[0].retain);
    EXPECT_EQ(nlohmann::json::parse(out[0].payload).at("value"), true);
    ASSERT_TRUE(m.latest("meter1", 1).has_value());
    EXPECT_EQ(m.latest("meter1", 1)->time, written);
    // The next poll reads what the write left: nothing new to publish.
    EXPECT_TRUE(m.map(result_of({good(1, {1})}), t0 + 2s).empty());
    // A read-back equal to what was published goes nowhere either.
    EXPECT_TRUE(m.map_point("meter1", 1, {1}, written, t0 + 3s).empty());
    const auto before = m.stats();
    EXPECT_TRUE(m.map_point("nobody", 0, {1}, written, t0).empty());
    EXPECT_TRUE(m.map_point("meter1", 7, {1}, written, t0).empty());
    EXPECT_EQ(m.stats().unknown, before.unknown + 2);
    EXPECT_EQ(m.stats().samples, before.samples + 1);  // the out-of-range point was a sample, the unknown device not
}

// A poll of two_point_config's meter at second `poll`: voltage from a few
// values (some within the deadband), the relay on/off, either one bad or
// missing.
modbus::poll_result random_poll(std::mt19937_64& r, int poll) {
    std::vector<modbus::sample> samples;
    const std::uint16_t volts[] = {0x4365, 0x4366, 0x4100};
    for (std::size_t point = 0; point < 2; ++point) {
        if (r() % 5 == 0) continue;  // not in this poll
        if (r() % 4 == 0) {
            samples.push_back(modbus::sample{point, {}, modbus::quality{false, std::make_error_code(std::errc::timed_out)}});
        } else if (point == 0) {
            samples.push_back(good(0, {volts[r() % 3], static_cast<std::uint16_t>(r() % 2)}));
        } else {
            samples.push_back(good(1, {static_cast<std::uint16_t>(r() % 2)}));
        }
    }
    const auto time = std::chrono::system_clock::time_point{} + std::chrono::seconds(poll);
    return modbus::poll_result{"meter1", time, std::move(samples), {}, {}, false, {}};
}

// format: device. One message per poll on the device topic, with exactly
// the points the per-point format publishes for the same polls, their values
// and the reasons of the bad ones; QoS the highest of them, retained when
// one of them is. Checked against a json-format mapper over random polls.
TEST(point_mapper, the_device_format_carries_exactly_what_the_point_format_publishes) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        auto json_cfg = two_point_config();
        json_cfg.publish.heartbeat = r() % 2 == 0 ? 0s : 3s;
        auto device_cfg = json_cfg;
        device_cfg.publish.format = config::payload_format::device;
        device_cfg.publish.device_topic = "{prefix}/{device}/all";
        point_mapper per_point(json_cfg);
        point_mapper per_device(device_cfg);
        auto now = t0;
        for (int poll = 0; poll < 12; ++poll) {
            now += std::chrono::seconds(r() % 3);
            const auto result = random_poll(r, poll);
            const auto points = per_point.map(result, now);
            const auto devices = per_device.map(result, now);
            const std::string where = "seed " + std::to_string(seed) + ", poll " + std::to_string(poll);
            ASSERT_EQ(devices.size(), points.empty() ? 0u : 1u) << where;
            if (points.empty()) continue;
            const auto& m = devices[0];
            EXPECT_EQ(m.topic, "plant/meter1/all") << where;
            const auto j = nlohmann::json::parse(m.payload);
            EXPECT_EQ(j.at("device"), "meter1") << where;
            EXPECT_EQ(j.at("ts"), "1970-01-01T00:00:" + std::string(poll < 10 ? "0" : "") + std::to_string(poll) + ".000Z") << where;
            ASSERT_EQ(j.at("points").size(), points.size()) << where << ": " << m.payload;
            auto qos = mqtt::qos::at_most_once;
            bool retain = false;
            std::size_t bad = 0;
            for (const auto& pm : points) {
                const auto name = pm.topic == "plant/meter1/voltage" ? "voltage" : "relay";
                const auto pj = nlohmann::json::parse(pm.payload);
                ASSERT_TRUE(j.at("points").contains(name)) << where << ": " << m.payload;
                EXPECT_EQ(j.at("points").at(name), pj.at("value")) << where;
                if (pj.at("quality") == "bad") {
                    ++bad;
                    EXPECT_EQ(j.at("quality").at(name), pj.at("error")) << where;
                }
                qos = std::max(qos, pm.qos);
                retain = retain || pm.retain;
            }
            EXPECT_EQ(j.contains("quality") ? j.at("quality").size() : 0u, bad) << where << ": " << m.payload;
            EXPECT_EQ(m.qos, qos) << where;
            EXPECT_EQ(m.retain, retain) << where;
        }
        ASSERT_EQ(per_device.stats().published, per_point.stats().published) << "seed " << seed;
    }
}

config::payload_template template_of(std::string_view text) {
    return std::get<config::payload_template>(config::parse_payload_template(text));
}

// format: template. A template of the json payload's keys publishes what
// the json format does: the same messages, topics, QoS and retain, and the
// same values, qualities and times, over random polls.
TEST(point_mapper, a_template_of_the_json_keys_publishes_what_the_json_format_does) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        auto json_cfg = two_point_config();
        json_cfg.publish.heartbeat = r() % 2 == 0 ? 0s : 3s;
        auto template_cfg = json_cfg;
        template_cfg.publish.format = config::payload_format::templated;
        template_cfg.publish.payload_template =
            config::template_ref(template_of(R"({"value":{{value}},"quality":{{quality}},"ts":{{ts}},"raw":{{raw}}})"));
        point_mapper json(json_cfg);
        point_mapper templated(template_cfg);
        auto now = t0;
        for (int poll = 0; poll < 12; ++poll) {
            now += std::chrono::seconds(r() % 3);
            const auto result = random_poll(r, poll);
            const auto expected = json.map(result, now);
            const auto got = templated.map(result, now);
            const std::string where = "seed " + std::to_string(seed) + ", poll " + std::to_string(poll);
            ASSERT_EQ(got.size(), expected.size()) << where;
            for (std::size_t k = 0; k < got.size(); ++k) {
                EXPECT_EQ(got[k].topic, expected[k].topic) << where;
                EXPECT_EQ(got[k].qos, expected[k].qos) << where;
                EXPECT_EQ(got[k].retain, expected[k].retain) << where;
                const auto g = nlohmann::json::parse(got[k].payload);
                const auto e = nlohmann::json::parse(expected[k].payload);
                for (const char* key : {"value", "quality", "ts"}) EXPECT_EQ(g.at(key), e.at(key)) << where << " " << key;
                EXPECT_TRUE(g.at("raw").is_array()) << where;
            }
        }
    }
}

TEST(point_mapper, a_points_own_template_wins_over_its_devices) {
    auto cfg = two_point_config();
    cfg.publish.format = config::payload_format::templated;
    cfg.devices[0].payload_template = config::template_ref(template_of("{{device}} {{value}}"));
    cfg.devices[0].points.edit()[1].payload_template = config::template_ref(template_of("{{point}}={{value}}"));
    point_mapper m(cfg);
    const auto out = m.map(result_of({good(0, {0x4365, 0x028F}), good(1, {1})}), t0);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].payload, "meter1 229.01");
    EXPECT_EQ(out[1].payload, "relay=true");
}

TEST(point_mapper, the_device_format_sends_a_read_back_as_a_message_of_its_point) {
    auto cfg = two_point_config();
    cfg.publish.format = config::payload_format::device;
    point_mapper m(cfg);
    const auto out = m.map_point("meter1", 1, {1}, std::chrono::system_clock::time_point{}, t0);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].topic, "plant/meter1");
    EXPECT_EQ(out[0].payload, R"({"device":"meter1","points":{"relay":true},"ts":"1970-01-01T00:00:00.000Z"})");
    EXPECT_EQ(out[0].qos, mqtt::qos::at_most_once);
    EXPECT_TRUE(out[0].retain);
}

}  // namespace
}  // namespace fieldbridge::gateway
