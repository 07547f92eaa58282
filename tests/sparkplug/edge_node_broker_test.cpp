// The edge node's session through a real mosquitto, seen by a host
// simulator: births, data by alias, a rebirth asked by NCMD, and a lost
// connection — the broker delivers the NDEATH registered as the Will, and
// the next connection is born with the next bdSeq, its Will set before it
// connects (mqtt::client::set_will); a node that dies without a word is
// declared dead by its Will.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "sparkplug/edge_node.hpp"
#include "tests/mqtt/client_harness.hpp"
#include "tests/sparkplug/host_simulator.hpp"

namespace fieldbridge::sparkplug {
namespace {

using namespace std::chrono_literals;
using mqtt::test_harness::options_for;
using mqtt::test_harness::run_until;
using mqtt::test_harness::stop_and_wait;
using testing::host_simulator;

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

TEST(sparkplug_broker, births_data_rebirth_and_the_will_reach_a_host_through_mosquitto) {
    fieldbridge::testing::mosquitto_broker broker;
    boost::asio::io_context io;
    edge_node node(edge_node_settings{"plant1", "gw1"},
                   {device_definition{"m1",
                                      {metric_definition{"voltage", data_type::float32, "V", false},
                                       metric_definition{"relay", data_type::boolean, "", true}}}});

    host_simulator host(io.get_executor(), options_for(broker, "host"), "plant1");
    host.start();
    ASSERT_TRUE(run_until(io, [&] { return host.client().state() == mqtt::link_state::connected; }, 10s));

    auto o = options_for(broker, "gw1");
    o.clean_session = true;  // [principles-persistence-clean-session]
    o.reconnect_min = 10ms;
    o.reconnect_max = 20ms;
    const auto will = node.will(now_ms());
    o.will = mqtt::will_message{will.topic, will.payload, will.qos, will.retain, {}};
    auto edge_client = std::make_unique<mqtt::client>(io.get_executor(), o);
    auto& edge = *edge_client;
    bool rebirth_asked = false;
    for (const auto& filter : node.command_filters()) {
        edge.subscribe(filter, mqtt::qos::at_least_once, [&](const mqtt::message& m) {
            if (const auto c = node.command(m.topic, m.payload); c && c->rebirth) rebirth_asked = true;
        });
    }
    // Each connection: the view learns the Will, then the births go out.
    edge.on_link_state([&](mqtt::link_state s) {
        if (s != mqtt::link_state::connected) return;
        for (auto& m : node.births(now_ms())) edge.publish(std::move(m));
    });
    host.node_connects_with(will.payload);
    node.device_online(0, now_ms());
    edge.start();
    ASSERT_TRUE(run_until(io, [&] { return host.view().devices().count("m1") && host.view().devices().at("m1").alive; }, 10s))
        << broker.log();
    EXPECT_EQ(host.view().bdseq(), 0u);

    // Data by alias, resolved by the host through the DBIRTH.
    if (auto m = node.data(0, {metric_update{0, 229.5f, now_ms(), false}}, now_ms())) edge.publish(std::move(*m));
    ASSERT_TRUE(run_until(io, [&] { return host.view().devices().at("m1").data == 1; }, 10s));
    EXPECT_EQ(host.view().devices().at("m1").values.at("voltage"), wire_value{229.5f});

    // NCMD rebirth: a fresh NBIRTH (seq 0) and DBIRTH, same bdSeq.
    payload rebirth;
    metric r;
    r.name = std::string(rebirth_metric);
    r.datatype = data_type::boolean;
    r.value = true;
    rebirth.metrics.push_back(r);
    rebirth.timestamp = now_ms();
    host.send(node.topic(message_type::ncmd), rebirth);
    ASSERT_TRUE(run_until(io, [&] { return rebirth_asked; }, 10s));
    for (auto& m : node.births(now_ms())) edge.publish(std::move(m));
    ASSERT_TRUE(run_until(io, [&] { return host.view().node_births() == 2; }, 10s));
    EXPECT_EQ(host.view().devices().at("m1").values.at("voltage"), wire_value{229.5f}) << "the birth carries it";

    // The connection breaks: the broker publishes the NDEATH (bdSeq 0). The
    // next connection registers the next Will before it connects.
    node.session_ended();
    const auto next_will = node.will(now_ms());
    edge.set_will(mqtt::will_message{next_will.topic, next_will.payload, next_will.qos, next_will.retain, {}});
    host.node_connects_with(next_will.payload);
    edge.drop_link(make_error_code(std::errc::connection_reset));
    // The Will of the old connection may come before or after the new
    // births (the broker notices the closed socket on its own time); a host
    // takes a death whose bdSeq is not the current birth's as stale.
    ASSERT_TRUE(run_until(io, [&] { return host.view().node_births() == 3 && host.view().devices().at("m1").alive; }, 10s))
        << broker.log();
    EXPECT_EQ(host.view().bdseq(), 1u);
    EXPECT_TRUE(host.view().node_alive());
    EXPECT_TRUE(host.view().violations().empty()) << host.view().violations().front();

    // The node dies without a word (its socket closes, no DISCONNECT): the
    // broker delivers the current Will, bdSeq 1, and the host takes the
    // node and its devices for dead.
    edge_client.reset();
    ASSERT_TRUE(run_until(io, [&] { return !host.view().node_alive(); }, 10s)) << broker.log();
    EXPECT_FALSE(host.view().devices().at("m1").alive);
    EXPECT_GE(host.view().node_deaths(), 1u);
    EXPECT_TRUE(host.view().violations().empty()) << host.view().violations().front();

    bool host_stopped = false;
    host.stop([&] { host_stopped = true; });
    EXPECT_TRUE(run_until(io, [&] { return host_stopped; }, 10s));
}

}  // namespace
}  // namespace fieldbridge::sparkplug
