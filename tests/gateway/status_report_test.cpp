// The status and points reports from snapshots made by hand: the fields
// `fieldbridge status` prints and docs/operations.md describes.
#include "gateway/status_report.hpp"

#include <algorithm>
#include <stdexcept>

#include <gtest/gtest.h>

#include "gateway/payload.hpp"
#include "gateway/status_summary.hpp"
#include "gateway/status_text.hpp"
#include "tests/gateway/status_snapshot_fixture.hpp"

namespace fieldbridge::gateway {
namespace {

TEST(status_report, carries_every_part_of_the_snapshot) {
    const auto j = status_report(snapshot());
    EXPECT_EQ(j.at("version"), "1.2.3");
    EXPECT_EQ(j.at("started"), iso8601_utc_ms(t0));
    EXPECT_DOUBLE_EQ(j.at("uptime_s").get<double>(), 100.0);
    EXPECT_EQ(j.at("healthy"), true);
    EXPECT_EQ(j.at("config"), (nlohmann::json{{"path", "/etc/fieldbridge/fieldbridge.yaml"},
                                              {"reloads", 2},
                                              {"last_reload_error", "bad line"}}));
    const auto& c = j.at("commands");
    EXPECT_EQ(c.at("received"), 7);
    EXPECT_EQ(c.at("refused"), 3);
    EXPECT_EQ(c.at("replies_dropped"), 1);
    EXPECT_EQ(c.at("held"), 4);
    EXPECT_EQ(c.at("pending_replies"), 5);
    for (const auto* key : {"topic_too_long", "payload_too_large", "reply_address_too_long", "held_full"}) {
        EXPECT_EQ(c.at(key), 0) << key;
    }
    const auto& b = j.at("broker");
    EXPECT_EQ(b.at("host"), "broker.local");
    EXPECT_EQ(b.at("port"), 8883);
    EXPECT_EQ(b.at("tls"), true);
    EXPECT_EQ(b.at("state"), "connected");
    EXPECT_EQ(b.at("protocol"), "3.1.1");
    EXPECT_EQ(b.at("client_id"), "gw1");
    EXPECT_EQ(b.at("connected_since"), iso8601_utc_ms(t0 + 1s));
    EXPECT_EQ(b.at("connects"), 3);
    EXPECT_EQ(b.at("reconnects"), 2);
    EXPECT_EQ(b.at("published"), 40);
    EXPECT_FALSE(b.contains("limits"));  // MQTT 5 only
    const auto& q = j.at("queue");
    EXPECT_EQ(q.at("path"), "/var/lib/fieldbridge/queue.db");
    EXPECT_EQ(q.at("messages"), 12);
    EXPECT_DOUBLE_EQ(q.at("oldest_age_s").get<double>(), 10.0);
    EXPECT_EQ(q.at("stored"), 30);
    EXPECT_EQ(q.at("delivered"), 18);
    EXPECT_EQ(q.at("dropped").at("by_messages"), 6);
    EXPECT_DOUBLE_EQ(q.at("commits_per_s").get<double>(), 0.5);
    for (const auto* key : {"bytes", "refused", "refused_by_broker", "disk_full", "commits", "ledger_errors",
                            "lost_uncommitted", "resyncs", "direct", "qos0_lost", "historical"}) {
        EXPECT_TRUE(q.contains(key)) << key;
    }
    ASSERT_EQ(j.at("buses").size(), 1u);
    const auto& bus = j.at("buses").at(0);
    EXPECT_EQ(bus.at("name"), "line");
    EXPECT_EQ(bus.at("started"), true);
    EXPECT_EQ(bus.at("polls"), 9);
    EXPECT_DOUBLE_EQ(bus.at("utilisation").get<double>(), 0.25);
    EXPECT_EQ(j.at("buses_stopping"), nlohmann::json::array({"old"}));
    ASSERT_EQ(j.at("devices").size(), 1u);
    const auto& d = j.at("devices").at(0);
    EXPECT_EQ(d.at("name"), "meter");
    EXPECT_EQ(d.at("bus"), "line");
    EXPECT_EQ(d.at("unit_id"), 7);
    EXPECT_EQ(d.at("state"), "online");
    EXPECT_EQ(d.at("state_since"), iso8601_utc_ms(t0 + 99s));
    EXPECT_DOUBLE_EQ(d.at("poll_interval_s").get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(d.at("last_poll_duration_s").get<double>(), 0.04);
    EXPECT_EQ(d.at("requests"), 11);
    EXPECT_EQ(d.at("errors"), (nlohmann::json{{"timeout", 2}, {"exception", 0}, {"other", 0}}));
    EXPECT_DOUBLE_EQ(d.at("last_good_age_s").get<double>(), 1.0);
    EXPECT_EQ(d.at("polls"), 1);
    EXPECT_EQ(d.at("last_error"), "");
    EXPECT_EQ(d.at("held_reads"), nlohmann::json::array());
    EXPECT_EQ(status_text(j).find("held back"), std::string::npos) << "no heading without a held read";
    for (const auto* key :
         {"retries", "last_poll_age_s", "missed_polls", "failed_polls", "consecutive_failures"}) {
        EXPECT_TRUE(d.contains(key)) << key;
    }
}

TEST(status_report, is_unhealthy_without_the_broker_or_with_a_device_offline) {
    auto s = snapshot();
    s.broker.state = mqtt::link_state::connecting;
    s.broker.connected_since.reset();
    auto j = status_report(s);
    EXPECT_EQ(j.at("healthy"), false);
    EXPECT_EQ(j.at("broker").at("state"), "connecting");
    EXPECT_TRUE(j.at("broker").at("connected_since").is_null());

    s = snapshot();
    modbus::poll_result failed{
        "meter", t0, {modbus::sample{0, {}, {false, std::make_error_code(std::errc::timed_out)}}}, {}, {}, false, {}};
    auto& h = s.devices.at(0).health;
    h.offline_after = 1;
    h.record(failed);
    ASSERT_EQ(h.state(), modbus::device_state::offline);
    j = status_report(s);
    EXPECT_EQ(j.at("healthy"), false);
    EXPECT_EQ(j.at("devices").at(0).at("state"), "offline");
}

TEST(status_report, names_the_reads_a_device_has_held_back_in_json_and_text) {
    auto s = snapshot();
    s.devices.at(0).counters.held_reads = {{config::register_kind::holding_register, 100, 10},
                                           {config::register_kind::input_register, 7, 1}};
    const auto j = status_report(s);
    EXPECT_EQ(j.at("devices").at(0).at("held_reads"),
              nlohmann::json::parse(R"([{"register": "holding", "first": 100, "last": 109},
                                        {"register": "input", "first": 7, "last": 7}])"));
    EXPECT_EQ(j.at("devices").at(0).at("state"), "online") << "a held read does not make the device offline";
    const auto text = status_text(j);
    EXPECT_NE(text.find("Reads held back"), std::string::npos) << text;
    EXPECT_NE(text.find("  meter: holding 100-109\n  meter: input 7-7\n"), std::string::npos) << text;
}

TEST(status_report, shows_the_address_in_use_and_the_mqtt5_limits) {
    auto s = snapshot();
    s.broker.v5 = true;
    s.broker.client.server = {"backup.local", 1884};
    s.broker.client.limits.receive_maximum = 20;
    auto j = status_report(s);
    EXPECT_EQ(j.at("broker").at("host"), "backup.local");
    EXPECT_EQ(j.at("broker").at("port"), 1884);
    EXPECT_EQ(j.at("broker").at("protocol"), "5");
    EXPECT_EQ(j.at("broker").at("limits").at("receive_maximum"), 20);
    s.broker.state = mqtt::link_state::disconnected;
    EXPECT_FALSE(status_report(s).at("broker").contains("limits"));
}

TEST(status_report, shows_the_sparkplug_session_with_that_format_only) {
    auto s = snapshot();
    EXPECT_FALSE(status_report(s).contains("sparkplug"));
    s.sparkplug = status_snapshot::sparkplug_part{"plant1", "gw1", 7, false, "scada1", false};
    const auto j = status_report(s);
    EXPECT_EQ(j.at("sparkplug"), (nlohmann::json{{"group_id", "plant1"},
                                                 {"edge_node_id", "gw1"},
                                                 {"bd_seq", 7},
                                                 {"born", false},
                                                 {"primary_host", "scada1"},
                                                 {"primary_host_online", false}}));
    EXPECT_NE(status_text(j).find("sparkplug  plant1/gw1  not born, bdSeq 7; primary host scada1 offline or unknown: "
                                  "births and data wait\n"),
              std::string::npos)
        << status_text(j);
    s.sparkplug = status_snapshot::sparkplug_part{"plant1", "gw1", 8, true, "", false};
    EXPECT_EQ(status_report(s).at("sparkplug").at("primary_host"), nullptr);
    EXPECT_NE(status_text(status_report(s)).find("sparkplug  plant1/gw1  born, bdSeq 8\n"), std::string::npos);
}

// Every string of the service's answers may come from outside (a broker's
// reason string, a device's text): whatever they hold, the text views put
// no control character on the operator's terminal but their own line ends.
void hostile_strings(nlohmann::json& j) {
    if (j.is_string()) {
        j = "x\x1b[2J\x1b]0;title\x07\r\x7f\xc2\x9b" "31m\n\ty";
    } else if (j.is_structured()) {
        for (auto& child : j) hostile_strings(child);
    }
}

bool control_free(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 && c != '\n') || c == 0x7F) return false;
        if (c == 0xC2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80) return false;
    }
    return true;
}

TEST(status_text, writes_no_control_character_of_any_string_it_shows) {
    auto s = snapshot();
    s.sparkplug = status_snapshot::sparkplug_part{"plant1", "gw1", 7, false, "scada1", false};
    auto j = status_report(s);
    const auto plain = status_text(j);
    hostile_strings(j);
    const auto shown = status_text(j);
    EXPECT_TRUE(control_free(shown)) << shown;
    EXPECT_EQ(std::count(shown.begin(), shown.end(), '\n'), std::count(plain.begin(), plain.end(), '\n')) << shown;
    EXPECT_NE(shown.find("x?[2J?]0;title????31m??y"), std::string::npos) << shown;
    EXPECT_EQ(table_text({{text(nlohmann::json("a\x1b[Kb")), "c"}}), "a?[Kb  c\n");
}

TEST(points_report, lists_every_point_with_its_latest_reading) {
    config::gateway g;
    g.publish.prefix = "p";
    g.publish.topic_template = "{prefix}/{device}/{point}";
    config::bus b;
    b.name = "line";
    g.buses.push_back(b);
    config::device d;
    d.name = "meter";
    d.bus = "line";
    config::point volts;
    volts.name = "volts";
    volts.unit = "V";
    config::point amps = volts;
    amps.name = "amps";
    amps.unit = "A";
    d.points = {volts, amps};
    g.devices.push_back(d);
    point_mapper mapper(g);
    (void)mapper.map(modbus::poll_result{"meter", t0, {modbus::sample{0, {230}, {true, {}}}}, {}, {}, false, {}},
                     std::chrono::steady_clock::time_point{});
    const auto rows = points_report(g, mapper, {}, t0 + 2s);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("device"), "meter");
    EXPECT_EQ(rows[0].at("point"), "volts");
    EXPECT_EQ(rows[0].at("unit"), "V");
    EXPECT_EQ(rows[0].at("topic"), "p/meter/volts");
    EXPECT_EQ(rows[0].at("value"), 230);
    EXPECT_EQ(rows[0].at("quality"), "good");
    EXPECT_DOUBLE_EQ(rows[0].at("age_s").get<double>(), 2.0);
    EXPECT_EQ(rows[1].at("quality"), "none");  // not polled yet
    EXPECT_TRUE(rows[1].at("value").is_null());
    EXPECT_TRUE(rows[1].at("age_s").is_null());
    EXPECT_EQ(points_report(g, mapper, {"meter"}, t0).size(), 2u);
    EXPECT_THROW((void)points_report(g, mapper, {"nothing"}, t0), std::runtime_error);
}

// Pages of every size, with and without a device filter, put together give
// the rows of one listing, each once and in order; a page never holds more
// than its limit, and the last page is the first one shorter than it.
TEST(points_report, pages_of_any_size_put_together_give_every_row_once) {
    config::gateway g;
    g.publish.prefix = "p";
    g.publish.topic_template = "{prefix}/{device}/{point}";
    config::bus b;
    b.name = "line";
    g.buses.push_back(b);
    // Devices of 0, 1, 3 and 7 points: page ends fall inside devices, on
    // their edges and across a device with no points.
    for (const std::size_t n : {3u, 0u, 7u, 1u}) {
        config::device d;
        d.name = "d" + std::to_string(g.devices.size());
        d.bus = "line";
        for (std::size_t i = 0; i < n; ++i) {
            config::point pt;
            pt.name = "pt" + std::to_string(i);
            d.points.push_back(pt);
        }
        g.devices.push_back(d);
    }
    point_mapper mapper(g);
    const auto key = [](const nlohmann::json& r) {
        return r.at("device").get<std::string>() + "/" + r.at("point").get<std::string>();
    };
    for (const std::string device : {"", "d0", "d1", "d2", "d3"}) {
        std::vector<std::string> all;
        for (const auto& r : points_report(g, mapper, {device, 0, points_page_rows}, t0))
            all.push_back(key(r));
        for (std::size_t limit = 1; limit <= all.size() + 2; ++limit) {
            std::vector<std::string> joined;
            for (std::size_t from = 0;;) {
                const auto page = points_report(g, mapper, {device, from, limit}, t0);
                ASSERT_LE(page.size(), limit);
                for (const auto& r : page)
                    joined.push_back(key(r));
                if (page.size() < limit)
                    break;
                from += page.size();
                ASSERT_LE(from, all.size() + limit) << "device '" << device << "', limit " << limit;
            }
            EXPECT_EQ(joined, all) << "device '" << device << "', limit " << limit;
        }
        EXPECT_TRUE(points_report(g, mapper, {device, all.size() + 5, 2}, t0).empty());
    }
    EXPECT_EQ(points_report(g, mapper, {}, t0).size(), 11u);
    EXPECT_THROW((void)points_report(g, mapper, {"d9", 3, 1}, t0), std::runtime_error);
}

TEST(points_report, a_query_is_read_from_the_request_and_refused_when_out_of_its_bounds) {
    const auto q = points_query_of({{"command", "points"}, {"device", "m1"}, {"from", 1000}, {"limit", 20}});
    EXPECT_EQ(q.device, "m1");
    EXPECT_EQ(q.from, 1000u);
    EXPECT_EQ(q.limit, 20u);
    const auto plain = points_query_of({{"command", "points"}});
    EXPECT_EQ(plain.device, "");
    EXPECT_EQ(plain.from, 0u);
    EXPECT_EQ(plain.limit, points_page_rows);
    for (const auto& bad :
         {nlohmann::json{{"device", 7}}, nlohmann::json{{"from", -1}}, nlohmann::json{{"from", 1.5}},
          nlohmann::json{{"from", "0"}}, nlohmann::json{{"limit", 0}},
          nlohmann::json{{"limit", points_page_rows + 1}}, nlohmann::json{{"limit", nullptr}}}) {
        EXPECT_THROW((void)points_query_of(bad), std::runtime_error) << bad;
    }
}

TEST(status_summary, counts_the_snapshot_in_a_few_figures) {
    const auto j = status_summary(snapshot());
    EXPECT_EQ(j.at("ts"), iso8601_utc_ms(t0 + 100s));
    EXPECT_EQ(j.at("uptime_s"), 100.0);
    EXPECT_EQ(j.at("healthy"), true);
    EXPECT_EQ(j.at("broker"), (nlohmann::json{{"state", "connected"}, {"reconnects", 2}}));
    EXPECT_EQ(j.at("queue"), (nlohmann::json{{"messages", 12}, {"bytes", 0}, {"oldest_age_s", 10.0},
                                             {"delivered", 18}, {"dropped", 6}}));
    EXPECT_EQ(j.at("buses"), (nlohmann::json{{"count", 1}, {"polls", 9}, {"failures", 0}, {"timeouts", 0},
                                             {"max_utilisation", 0.25}}));
    EXPECT_EQ(j.at("devices"), (nlohmann::json{{"count", 1}, {"online", 1}, {"offline", 0}, {"unknown", 0},
                                               {"offline_names", nlohmann::json::array()}, {"offline_unnamed", 0}}));
    EXPECT_EQ(j.at("commands_held"), 4);
}

// However many devices are offline, the summary names a bounded number of
// them and counts the rest: its size does not grow with the plant.
TEST(status_summary, names_at_most_its_bound_of_offline_devices) {
    auto s = snapshot();
    s.devices.clear();
    modbus::poll_result failed{
        "d", t0, {modbus::sample{0, {}, {false, std::make_error_code(std::errc::timed_out)}}}, {}, {}, false, {}};
    const std::size_t offline = summary_max_offline_names + 10;
    for (std::size_t i = 0; i < offline + 3; ++i) {
        modbus::device_health h;
        h.offline_after = 1;
        if (i < offline) h.record(failed);
        s.devices.push_back({"d" + std::to_string(i), "line", 1, 1000ms, h, {}, {}});
    }
    const auto j = status_summary(s);
    const auto& d = j.at("devices");
    EXPECT_EQ(d.at("count"), offline + 3);
    EXPECT_EQ(d.at("offline"), offline);
    EXPECT_EQ(d.at("unknown"), 3);
    EXPECT_EQ(d.at("offline_names").size(), summary_max_offline_names);
    EXPECT_EQ(d.at("offline_names").at(0), "d0");
    EXPECT_EQ(d.at("offline_unnamed"), 10);
    EXPECT_EQ(j.at("healthy"), false);
}

}  // namespace
}  // namespace fieldbridge::gateway
