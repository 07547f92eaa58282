// `fieldbridge run` with publish.format: sparkplug against a real mosquitto
// and the simulated meter, seen by the host simulator (tests/sparkplug):
// NBIRTH and a complete DBIRTH, DDATA by alias with seq running on without a
// gap [topics-dbirth-seq], a rebirth asked by NCMD, a DCMD write that reaches
// the device and comes back as DDATA, the device offline -> DDEATH and back
// -> DBIRTH, an uplink outage -> the broker delivers the Will (NDEATH), the
// next connection is born with the next bdSeq and the readings of the outage
// arrive as is_historical metrics, and a killed gateway -> NDEATH, a restarted
// one -> the next bdSeq again (kept in the store).
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <chrono>

#include "tests/mqtt/client_harness.hpp"
#include "tests/sparkplug/host_simulator.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/modbus_master.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using mqtt::test_harness::options_for;
using mqtt::test_harness::run_until;
using sparkplug::data_type;
using sparkplug::wire_value;
using sparkplug::testing::host_simulator;
using testing::gateway_rig;
using testing::point_spec;

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// A gateway (through the proxy, which can cut its uplink) with one meter,
// and a host application on the broker directly.
struct sparkplug_rig {
    gateway_rig rig{gateway_rig::options{{}, true}};
    boost::asio::io_context io;
    std::unique_ptr<host_simulator> host;

    sparkplug_rig() {
        rig.config.client_id("spb-gw").heartbeat("1s");
        rig.config.mqtt().set("keepalive", "2s").set("reconnect", testing::yaml_map().set("min", "50ms").set("max", "200ms"));
        rig.config.publish().set("format", "sparkplug");
        rig.config.sparkplug().set("group_id", "plant1").set("edge_node_id", "gw1");
        rig.config.profile("meter", {
                                        point_spec("voltage", "input", 0, "float32").unit("V").simulate_constant(229.5),
                                        point_spec("energy", "holding", 10, "uint32").simulate_constant(123456),
                                        point_spec("relay", "coil", 3, "bool").writable(),
                                    });
        rig.config.tcp_bus("line", rig.modbus_port());
        rig.config.device("m1").bus("line").unit_id(3).profile("meter").poll_interval("200ms").timeout("200ms").set(
            "offline_after", 2);
        host = std::make_unique<host_simulator>(io.get_executor(), options_for(rig.broker(), "host"), "plant1");
        host->start();
    }

    const sparkplug::testing::host_view& view() const { return host->view(); }
    bool until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
        return run_until(io, pred, timeout);
    }
    bool device_alive() const { return view().devices().count("m1") > 0 && view().devices().at("m1").alive; }
    const sparkplug::testing::host_view::device_view& m1() const { return view().devices().at("m1"); }
    std::string violations() const {
        std::string out;
        for (const auto& v : view().violations()) out += v + "\n";
        return out;
    }
};

TEST(sparkplug_gateway, births_data_rebirth_and_a_dcmd_write_reach_a_host) {
    sparkplug_rig s;
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();

    // [payloads-nbirth-bdseq] the first connection of a new store: bdSeq 0;
    // the DBIRTH names every point with its datatype and value.
    ASSERT_TRUE(s.until([&] { return s.device_alive() && s.m1().values.count("voltage") &&
                                     s.m1().values.at("voltage") == wire_value{229.5f}; }))
        << gw.output() << s.violations();
    EXPECT_EQ(s.view().bdseq(), 0u);
    EXPECT_EQ(s.m1().types.at("voltage"), data_type::float32);
    EXPECT_EQ(s.m1().types.at("energy"), data_type::uint32);
    EXPECT_EQ(s.m1().types.at("relay"), data_type::boolean);

    // Heartbeats every second: DDATA by alias, seq without a gap.
    const auto data_before = s.m1().data;
    ASSERT_TRUE(s.until([&] { return s.m1().data >= data_before + 3; })) << gw.output();
    EXPECT_EQ(s.m1().values.at("energy"), wire_value{std::uint32_t{123456}});

    // NCMD Node Control/Rebirth: a new NBIRTH (seq 0, same bdSeq) and DBIRTH.
    sparkplug::payload rebirth;
    sparkplug::metric r;
    r.name = std::string(sparkplug::rebirth_metric);
    r.datatype = data_type::boolean;
    r.value = true;
    rebirth.metrics.push_back(r);
    const auto births_before = s.m1().births;
    s.host->send("spBv1.0/plant1/NCMD/gw1", rebirth);
    ASSERT_TRUE(s.until([&] { return s.view().node_births() == 2 && s.m1().births == births_before + 1; }))
        << gw.output() << s.violations();
    EXPECT_EQ(s.view().bdseq(), 0u) << "a rebirth keeps the connection's bdSeq";

    // DCMD relay = true, by name: written to the coil, read back as DDATA.
    sparkplug::payload write;
    sparkplug::metric w;
    w.name = "relay";
    w.datatype = data_type::boolean;
    w.value = true;
    write.metrics.push_back(w);
    s.host->send("spBv1.0/plant1/DCMD/gw1/m1", write);
    ASSERT_TRUE(s.until([&] { return s.m1().values.at("relay") == wire_value{true}; })) << gw.output();
    EXPECT_EQ(testing::read_coils(s.rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{1}));

    // A DCMD the gateway refuses (no such metric, a text for a number): no
    // write, counted as refused commands.
    sparkplug::payload bad;
    sparkplug::metric b1;
    b1.name = "nonesuch";
    b1.value = true;
    sparkplug::metric b2;
    b2.name = "energy";
    b2.value = std::string("lots");
    bad.metrics = {b1, b2};
    s.host->send("spBv1.0/plant1/DCMD/gw1/m1", bad);
    EXPECT_TRUE(s.until([&] { return s.rig.status_number("commands", "refused") >= 2; }, 10s))
        << s.rig.status().output;

    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
    EXPECT_TRUE(gw.running()) << gw.output();
}

// commands.enabled: false: a DCMD writes nothing (refused, counted); NCMD (a
// rebirth) still works.
TEST(sparkplug_gateway, with_commands_disabled_a_dcmd_writes_nothing) {
    sparkplug_rig s;
    s.rig.config.commands().set("enabled", false);
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    // A second heartbeat: the births are more than a second old, so a
    // rebirth request is answered.
    ASSERT_TRUE(s.until([&] { return s.device_alive() && s.m1().data >= 2; })) << gw.output();

    sparkplug::payload write;
    sparkplug::metric w;
    w.name = "relay";
    w.value = true;
    write.metrics.push_back(w);
    s.host->send("spBv1.0/plant1/DCMD/gw1/m1", write);
    sparkplug::payload rebirth;
    sparkplug::metric r;
    r.name = std::string(sparkplug::rebirth_metric);
    r.value = true;
    rebirth.metrics.push_back(r);
    s.host->send("spBv1.0/plant1/NCMD/gw1", rebirth);
    ASSERT_TRUE(s.until([&] { return s.view().node_births() == 2; })) << gw.output();
    EXPECT_EQ(testing::read_coils(s.rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{0}));
    EXPECT_EQ(s.rig.status_number("commands", "refused"), 1);
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

// A retained DCMD is delivered again to every new subscription (each
// connection, Sparkplug sessions being clean): ignored and counted, as a
// retained JSON command is, unless commands.accept_retained.
TEST(sparkplug_gateway, a_retained_dcmd_is_ignored) {
    sparkplug_rig s;
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    sparkplug::metric on;
    on.name = "relay";
    on.value = true;
    sparkplug::payload write;
    write.metrics.push_back(on);
    bool published = false;
    s.host->client().publish(mqtt::message{"spBv1.0/plant1/DCMD/gw1/m1", sparkplug::encode(write),
                                           mqtt::qos::at_least_once, true},
                             [&](std::error_code) { published = true; });
    ASSERT_TRUE(s.until([&] { return published; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    ASSERT_TRUE(s.until([&] { return s.device_alive(); })) << gw.output();
    ASSERT_TRUE(s.until([&] { return s.rig.status_number("commands", "retained_ignored") == 1; }, 10s))
        << s.rig.status().output;
    EXPECT_EQ(testing::read_coils(s.rig.modbus_port(), 3, 3, 1), (std::vector<std::uint16_t>{0}));
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

TEST(sparkplug_gateway, a_device_offline_is_a_ddeath_and_back_a_dbirth) {
    sparkplug_rig s;
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    ASSERT_TRUE(s.until([&] { return s.device_alive(); })) << gw.output();

    s.rig.kill_simulator();
    ASSERT_TRUE(s.until([&] { return s.m1().deaths == 1 && !s.device_alive(); })) << gw.output() << s.violations();
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    ASSERT_TRUE(s.until([&] { return s.device_alive() && s.m1().births == 2; })) << gw.output() << s.violations();
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

// A reload that changes the point list: a rebirth within the connection
// (same bdSeq), the DBIRTH naming the new point, DDATA by its alias.
TEST(sparkplug_gateway, a_reload_with_another_point_list_is_a_rebirth) {
    sparkplug_rig s;
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    ASSERT_TRUE(s.until([&] { return s.device_alive(); })) << gw.output();
    ASSERT_EQ(s.view().node_births(), 1u);

    s.rig.config.profile("meter", {
                                      point_spec("energy", "holding", 10, "uint32").simulate_constant(123456),
                                      point_spec("voltage", "input", 0, "float32").unit("V").simulate_constant(229.5),
                                  });
    s.rig.write_config();
    gw.signal(SIGHUP);
    ASSERT_TRUE(s.until([&] { return s.view().node_births() == 2 && s.device_alive(); })) << gw.output();
    EXPECT_EQ(s.view().bdseq(), 0u);
    EXPECT_EQ(s.m1().types.count("relay"), 1u) << "known from the first birth";
    EXPECT_EQ(s.m1().names.size(), 2u) << "the second DBIRTH binds two aliases";
    EXPECT_EQ(s.m1().names.at(1), "voltage") << "each metric the reload keeps keeps its alias";
    EXPECT_EQ(s.m1().names.at(2), "energy");
    ASSERT_TRUE(s.until([&] { return s.m1().values.at("energy") == wire_value{std::uint32_t{123456}}; }))
        << gw.output() << s.violations();
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

// A reload that takes a born device out: its DDEATH before the rebirth (whose
// births do not name it), so that a host does not keep it alive with its
// last values; the device that stays is born again and alive.
TEST(sparkplug_gateway, a_reload_that_takes_a_device_out_says_its_ddeath) {
    sparkplug_rig s;
    s.rig.config.device("m2").bus("line").unit_id(4).profile("meter").poll_interval("200ms").timeout("200ms");
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    const auto m2_alive = [&] { return s.view().devices().count("m2") > 0 && s.view().devices().at("m2").alive; };
    ASSERT_TRUE(s.until([&] { return s.device_alive() && m2_alive(); })) << gw.output();

    s.rig.config.remove_device("m2");
    s.rig.write_config();
    gw.signal(SIGHUP);
    ASSERT_TRUE(s.until([&] { return s.view().node_births() == 2 && s.device_alive(); })) << gw.output();
    EXPECT_FALSE(m2_alive()) << "the host still has m2 alive";
    EXPECT_EQ(s.view().devices().at("m2").deaths, 1u);
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

TEST(sparkplug_gateway, an_outage_ends_in_the_will_and_the_next_session_brings_its_readings_as_history) {
    sparkplug_rig s;
    s.rig.config.device("m1").set("poll_interval", "100ms");
    // A value that changes with every poll, so that each poll is published.
    s.rig.config.profile("meter", {point_spec("level", "input", 0, "float32").simulate_ramp(0, 1000, "10s")});
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    ASSERT_TRUE(s.until([&] { return s.device_alive() && s.m1().data > 3; })) << gw.output();

    // The uplink stalls, then is cut: the broker delivers the Will (NDEATH of bdSeq 0).
    s.rig.proxy().stall();
    s.rig.proxy().cut();
    const auto cut_at = now_ms();
    ASSERT_TRUE(s.until([&] { return s.view().node_deaths() == 1 && !s.view().node_alive(); })) << gw.output();
    // Two seconds of readings wait in the store while no host can see them.
    s.until([] { return false; }, 2s);
    const auto resumed_at = now_ms();
    s.rig.proxy().resume();

    // The next connection: bdSeq 1, births with the present, then the
    // outage's readings as history.
    ASSERT_TRUE(s.until([&] {
        return s.view().node_alive() && s.view().bdseq() == 1u && s.device_alive() &&
               std::count_if(s.m1().historical.begin(), s.m1().historical.end(),
                             [&](std::uint64_t t) { return t > cut_at + 500 && t < resumed_at; }) >= 5;
    })) << gw.output() << s.violations();
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();

    // Killed: the broker says NDEATH; restarted: bdSeq 2, from the store.
    const auto deaths = s.view().node_deaths();
    s.rig.kill_gateway();
    ASSERT_TRUE(s.until([&] { return s.view().node_deaths() == deaths + 1; })) << s.violations();
    s.rig.start_gateway();
    ASSERT_TRUE(s.until([&] { return s.view().node_alive() && s.view().bdseq() == 2u && s.device_alive(); }))
        << s.rig.gateway().output() << s.violations();
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

// sparkplug.primary_host_id: nothing is published until the host's STATE
// says online [tck-id-message-flow-edge-node-birth-publish-phid-wait], the
// readings meanwhile wait in the store and follow the births as history;
// STATE offline -> the gateway publishes NDEATH and reconnects, publishing
// nothing until online again, then births with the next bdSeq.
TEST(sparkplug_gateway, with_a_primary_host_data_waits_in_the_store_until_its_state_is_online) {
    sparkplug_rig s;
    s.rig.config.sparkplug().set("primary_host_id", "scada1");
    s.rig.config.profile("meter", {point_spec("level", "input", 0, "float32").simulate_ramp(0, 1000, "10s")});
    s.rig.config.device("m1").set("poll_interval", "100ms");
    ASSERT_TRUE(s.until([&] { return s.host->client().state() == mqtt::link_state::connected; }, 10s));
    ASSERT_TRUE(s.rig.start_simulator()) << s.rig.simulator().output();
    auto& gw = s.rig.start_gateway();
    const auto state = [&](bool online) {
        return s.rig.publish("spBv1.0/STATE/scada1",
                             std::string(R"({"online":)") + (online ? "true" : "false") + R"(,"timestamp":)" +
                                 std::to_string(now_ms()) + "}",
                             true);
    };

    // No STATE yet: connected, polling, storing, publishing nothing.
    ASSERT_TRUE(s.until([&] { return s.rig.queued_rows() >= 10; })) << gw.output();
    EXPECT_EQ(s.view().messages(), 0u) << "nothing before the primary host is online";
    const auto stored_until = now_ms();
    // `fieldbridge status` says why nothing goes out.
    auto status = s.rig.status();
    ASSERT_TRUE(status.json.contains("sparkplug")) << status.output;
    EXPECT_EQ(status.json.at("sparkplug").at("born"), false);
    EXPECT_EQ(status.json.at("sparkplug").at("primary_host"), "scada1");
    EXPECT_EQ(status.json.at("sparkplug").at("primary_host_online"), false);
    EXPECT_NE(s.rig.status({}).output.find("primary host scada1 offline or unknown: births and data wait"),
              std::string::npos);

    ASSERT_TRUE(state(true));
    ASSERT_TRUE(s.until([&] {
        return s.view().node_alive() && s.device_alive() &&
               std::count_if(s.m1().historical.begin(), s.m1().historical.end(),
                             [&](std::uint64_t t) { return t < stored_until; }) >= 8;
    })) << gw.output() << s.violations() << s.view().messages() << " messages, node alive " << s.view().node_alive()
        << ", " << (s.view().devices().count("m1") ? s.m1().historical.size() : 0) << " historical, rows "
        << s.rig.queued_rows();
    EXPECT_EQ(s.view().bdseq(), 0u);
    status = s.rig.status();
    EXPECT_EQ(status.json.at("sparkplug").at("born"), true) << status.output;
    EXPECT_EQ(status.json.at("sparkplug").at("primary_host_online"), true);
    const auto live = s.m1().data;
    ASSERT_TRUE(s.until([&] { return s.m1().data > live + 5; })) << "live data follows";

    // Offline: NDEATH from the gateway (and the broker's Will as the link
    // drops without DISCONNECT: the same bdSeq, a repeat), then silence
    // while readings are stored.
    ASSERT_TRUE(state(false));
    ASSERT_TRUE(s.until([&] { return s.view().node_deaths() >= 1 && !s.view().node_alive(); })) << gw.output();
    ASSERT_TRUE(s.until([&] { return s.rig.queued_rows() >= 10; })) << gw.output();
    const auto seen = s.view().messages();
    s.until([] { return false; }, 500ms);
    EXPECT_EQ(s.view().messages(), seen) << "nothing while the primary host is offline";

    ASSERT_TRUE(state(true));
    ASSERT_TRUE(s.until([&] { return s.view().node_alive() && s.view().bdseq() == 1u && s.device_alive(); }))
        << gw.output() << s.violations();
    ASSERT_TRUE(s.until([&] { return s.rig.queued_rows() < 5; })) << "the backlog drains";
    EXPECT_TRUE(s.view().violations().empty()) << s.violations();
}

}  // namespace
}  // namespace fieldbridge
