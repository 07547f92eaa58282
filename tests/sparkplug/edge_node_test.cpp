// The edge node's session: the messages of each step, and a model test —
// random sequences of connections, lost connections (the broker delivers
// the Will), devices going offline and back, polls and rebirth commands —
// in which a host's view of what was published (host_view) must follow the
// specification's rules at every step and agree with a small reference
// model: which devices are alive and the latest value of every metric.
// FIELDBRIDGE_SPARKPLUG_SEEDS=N runs N seeds (2000 by default); a failure
// names its seed, and FIELDBRIDGE_SPARKPLUG_SEED=S runs that one alone.
#include "sparkplug/edge_node.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "sparkplug/payload_codec.hpp"
#include "tests/sparkplug/host_view.hpp"
#include "tests/support/model_seeds.hpp"

namespace fieldbridge::sparkplug {
namespace {

using testing::host_view;

std::vector<device_definition> plant() {
    return {
        device_definition{"m1",
                          {metric_definition{"voltage", data_type::float32, "V", false},
                           metric_definition{"energy", data_type::uint32, "kWh", false},
                           metric_definition{"relay", data_type::boolean, "", true}}},
        device_definition{"m2", {metric_definition{"setpoint", data_type::int16, "", true}}},
    };
}

edge_node node() { return edge_node(edge_node_settings{"plant1", "gw1"}, plant()); }

payload decoded(const mqtt::message& m) {
    auto d = decode(m.payload);
    EXPECT_TRUE(std::holds_alternative<payload>(d)) << m.topic;
    return std::holds_alternative<payload>(d) ? std::get<payload>(d) : payload{};
}

TEST(sparkplug_edge_node, topics_namespace_group_type_node_and_device) {
    const auto n = node();
    EXPECT_EQ(n.topic(message_type::nbirth), "spBv1.0/plant1/NBIRTH/gw1");
    EXPECT_EQ(n.topic(message_type::ddata, 1), "spBv1.0/plant1/DDATA/gw1/m2");
    EXPECT_EQ(n.command_filters(), (std::vector<std::string>{"spBv1.0/plant1/NCMD/gw1", "spBv1.0/plant1/DCMD/gw1/+"}));
}

TEST(sparkplug_edge_node, knows_its_namespace_and_its_devices_births) {
    const auto n = node();
    EXPECT_TRUE(n.in_namespace("spBv1.0/plant1/NBIRTH/gw1"));
    EXPECT_TRUE(n.in_namespace("spBv1.0/plant1/DDATA/gw1/m1"));
    EXPECT_FALSE(n.in_namespace("spBv1.0/plant10/NBIRTH/gw1"));
    EXPECT_FALSE(n.in_namespace("plant1/m1/voltage"));
    EXPECT_FALSE(n.in_namespace("replies/spBv1.0/plant1/x"));
    EXPECT_TRUE(n.device_birth("spBv1.0/plant1/DBIRTH/gw1/m2"));
    EXPECT_FALSE(n.device_birth("spBv1.0/plant1/DBIRTH/gw1/m3"));  // not a device of the node
    EXPECT_FALSE(n.device_birth("spBv1.0/plant1/DBIRTH/gw2/m1"));  // another node
    EXPECT_FALSE(n.device_birth("spBv1.0/plant1/DDATA/gw1/m1"));
    EXPECT_FALSE(n.device_birth("site/DBIRTH/gw1/m1"));
}

// A stored DDATA of a device the node does not have (taken out by a reload
// or restart, or under former group or edge node ids) never gets a DBIRTH
// in this session: it waits, instead of going out without seq or birth.
TEST(sparkplug_edge_node, a_ddata_of_a_device_the_node_does_not_have_waits) {
    auto n = node();
    (void)n.births(1000);
    (void)n.device_online(0, 1000);
    const auto stored = [](std::string topic) { return mqtt::message{std::move(topic), "", mqtt::qos::at_most_once, false}; };
    EXPECT_TRUE(n.ready(stored("spBv1.0/plant1/DDATA/gw1/m1")));
    EXPECT_FALSE(n.ready(stored("spBv1.0/plant1/DDATA/gw1/m2"))) << "offline";
    EXPECT_FALSE(n.ready(stored("spBv1.0/plant1/DDATA/gw1/gone")));
    EXPECT_FALSE(n.ready(stored("spBv1.0/plant1/DDATA/gw0/m1"))) << "another edge node id";
    EXPECT_FALSE(n.ready(stored("spBv1.0/plant0/DDATA/gw1/m1"))) << "another group id";
    EXPECT_TRUE(n.ready(stored("plant1/m1/voltage")));
    EXPECT_TRUE(n.ready(stored("spBv1.0/plant1/NDATA/gw1")));
    EXPECT_TRUE(n.ready(stored("spBv1.0/DDATA")));
    EXPECT_FALSE(is_device_data("spBv1.0"));
    EXPECT_FALSE(is_device_data("spBv1.0x/g/DDATA/n/d"));
    EXPECT_TRUE(is_device_data("spBv1.0/g/DDATA/n/d"));
}

TEST(sparkplug_edge_node, payloads_ndeath_will_message_qos_retain_and_bdseq_alone) {
    const auto n = node();
    const auto will = n.will(1000);
    EXPECT_EQ(will.topic, "spBv1.0/plant1/NDEATH/gw1");
    EXPECT_EQ(will.qos, mqtt::qos::at_least_once);
    EXPECT_FALSE(will.retain);
    const auto p = decoded(will);
    EXPECT_FALSE(p.seq) << "[payloads-ndeath-seq]";
    ASSERT_EQ(p.metrics.size(), 1u) << "[topics-ndeath-payload]";
    EXPECT_EQ(p.metrics[0].name, "bdSeq");
    EXPECT_EQ(p.metrics[0].value, wire_value{std::uint64_t{0}});
}

TEST(sparkplug_edge_node, payloads_nbirth_seq_bdseq_rebirth_then_dbirth_with_every_metric) {
    auto n = node();
    n.device_online(0, 1000);
    const auto births = n.births(2000);
    ASSERT_EQ(births.size(), 2u) << "NBIRTH and the one online device's DBIRTH";
    for (const auto& m : births) {
        EXPECT_EQ(m.qos, mqtt::qos::at_most_once) << "[payloads-nbirth-qos] [payloads-dbirth-qos]";
        EXPECT_FALSE(m.retain) << "[payloads-nbirth-retain] [payloads-dbirth-retain]";
    }
    const auto nb = decoded(births[0]);
    EXPECT_EQ(nb.seq, 0u);
    EXPECT_EQ(nb.timestamp, 2000u) << "[payloads-nbirth-timestamp]";
    ASSERT_EQ(nb.metrics.size(), 2u);
    EXPECT_EQ(nb.metrics[0].name, "bdSeq");
    EXPECT_EQ(nb.metrics[1].name, "Node Control/Rebirth");
    EXPECT_EQ(nb.metrics[1].datatype, data_type::boolean);
    EXPECT_EQ(nb.metrics[1].value, wire_value{false});
    const auto db = decoded(births[1]);
    EXPECT_EQ(births[1].topic, "spBv1.0/plant1/DBIRTH/gw1/m1");
    EXPECT_EQ(db.seq, 1u);
    ASSERT_EQ(db.metrics.size(), 3u);
    EXPECT_EQ(db.metrics[0].name, "voltage");
    EXPECT_EQ(db.metrics[0].alias, 1u);
    EXPECT_EQ(db.metrics[0].datatype, data_type::float32);
    EXPECT_EQ(db.metrics[0].value, wire_value{null_value{}}) << "not read yet";
    EXPECT_EQ(db.metrics[0].properties.at(0), (property{"engUnit", data_type::string, std::string("V")}));
    EXPECT_EQ(db.metrics[2].alias, 3u);
    EXPECT_EQ(n.alias(1, 0), 4u) << "aliases unique across the node";
}

TEST(sparkplug_edge_node, session_ended_moves_bdseq_on_and_stops_publishing_until_births) {
    auto n = node();
    n.device_online(0, 0);
    (void)n.births(1);
    n.session_ended();
    EXPECT_EQ(n.bd_seq(), 1);
    EXPECT_EQ(decoded(n.will(2)).metrics[0].value, wire_value{std::uint64_t{1}});
    EXPECT_FALSE(n.data(0, {metric_update{0, 1.0f, 3, false}}, 3)) << "no session, no DDATA";
    n.session_ended();
    EXPECT_EQ(n.bd_seq(), 2) << "every connection registered a Will with its bdSeq, births or not";
    const auto births = n.births(4);
    EXPECT_EQ(decoded(births[0]).metrics[0].value, wire_value{std::uint64_t{2}});
    EXPECT_EQ(decoded(births[1]).metrics[0].value, wire_value{1.0f}) << "the birth carries the latest value";
}

TEST(sparkplug_edge_node, a_metric_good_again_after_a_bad_reading_says_quality_192) {
    auto n = node();
    n.device_online(0, 0);
    (void)n.births(1);
    const auto quality_of = [&](const std::optional<mqtt::message>& m) {
        EXPECT_TRUE(m);
        const auto p = decoded(*m);
        return p.metrics.at(0).properties;
    };
    EXPECT_TRUE(quality_of(n.data(0, {metric_update{0, 1.0f, 2, false}}, 2)).empty()) << "good: nothing to say";
    EXPECT_EQ(quality_of(n.data(0, {metric_update{0, null_value{}, 3, false}}, 3)).at(0).value,
              wire_value{quality_bad});
    EXPECT_EQ(quality_of(n.data(0, {metric_update{0, 2.0f, 4, false}}, 4)).at(0).value, wire_value{quality_good});
    EXPECT_TRUE(quality_of(n.data(0, {metric_update{0, 3.0f, 5, false}}, 5)).empty());
}

payload command_payload(std::vector<metric> metrics) {
    payload p;
    p.timestamp = 1;
    p.metrics = std::move(metrics);
    return p;
}

metric named(std::string name, wire_value v) {
    metric m;
    m.name = std::move(name);
    m.value = std::move(v);
    return m;
}

TEST(sparkplug_edge_node, ncmd_rebirth_and_dcmd_writes_by_name_or_alias) {
    const auto n = node();
    auto c = n.command("spBv1.0/plant1/NCMD/gw1", encode(command_payload({named("Node Control/Rebirth", true)})));
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->rebirth);
    c = n.command("spBv1.0/plant1/NCMD/gw1", encode(command_payload({named("Node Control/Reboot", true)})));
    EXPECT_FALSE(c->rebirth);
    EXPECT_EQ(c->refused.size(), 1u);

    metric by_alias;
    by_alias.alias = n.alias(1, 0);
    by_alias.value = std::uint32_t{0xFFFFFFFB};  // Int16 -5
    c = n.command("spBv1.0/plant1/DCMD/gw1/m2", encode(command_payload({by_alias})));
    ASSERT_EQ(c->writes.size(), 1u);
    EXPECT_EQ(c->writes[0].device, 1u);
    EXPECT_EQ(c->writes[0].metric, 0u);
    c = n.command("spBv1.0/plant1/DCMD/gw1/m1",
                  encode(command_payload({named("relay", true), named("voltage", 1.0f), named("nope", true),
                                          named("relay", null_value{})})));
    ASSERT_EQ(c->writes.size(), 1u);
    EXPECT_EQ(c->writes[0].metric, 2u);
    ASSERT_EQ(c->refused.size(), 3u);
    EXPECT_NE(c->refused[0].find("voltage: not writable"), std::string::npos) << c->refused[0];
    EXPECT_NE(c->refused[1].find("nope: no such metric"), std::string::npos) << c->refused[1];
    EXPECT_NE(c->refused[2].find("relay: no value"), std::string::npos) << c->refused[2];

    c = n.command("spBv1.0/plant1/DCMD/gw1/m9", encode(command_payload({named("relay", true)})));
    EXPECT_EQ(c->refused.size(), 1u);
    c = n.command("spBv1.0/plant1/DCMD/gw1/m1", "\x12\x40");
    EXPECT_NE(c->refused.at(0).find("does not decode"), std::string::npos);
    EXPECT_FALSE(n.command("spBv1.0/plant1/NCMD/other", "")) << "another node's";
    EXPECT_FALSE(n.command("fieldbridge/m1/relay/set", ""));
}

// A reload replaces the node within the MQTT session: every metric it keeps
// (device and metric names) keeps its alias, a new one gets a number no
// metric had, and a taken-out metric's alias names nothing. A host that
// sends a DCMD by alias before it has the reload's births writes the metric
// it meant, or none; it was the metric after it (the aliases numbered on).
// Over random reloads (metrics and devices added, taken out, reordered),
// checked against what every node of the chain bound.
TEST(sparkplug_edge_node, a_reload_keeps_every_kept_metrics_alias_and_never_gives_an_old_one_to_another) {
    const auto dcmd_by_alias = [](const edge_node& n, const std::string& device, std::uint64_t alias) {
        metric m;
        m.alias = alias;
        m.value = true;
        return n.command("spBv1.0/plant1/DCMD/gw1/" + device, encode(command_payload({m})));
    };
    // The example: m1's "voltage" taken out, a metric added before "relay".
    auto before = node();
    auto changed = plant();
    changed[0].metrics.erase(changed[0].metrics.begin());
    changed[0].metrics.insert(changed[0].metrics.begin() + 1,
                              metric_definition{"power", data_type::float32, "W", true});
    const edge_node after(edge_node_settings{"plant1", "gw1"}, changed, &before);
    EXPECT_EQ(after.alias(0, 0), before.alias(0, 1));  // energy
    EXPECT_EQ(after.alias(0, 2), before.alias(0, 2));  // relay
    EXPECT_EQ(after.alias(1, 0), before.alias(1, 0));  // m2's setpoint
    EXPECT_GT(after.alias(0, 1), before.alias(1, 0)) << "power: a number never given";
    auto c = dcmd_by_alias(after, "m1", before.alias(0, 2));
    ASSERT_EQ(c->writes.size(), 1u);
    EXPECT_EQ(after.device(0).metrics[c->writes[0].metric].name, "relay");
    c = dcmd_by_alias(after, "m1", before.alias(0, 0));  // voltage, taken out
    EXPECT_TRUE(c->writes.empty());
    ASSERT_EQ(c->refused.size(), 1u);
    EXPECT_NE(c->refused[0].find("no such metric"), std::string::npos) << c->refused[0];

    // Random chains of reloads.
    for (unsigned seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng(seed);
        std::map<std::pair<std::string, std::string>, std::uint64_t> bound;  // every alias ever given
        std::map<std::uint64_t, std::pair<std::string, std::string>> owner;
        std::vector<device_definition> devices = plant();
        std::unique_ptr<edge_node> n = std::make_unique<edge_node>(edge_node_settings{"plant1", "gw1"}, devices);
        int fresh = 0;
        for (int step = 0; step < 12; ++step) {
            const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
            for (std::size_t d = 0; d < devices.size(); ++d) {
                for (std::size_t k = 0; k < devices[d].metrics.size(); ++k) {
                    const auto key = std::make_pair(devices[d].name, devices[d].metrics[k].name);
                    const auto alias = n->alias(d, k);
                    const auto [it, first] = bound.emplace(key, alias);
                    ASSERT_EQ(it->second, alias) << where << ": " << key.first << "/" << key.second << " renumbered";
                    const auto [o, unused] = owner.emplace(alias, key);
                    ASSERT_EQ(o->second, key) << where << ": alias " << alias << " given again";
                    if (first) continue;
                    const auto found = n->command("spBv1.0/plant1/DCMD/gw1/" + devices[d].name, [&] {
                        metric m;
                        m.alias = alias;
                        m.value = true;
                        return encode(command_payload({m}));
                    }());
                    const bool writes = !found->writes.empty() && found->writes[0].metric == k;
                    const bool refused_as_read_only =
                        !found->refused.empty() && found->refused[0].find("not writable") != std::string::npos;
                    ASSERT_TRUE(writes || refused_as_read_only) << where << ": alias " << alias;
                }
            }
            // The next configuration.
            auto next = devices;
            for (auto& d : next) {
                if (rng() % 3 == 0 && !d.metrics.empty()) {
                    d.metrics.erase(d.metrics.begin() + static_cast<long>(rng() % d.metrics.size()));
                }
                if (rng() % 3 == 0) {
                    const auto at = d.metrics.begin() + static_cast<long>(rng() % (d.metrics.size() + 1));
                    d.metrics.insert(at,
                                     metric_definition{"new" + std::to_string(fresh++), data_type::boolean, "", true});
                }
                if (rng() % 4 == 0) std::shuffle(d.metrics.begin(), d.metrics.end(), rng);
            }
            if (rng() % 4 == 0) {
                next.push_back(device_definition{"d" + std::to_string(fresh++),
                                                 {metric_definition{"x", data_type::boolean, "", true}}});
            }
            if (rng() % 5 == 0 && next.size() > 1) next.erase(next.begin());
            auto replaced = std::make_unique<edge_node>(edge_node_settings{"plant1", "gw1"}, next, n.get());
            n = std::move(replaced);
            devices = std::move(next);
        }
    }
}

// A DCMD's device is found by its name among many (the names sorted once),
// as a plain search of the definitions does: names that are prefixes of
// others, in no order, and names of no device.
TEST(sparkplug_edge_node, a_dcmd_finds_its_device_among_many_as_a_plain_search_does) {
    std::mt19937_64 random(11);
    std::vector<device_definition> devices;
    std::vector<std::string> names;
    for (int d = 0; d < 300; ++d) names.push_back("m" + std::to_string(d * 7 % 300));
    names.push_back("m");
    std::shuffle(names.begin(), names.end(), random);
    for (const auto& name : names) devices.push_back(device_definition{name, {{"v", data_type::int32, "", true}}});
    const edge_node n(edge_node_settings{"plant1", "gw1"}, devices);
    for (int round = 0; round < 1000; ++round) {
        const auto name = random() % 2 == 0 ? names[random() % names.size()] : "m" + std::to_string(random() % 400);
        const auto c =
            n.command("spBv1.0/plant1/DCMD/gw1/" + name, encode(command_payload({named("v", std::uint32_t{1})})));
        ASSERT_TRUE(c);
        const auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end()) {
            ASSERT_TRUE(c->writes.empty()) << name;
            ASSERT_EQ(c->refused.size(), 1u) << name;
            continue;
        }
        ASSERT_EQ(c->writes.size(), 1u) << name;
        EXPECT_EQ(c->writes[0].device, static_cast<std::size_t>(it - names.begin())) << name;
    }
}

// A DCMD finds its metrics by name, in point order (the name after the
// last one found) or in any other (the device's names sorted once), as a
// plain search of the definitions does: random DCMDs of few or many names
// against a device of 60 metrics.
TEST(sparkplug_edge_node, a_dcmd_of_few_or_many_names_finds_each_as_a_plain_search_does) {
    std::vector<metric_definition> metrics;
    for (int k = 0; k < 60; ++k) {
        metrics.push_back(
            metric_definition{"p" + std::to_string((k * 37) % 60), data_type::int32, "", k % 3 != 0});
    }
    const edge_node n(edge_node_settings{"plant1", "gw1"}, {device_definition{"big", metrics}});
    std::mt19937_64 random(7);
    for (int round = 0; round < 2000; ++round) {
        std::vector<metric> asked;
        const auto count = 1 + random() % 40;
        for (std::size_t i = 0; i < count; ++i) {
            asked.push_back(named("p" + std::to_string(random() % 70), std::uint32_t{1}));  // p60..p69: none
        }
        const auto c = n.command("spBv1.0/plant1/DCMD/gw1/big", encode(command_payload(asked)));
        ASSERT_TRUE(c);
        std::vector<std::size_t> expected;
        for (const auto& m : asked) {
            const auto it = std::find_if(metrics.begin(), metrics.end(),
                                         [&](const metric_definition& d) { return d.name == *m.name; });
            if (it != metrics.end() && it->writable)
                expected.push_back(static_cast<std::size_t>(it - metrics.begin()));
        }
        std::vector<std::size_t> found;
        for (const auto& w : c->writes)
            found.push_back(w.metric);
        ASSERT_EQ(found, expected) << "round " << round << ", " << count << " names";
        ASSERT_EQ(c->refused.size(), asked.size() - expected.size()) << "round " << round;
    }
}

// Every metric of a command is decoded (a few hundred bytes each) and may
// cost a refusal message: one of more than max_command_metrics is refused
// whole, before it is decoded.
TEST(sparkplug_edge_node, a_command_of_more_than_max_command_metrics_is_refused_whole) {
    const auto n = node();
    std::vector<metric> asked(max_command_metrics, named("relay", true));
    auto c = n.command("spBv1.0/plant1/DCMD/gw1/m1", encode(command_payload(asked)));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->writes.size(), max_command_metrics);
    asked.push_back(named("relay", true));
    for (const auto* topic : {"spBv1.0/plant1/DCMD/gw1/m1", "spBv1.0/plant1/NCMD/gw1"}) {
        c = n.command(topic, encode(command_payload(asked)));
        ASSERT_TRUE(c);
        EXPECT_TRUE(c->writes.empty()) << topic;
        EXPECT_FALSE(c->rebirth);
        ASSERT_EQ(c->refused.size(), 1u) << topic;
        EXPECT_NE(c->refused[0].find(std::to_string(max_command_metrics + 1) + " metrics; at most " +
                                     std::to_string(max_command_metrics)),
                  std::string::npos)
            << c->refused[0];
    }
}

// ---- the model test ----

wire_value random_value(std::mt19937_64& r, data_type t) {
    if (r() % 5 == 0) return null_value{};
    switch (t) {
        case data_type::boolean: return r() % 2 == 0;
        case data_type::float32: return static_cast<float>(r() % 1000) / 4.0f;
        default: return static_cast<std::uint32_t>(r() % 70000);
    }
}

// The seeds to run: FIELDBRIDGE_SPARKPLUG_SEED alone, else 1 to
// FIELDBRIDGE_SPARKPLUG_SEEDS (2000).
std::pair<std::uint64_t, std::uint64_t> seed_range() {
    return fieldbridge::testing::seed_range("FIELDBRIDGE_SPARKPLUG", 2000);
}

struct model {
    explicit model(const edge_node& n) : online(n.device_count(), false) {
        for (std::size_t d = 0; d < n.device_count(); ++d) {
            latest.emplace_back(n.device(d).metrics.size(), null_value{});
            known.emplace_back(n.device(d).metrics.size(), false);
        }
    }

    // A poll of device d: about two thirds of its metrics with new readings
    // (a fifth of them bad), kept here as the latest.
    std::vector<metric_update> poll(std::mt19937_64& r, const edge_node& n, std::size_t d, std::uint64_t now) {
        std::vector<metric_update> updates;
        for (std::size_t k = 0; k < n.device(d).metrics.size(); ++k) {
            if (r() % 3 == 0) continue;
            const auto v = random_value(r, n.device(d).metrics[k].type);
            updates.push_back(metric_update{k, v, now, false});
            latest[d][k] = v;
            known[d][k] = true;
        }
        return updates;
    }

    std::vector<bool> online;
    std::vector<std::vector<wire_value>> latest;
    std::vector<std::vector<bool>> known;  // read at least once: a null is then a bad reading
};

TEST(sparkplug_edge_node, a_host_sees_a_valid_session_that_agrees_with_the_model_over_random_sequences) {
    const auto [first, last] = seed_range();
    for (std::uint64_t seed = first; seed <= last; ++seed) {
        std::mt19937_64 r(seed);
        auto n = node();
        host_view host;
        model m(n);
        bool connected = false;
        std::uint64_t now = 1000;
        const auto publish = [&](const mqtt::message& msg) {
            if (connected) host.receive(msg.topic, msg.payload);
        };
        std::string trace;
        for (int step = 0; step < 300; ++step) {
            now += r() % 1000;
            const auto event = r() % 20;
            if (event == 0 && !connected) {
                trace += " connect";
                host.will_registered(n.will(now).payload);
                connected = true;
                for (const auto& msg : n.births(now)) publish(msg);
            } else if (event == 1 && connected) {
                trace += " lost";
                const auto will = n.will(now);
                connected = false;
                n.session_ended();
                host.receive(will.topic, will.payload);  // the broker delivers the Will
            } else if (event == 2 && connected) {
                trace += " rebirth";
                const auto c = n.command(n.topic(message_type::ncmd),
                                         encode(command_payload({named(std::string(rebirth_metric), true)})));
                ASSERT_TRUE(c && c->rebirth);
                for (const auto& msg : n.births(now)) publish(msg);
            } else if (event < 6) {
                const auto d = static_cast<std::size_t>(r() % n.device_count());
                const bool up = r() % 2 == 0;
                trace += up ? " up" : " down";
                m.online[d] = up;
                const auto msg = up ? n.device_online(d, now) : n.device_offline(d, now);
                if (msg) publish(*msg);
            } else {
                const auto d = static_cast<std::size_t>(r() % n.device_count());
                const auto updates = m.poll(r, n, d, now);
                trace += " poll";
                if (const auto msg = n.data(d, updates, now)) publish(*msg);
            }
            const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step) + ":" +
                                      trace.substr(trace.size() > 200 ? trace.size() - 200 : 0);
            ASSERT_TRUE(host.violations().empty()) << where << "\n" << host.violations().front();
            ASSERT_EQ(host.node_alive(), connected) << where;
            if (!connected) continue;
            for (std::size_t d = 0; d < n.device_count(); ++d) {
                const auto it = host.devices().find(n.device(d).name);
                const bool alive = it != host.devices().end() && it->second.alive;
                ASSERT_EQ(alive, static_cast<bool>(m.online[d])) << where << " device " << d;
                if (!alive) continue;
                for (std::size_t k = 0; k < n.device(d).metrics.size(); ++k) {
                    const auto& name = n.device(d).metrics[k].name;
                    ASSERT_EQ(it->second.values.at(name), m.latest[d][k]) << where << " " << name;
                    ASSERT_EQ(it->second.bad.at(name),
                              m.known[d][k] && std::holds_alternative<null_value>(m.latest[d][k]))
                        << where << " " << name << ": Quality 0 exactly for a bad reading";
                }
            }
        }
    }
}

}  // namespace
}  // namespace fieldbridge::sparkplug

namespace fieldbridge::sparkplug {
namespace {

// The service's path (stored_data() into a store, hand_over() as messages
// leave it, in order, while connected): random connections, losses,
// rebirths, device changes, polls and hand-overs. At every step the host
// sees a valid session — seq without a gap across births and stored data, no
// current value older than the one it shows; when all is handed over after a
// last connection, it shows exactly the latest readings and has received
// every DDATA produced. A stored DDATA waits while its device has no DBIRTH
// in the session (edge_node::ready), so the host never sees a DDATA of a
// device it does not have alive [payloads-dbirth-order].
TEST(sparkplug_edge_node, the_stored_path_keeps_seq_history_and_every_reading_over_random_sequences) {
    const auto [first, last] = seed_range();
    for (std::uint64_t seed = first; seed <= last; ++seed) {
        std::mt19937_64 r(seed);
        auto n = node();
        host_view host;
        model m(n);
        std::deque<mqtt::message> store;
        std::size_t produced = 0;
        bool connected = false;
        std::uint64_t now = 1000;
        std::string trace;
        const auto connect = [&] {
            trace += " connect";
            host.will_registered(n.will(now).payload);
            connected = true;
            for (const auto& msg : n.births(now)) host.receive(msg.topic, msg.payload);
        };
        // As the forwarder does: the first `count` stored messages that are
        // ready, in order; the others stay.
        const auto hand = [&](std::size_t count) {
            for (auto it = store.begin(); count > 0 && it != store.end();) {
                if (!n.ready(*it)) {
                    ++it;
                    continue;
                }
                const auto msg = n.hand_over(*it, now);
                it = store.erase(it);
                --count;
                host.receive(msg.topic, msg.payload);
                // [tck-id-topics-ddata-timestamp]: stamped when sent.
                ASSERT_EQ(decoded(msg).timestamp, now) << msg.topic;
            }
        };
        const auto where = [&](int step) {
            return "seed " + std::to_string(seed) + " step " + std::to_string(step) + ":" +
                   trace.substr(trace.size() > 200 ? trace.size() - 200 : 0);
        };
        for (int step = 0; step < 300; ++step) {
            now += r() % 500;
            const auto event = r() % 20;
            if (event == 0 && !connected) {
                connect();
            } else if (event == 1 && connected) {
                trace += " lost";
                const auto will = n.will(now);
                connected = false;
                n.session_ended();
                host.receive(will.topic, will.payload);
            } else if (event == 2 && connected) {
                trace += " rebirth";
                for (const auto& msg : n.births(now)) host.receive(msg.topic, msg.payload);
            } else if (event < 5) {
                const auto d = static_cast<std::size_t>(r() % n.device_count());
                const bool up = r() % 2 == 0;
                trace += up ? " up" : " down";
                m.online[d] = up;
                const auto msg = up ? n.device_online(d, now) : n.device_offline(d, now);
                if (msg && connected) host.receive(msg->topic, msg->payload);
            } else if (event < 9 && connected) {
                trace += " hand";
                hand(r() % 4);
            } else {
                const auto d = static_cast<std::size_t>(r() % n.device_count());
                const auto updates = m.poll(r, n, d, now);
                trace += " poll";
                if (auto msg = n.stored_data(d, updates, now)) {
                    ASSERT_TRUE(m.online[d]) << where(step) << ": DDATA stored for an offline device";
                    store.push_back(std::move(*msg));
                    ++produced;
                }
            }
            ASSERT_TRUE(host.violations().empty()) << where(step) << "\n" << host.violations().front();
            ASSERT_EQ(host.node_alive(), connected) << where(step);
        }
        if (!connected) connect();
        hand(store.size());
        // What waits is of devices offline now: it goes once they are back.
        for (const auto& msg : store) ASSERT_FALSE(n.ready(msg)) << where(300) << ": " << msg.topic << " left waiting";
        for (std::size_t d = 0; d < n.device_count(); ++d) {
            if (m.online[d]) continue;
            m.online[d] = true;
            if (const auto msg = n.device_online(d, now)) host.receive(msg->topic, msg->payload);
        }
        hand(store.size());
        ASSERT_TRUE(store.empty()) << where(300);
        ASSERT_TRUE(host.violations().empty()) << where(300) << "\n" << host.violations().front();
        std::size_t received = 0;
        for (std::size_t d = 0; d < n.device_count(); ++d) {
            const auto it = host.devices().find(n.device(d).name);
            if (it != host.devices().end()) received += it->second.data;
            const bool alive = it != host.devices().end() && it->second.alive;
            ASSERT_EQ(alive, static_cast<bool>(m.online[d])) << where(300) << " device " << d;
            if (!alive) continue;
            for (std::size_t k = 0; k < n.device(d).metrics.size(); ++k) {
                const auto& name = n.device(d).metrics[k].name;
                ASSERT_EQ(it->second.values.at(name), m.latest[d][k]) << where(300) << " " << name;
            }
        }
        ASSERT_EQ(received, produced) << where(300) << ": every stored DDATA reaches the host";
    }
}

}  // namespace
}  // namespace fieldbridge::sparkplug
