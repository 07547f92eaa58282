// The metrics report from snapshots made by hand: the exposition format's
// rules (HELP and TYPE once per family, before its samples; counters end in
// _total; cumulative histogram buckets; escaped label values), the figures
// where they belong, and the Grafana dashboard's queries against the
// families the report writes.
#include "gateway/metrics_report.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/counter_floors.hpp"
#include "tests/gateway/status_snapshot_fixture.hpp"

namespace fieldbridge::gateway {
namespace {

// The exposition as name → (labels → value), checked line by line.
struct parsed {
    std::map<std::string, std::string> types;  // family → type
    std::map<std::string, std::map<std::string, double>> samples;
    std::vector<std::string> problems;
};

parsed parse(const std::string& text) {
    parsed p;
    std::set<std::string> helped;
    std::istringstream lines(text);
    std::string line;
    std::string current;  // the family whose samples may follow
    const std::regex sample_line(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$)");
    while (std::getline(lines, line)) {
        std::smatch m;
        if (line.rfind("# HELP ", 0) == 0) {
            const auto name = line.substr(7, line.find(' ', 7) - 7);
            if (!helped.insert(name).second)
                p.problems.push_back("HELP twice: " + name);
        } else if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream words(line.substr(7));
            std::string name;
            std::string type;
            words >> name >> type;
            if (p.types.count(name) != 0)
                p.problems.push_back("TYPE twice: " + name);
            if (helped.count(name) == 0)
                p.problems.push_back("TYPE before HELP: " + name);
            if (type == "counter" && !name.ends_with("_total"))
                p.problems.push_back("counter without _total: " + name);
            p.types[name] = type;
            current = name;
        } else if (std::regex_match(line, m, sample_line)) {
            const std::string name = m[1];
            std::string family = name;
            if (p.types[current] == "histogram") {
                for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
                    if (name == current + suffix)
                        family = current;
                }
            }
            if (family != current)
                p.problems.push_back("sample outside its family: " + line);
            p.samples[name][m[2]] = std::stod(m[3]);
        } else {
            p.problems.push_back("not a line of the format: " + line);
        }
    }
    return p;
}

TEST(histogram, counts_each_observation_in_the_first_bucket_it_fits_cumulatively) {
    histogram h;
    h.observe(std::chrono::milliseconds(1));     // exactly on a bound: in it (le)
    h.observe(std::chrono::microseconds(1001));  // just above: the next
    h.observe(std::chrono::seconds(60));         // past the last bound: +Inf only
    h.observe(std::chrono::milliseconds(-5));    // a clock that stepped back: as 0
    EXPECT_EQ(h.at_or_below(0), 2u);
    EXPECT_EQ(h.at_or_below(1), 3u);
    EXPECT_EQ(h.at_or_below(histogram::bounds.size() - 1), 3u);
    EXPECT_EQ(h.at_or_below(histogram::bounds.size()), 4u);
    EXPECT_EQ(h.count(), 4u);
    EXPECT_NEAR(h.sum_seconds(), 0.001 + 0.001001 + 60.0, 1e-9);
}

TEST(metrics_report, follows_the_exposition_format_for_every_family) {
    auto s = snapshot();
    s.devices[0].poll_duration.observe(std::chrono::milliseconds(40));
    s.queue.ack_latency.observe(std::chrono::milliseconds(3));
    const auto p = parse(metrics_report(s));
    EXPECT_TRUE(p.problems.empty()) << ::testing::PrintToString(p.problems);
    // Every family the report names is written, with or without samples.
    const auto families = metric_families();
    EXPECT_EQ(families.size(), p.types.size());
    for (const auto& f : families)
        EXPECT_EQ(p.types.count(f), 1u) << f;
}

TEST(metrics_report, carries_the_snapshot_figures_under_their_labels) {
    auto s = snapshot();
    s.process = {.resident_bytes = 12'345'678, .open_fds = 17, .cpu_seconds = 1.5};
    s.configuration.reload_failures = 1;
    s.commands.writes_ok = 5;
    s.devices[0].counters.held_reads = {{config::register_kind::holding_register, 100, 10},
                                        {config::register_kind::coil, 0, 8}};
    s.devices[0].poll_duration.observe(std::chrono::milliseconds(40));
    s.devices[0].poll_duration.observe(std::chrono::milliseconds(300));
    const auto p = parse(metrics_report(s));
    const auto value = [&](const std::string& name, const std::string& labels = "") {
        const auto f = p.samples.find(name);
        if (f == p.samples.end() || f->second.count(labels) == 0)
            return -1.0;
        return f->second.at(labels);
    };
    EXPECT_EQ(value("fieldbridge_build_info", R"({version="1.2.3"})"), 1);
    EXPECT_EQ(value("process_resident_memory_bytes"), 12'345'678);
    EXPECT_EQ(value("process_open_fds"), 17);
    EXPECT_EQ(value("process_start_time_seconds"),
              std::chrono::duration<double>(t0.time_since_epoch()).count());
    EXPECT_EQ(value("fieldbridge_config_reloads_total", R"({result="applied"})"), 2);
    EXPECT_EQ(value("fieldbridge_config_reloads_total", R"({result="refused"})"), 1);
    EXPECT_EQ(value("fieldbridge_broker_up"), 1);
    EXPECT_EQ(value("fieldbridge_broker_connects_total"), 3);
    EXPECT_EQ(value("fieldbridge_queue_messages"), 12);
    EXPECT_EQ(value("fieldbridge_queue_oldest_age_seconds"), 10);
    EXPECT_EQ(value("fieldbridge_queue_delivered_total"), 18);
    EXPECT_EQ(value("fieldbridge_queue_dropped_total", R"({reason="max_messages"})"), 6);
    EXPECT_EQ(value("fieldbridge_bus_polls_total", R"({bus="line"})"), 9);
    EXPECT_EQ(value("fieldbridge_bus_utilisation_ratio", R"({bus="line"})"), 0.25);
    const std::string meter = R"(device="meter",bus="line")";
    EXPECT_EQ(value("fieldbridge_device_up", "{" + meter + "}"), 1);
    EXPECT_EQ(value("fieldbridge_device_state", "{" + meter + R"(,state="online"})"), 1);
    EXPECT_EQ(value("fieldbridge_device_state", "{" + meter + R"(,state="offline"})"), 0);
    EXPECT_EQ(value("fieldbridge_device_requests_total", "{" + meter + "}"), 11);
    EXPECT_EQ(value("fieldbridge_device_request_failures_total", "{" + meter + R"(,reason="timeout"})"), 2);
    EXPECT_EQ(value("fieldbridge_device_poll_interval_seconds", "{" + meter + "}"), 1);
    EXPECT_EQ(value("fieldbridge_device_held_reads", "{" + meter + "}"), 2);
    // Cumulative buckets: 40 ms is in le=0.05 and above, 300 ms in le=0.5 and above.
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_bucket", "{" + meter + R"(,le="0.025"})"), 0);
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_bucket", "{" + meter + R"(,le="0.05"})"), 1);
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_bucket", "{" + meter + R"(,le="0.25"})"), 1);
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_bucket", "{" + meter + R"(,le="0.5"})"), 2);
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_bucket", "{" + meter + R"(,le="+Inf"})"), 2);
    EXPECT_EQ(value("fieldbridge_device_poll_duration_seconds_count", "{" + meter + "}"), 2);
    EXPECT_NEAR(value("fieldbridge_device_poll_duration_seconds_sum", "{" + meter + "}"), 0.34, 1e-9);
    EXPECT_EQ(value("fieldbridge_commands_received_total"), 7);
    EXPECT_EQ(value("fieldbridge_command_writes_total", R"({outcome="ok"})"), 5);
    EXPECT_EQ(value("fieldbridge_commands_held"), 4);
}

// A device's polls and failed polls come from one count, the one `status`
// shows: the worker's own count starts again when a reload restarts the
// bus, and failed polls then exceeded polls.
TEST(metrics_report, a_devices_polls_and_failed_polls_are_the_counts_status_shows) {
    auto s = snapshot();
    auto& d = s.devices[0];
    for (int i = 0; i < 4; ++i) {
        const auto t = t0 + std::chrono::seconds(i);
        d.health.record(modbus::poll_result{d.name, t, {modbus::sample{0, {}, {false, {}}}}, {}, {}, false, {}});
    }
    d.health.record_answer(t0 + 5s);  // a write answered: no poll
    d.counters.polls = 2;              // the worker's, since a restart
    const auto p = parse(metrics_report(s));
    const std::string meter = R"({device="meter",bus="line"})";
    EXPECT_EQ(p.samples.at("fieldbridge_device_polls_total").at(meter), 5);
    EXPECT_EQ(p.samples.at("fieldbridge_device_failed_polls_total").at(meter), 4);
    const auto status = status_report(s).at("devices").at(0);
    EXPECT_EQ(status.at("polls"), 5);
    EXPECT_EQ(status.at("failed_polls"), 4);
}

TEST(metrics_report, an_offline_device_is_down_and_label_values_are_escaped) {
    auto s = snapshot();
    auto& d = s.devices[0];
    d.name = "odd \"name\" \\ with\nline";
    d.health = modbus::device_health{};
    d.health.offline_after = 1;
    d.health.record(modbus::poll_result{d.name, t0, {modbus::sample{0, {}, {false, {}}}}, {}, {}, false, {}});
    ASSERT_EQ(d.health.state(), modbus::device_state::offline);
    const auto text = metrics_report(s);
    EXPECT_NE(text.find(R"(fieldbridge_device_up{device="odd \"name\" \\ with\nline",bus="line"} 0)"),
              std::string::npos)
        << text;
    EXPECT_TRUE(parse(text).problems.empty());
}

// The families the report writes, with their types.
const std::map<std::string, std::string>& served() {
    static const auto types = parse(metrics_report(snapshot())).types;
    return types;
}

// The metric names a PromQL expression uses: identifiers that start like
// the gateway's families (a histogram's _bucket/_sum/_count taken back to
// its family).
std::set<std::string> metric_names_in(const std::string& expr) {
    std::set<std::string> names;
    const std::regex identifier(R"((fieldbridge_|process_)[a-zA-Z0-9_:]*)");
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), identifier); it != std::sregex_iterator();
         ++it) {
        std::string name = it->str();
        for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
            if (!name.ends_with(suffix))
                continue;
            const auto base = name.substr(0, name.size() - suffix.size());
            if (const auto f = served().find(base); f != served().end() && f->second == "histogram")
                name = base;
        }
        names.insert(name);
    }
    return names;
}

// Every "expr" and string "query" anywhere in the dashboard.
void queries_in(const nlohmann::json& j, std::vector<std::string>& out) {
    if (j.is_object()) {
        for (const auto& [key, value] : j.items()) {
            if ((key == "expr" || key == "query" || key == "definition") && value.is_string()) {
                out.push_back(value.get<std::string>());
            } else {
                queries_in(value, out);
            }
        }
    } else if (j.is_array()) {
        for (const auto& item : j)
            queries_in(item, out);
    }
}

std::vector<std::string> unknown_metrics(const std::vector<std::string>& queries) {
    std::vector<std::string> unknown;
    for (const auto& q : queries) {
        for (const auto& name : metric_names_in(q)) {
            if (served().count(name) == 0)
                unknown.push_back(name + " in " + q);
        }
    }
    return unknown;
}

// The net figures the gateway corrects downward (messages taken back from
// the MQTT client, QoS 0 messages put back unwritten, drops a rolled-back
// transaction undid) and counts again: over random runs of counting,
// taking back and counting again, no counter of the report ever goes down,
// and each shows the highest its net figure reached. 100 seeds of 20 steps
// (each step's report parsed whole).
TEST(counter_floors, no_counter_of_the_report_goes_down_when_a_net_figure_is_corrected) {
    const auto published = [](status_snapshot& x) -> std::uint64_t& { return x.broker.client.published; };
    const auto delivered = [](status_snapshot& x) -> std::uint64_t& { return x.queue.forwarded.delivered; };
    const auto historical = [](status_snapshot& x) -> std::uint64_t& { return x.queue.forwarded.historical; };
    const auto by_rows = [](status_snapshot& x) -> std::uint64_t& { return x.queue.counters.dropped_by_rows; };
    const auto by_bytes = [](status_snapshot& x) -> std::uint64_t& { return x.queue.counters.dropped_by_bytes; };
    const auto by_age = [](status_snapshot& x) -> std::uint64_t& { return x.queue.counters.dropped_by_age; };
    const std::vector<std::function<std::uint64_t&(status_snapshot&)>> figures = {published, delivered, historical,
                                                                                  by_rows,   by_bytes,  by_age};
    for (unsigned seed = 1; seed <= 100; ++seed) {
        std::mt19937 rng(seed);
        counter_floors floors;
        auto net = snapshot();
        std::vector<std::uint64_t> highest(figures.size());  // of what the floors were shown
        std::map<std::string, std::map<std::string, double>> last;
        for (int step = 0; step < 20; ++step) {
            for (std::size_t i = 0; i < figures.size(); ++i) {
                auto& v = figures[i](net);
                if (rng() % 3 == 0) {
                    v -= std::min<std::uint64_t>(v, rng() % 50);  // taken back
                } else {
                    v += rng() % 50;  // counted (again)
                }
                highest[i] = std::max(highest[i], v);
            }
            auto shown = floors.raised(net);
            for (std::size_t i = 0; i < figures.size(); ++i)
                ASSERT_EQ(figures[i](shown), highest[i]) << "seed " << seed << " step " << step << " figure " << i;
            const auto p = parse(metrics_report(shown));
            for (const auto& [name, series] : p.samples) {
                if (p.types.count(name) == 0 || p.types.at(name) != "counter") continue;
                for (const auto& [labels, value] : series) {
                    const auto before = last[name].find(labels);
                    if (before != last[name].end()) {
                        ASSERT_GE(value, before->second) << "seed " << seed << " step " << step << " " << name << labels;
                    }
                    last[name][labels] = value;
                }
            }
        }
    }
}

TEST(grafana_dashboard, every_query_names_a_metric_the_gateway_serves) {
    std::ifstream in(FIELDBRIDGE_SOURCE_DIR "/examples/grafana/fieldbridge-dashboard.json");
    ASSERT_TRUE(in) << "examples/grafana/fieldbridge-dashboard.json";
    const auto dashboard = nlohmann::json::parse(in);
    std::vector<std::string> queries;
    queries_in(dashboard, queries);
    ASSERT_GE(queries.size(), 20u);
    std::size_t naming = 0;
    for (const auto& q : queries) {
        if (!metric_names_in(q).empty())
            ++naming;
    }
    EXPECT_GE(naming, 20u);
    EXPECT_TRUE(unknown_metrics(queries).empty()) << ::testing::PrintToString(unknown_metrics(queries));
    for (const auto& panel : dashboard.at("panels")) {
        EXPECT_FALSE(panel.at("targets").empty()) << panel.at("title");
        EXPECT_EQ(panel.at("datasource").at("uid"), "${datasource}") << panel.at("title");
    }
    // The check itself: a misspelt family and a histogram suffix on a counter are caught.
    EXPECT_EQ(unknown_metrics({"rate(fieldbridge_queue_deliverd_total[5m])"}).size(), 1u);
    EXPECT_EQ(unknown_metrics({"fieldbridge_queue_messages_bucket"}).size(), 1u);
}

}  // namespace
}  // namespace fieldbridge::gateway
