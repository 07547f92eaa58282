// The MQTT 3.1.1 client session as a pure state machine: events in,
// actions out. Tests are named after the behaviour and cite the normative
// statements they check.
#include "mqtt/session.hpp"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt/backoff.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/subscription_failure.hpp"
#include "tests/mqtt/session_actions.hpp"

namespace fieldbridge::mqtt {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0 = clock::time_point{} + 1000s;

session_options opts() {
    session_options o;
    o.client_id = "gw";
    o.keepalive = 10s;
    o.clean_session = false;
    return o;
}

message msg(std::string topic, qos q = qos::at_least_once) { return message{std::move(topic), "v", q, false}; }

// A session that has its CONNACK.
session connected(session_options o = opts(), bool session_present = false) {
    session s(std::move(o));
    s.on_transport_connected(t0);
    s.on_packet(connack{session_present, 0, {}}, t0);
    return s;
}

TEST(mqtt_session, connect_carries_the_options_and_waits_for_connack) {
    auto o = opts();
    o.username = "u";
    o.password = "p";
    o.will = will_message{"gw/status", "offline", qos::at_least_once, true, {}};
    session s(o);
    const auto a = s.on_transport_connected(t0);
    const auto c = sent<connect>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].client_id, "gw");
    EXPECT_EQ(c[0].keepalive_seconds, 10);
    EXPECT_FALSE(c[0].clean_session);
    EXPECT_EQ(c[0].username, "u");
    EXPECT_EQ(c[0].password, "p");
    EXPECT_EQ(c[0].will->topic, "gw/status");
    EXPECT_EQ(of<action::set_timer>(a).size(), 1u);
    EXPECT_EQ(s.state(), session::link::awaiting_connack);

    // Nothing is published before the CONNACK [MQTT-3.1.4-5 (client side)].
    EXPECT_EQ(sends(s.publish(msg("a"), 1, t0)), 0u);
    const auto ack = s.on_packet(connack{false, 0, {}}, t0);
    EXPECT_EQ(of<action::connected>(ack).size(), 1u);
    EXPECT_EQ(sent<publish>(ack).size(), 1u);
    EXPECT_EQ(s.state(), session::link::connected);
}

TEST(mqtt_session, a_refused_connack_closes_with_its_reason) {
    session s(opts());
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{false, 5, {}}, t0);
    const auto c = of<action::close_connection>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::not_authorized));
    EXPECT_EQ(s.state(), session::link::disconnected);
}

TEST(mqtt_session, MQTT_3_2_0_1_anything_before_connack_is_a_protocol_error) {
    session s(opts());
    s.on_transport_connected(t0);
    const auto c = of<action::close_connection>(s.on_packet(pingresp{}, t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::protocol_error));
}

TEST(mqtt_session, no_connack_in_time_closes_the_link) {
    auto o = opts();
    o.connack_timeout = 3s;
    session s(o);
    s.on_transport_connected(t0);
    EXPECT_TRUE(of<action::close_connection>(s.on_timer(t0 + 2s)).empty());
    const auto c = of<action::close_connection>(s.on_timer(t0 + 3s));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::connack_timeout));
}

TEST(mqtt_session, qos0_is_complete_once_written) {
    auto s = connected();
    const auto a = s.publish(msg("a", qos::at_most_once), 7, t0);
    const auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].packet_id, 0);
    const auto done = of<action::publish_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 7u);
    EXPECT_FALSE(done[0].error);
}

TEST(mqtt_session, qos1_completes_on_puback) {
    auto s = connected();
    const auto p = sent<publish>(s.publish(msg("a"), 7, t0));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].packet_id, 0);  // [MQTT-2.3.1-1]
    EXPECT_FALSE(p[0].dup);        // [MQTT-3.3.1-2]: DUP 0 on the first attempt
    EXPECT_EQ(s.inflight(), 1u);
    EXPECT_TRUE(of<action::publish_completed>(s.on_packet(puback{static_cast<std::uint16_t>(p[0].packet_id + 1), 0, {}}, t0))
                    .empty());  // not ours
    const auto done = of<action::publish_completed>(s.on_packet(puback{p[0].packet_id, 0, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 7u);
    EXPECT_EQ(s.inflight(), 0u);
}

// A topic no server takes would close the connection on every link and be
// sent again on the next: the session completes it at once, unsent, with an
// error the owner takes as final (mqtt::unsendable), and goes on.
TEST(mqtt_session, a_message_no_server_takes_completes_unsent_and_the_queue_goes_on) {
    const std::vector<std::string> topics{std::string("a/\x01"), "a/\tb", "a/\x7F", "a/\xC2\x85", "a/\xEF\xBF\xBF",
                                          "a/+", "a/#", "", "a/\xFF", std::string("a\0b", 3), "$SYS/x", "$share/g/x",
                                          "$SYS", "$SYSTEM/x", "$shared"};
    for (const auto q : {qos::at_most_once, qos::at_least_once, qos::exactly_once}) {
        for (const auto& topic : topics) {
            auto s = connected();
            const auto a = s.publish(msg(topic, q), 7, t0);
            EXPECT_TRUE(sent<publish>(a).empty()) << topic;
            const auto done = of<action::publish_completed>(a);
            ASSERT_EQ(done.size(), 1u) << topic;
            EXPECT_EQ(done[0].token, 7u);
            EXPECT_TRUE(unsendable(done[0].error)) << topic << ": " << done[0].error.message();
            EXPECT_EQ(s.inflight(), 0u);
            const auto next = sent<publish>(s.publish(msg("a/ok", q), 8, t0));
            ASSERT_EQ(next.size(), 1u) << topic;
            EXPECT_EQ(next[0].topic, "a/ok");
        }
    }
    EXPECT_EQ(check_outgoing_topic("a/\x01"), mqtt_errc::refused_character);
    EXPECT_FALSE(check_topic_name("a/\x01")) << "the codec takes it";
    // Other '$' topics, and $SYS further in, are the broker's to allow.
    auto s = connected();
    for (const auto* topic : {"$aws/things/x", "a/$SYS", "$sys/x", "$shar/x"}) {
        EXPECT_EQ(sent<publish>(s.publish(msg(topic), 9, t0)).size(), 1u) << topic;
    }
    // Other errors are not final: the message stays its owner's to send again.
    EXPECT_FALSE(unsendable(make_error_code(mqtt_errc::connection_lost)));
    EXPECT_FALSE(unsendable(make_error_code(mqtt_errc::client_stopped)));
}

// A filter a server closes the connection over is not sent; the others are,
// and a renewal of every remembered filter leaves out that one alone.
TEST(mqtt_session, a_filter_no_server_takes_is_not_subscribed_and_the_others_are) {
    auto s = connected();
    const std::string bad = std::string("a/\x01") + "/#";
    const auto a = s.subscribe({{bad, qos::at_least_once}}, 5, t0);
    EXPECT_TRUE(sent<subscribe>(a).empty());
    const auto done = of<action::subscribe_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].error, mqtt_errc::refused_character);
    EXPECT_EQ(done[0].filters, std::vector<std::string>{bad});
    EXPECT_EQ(sent<subscribe>(s.subscribe({{"ok/#", qos::at_least_once}}, 6, t0)).size(), 1u);
    // A new session renews both: only ok/# goes.
    s.on_connection_lost(t0);
    (void)s.on_transport_connected(t0);
    const auto renewed = sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0));
    ASSERT_EQ(renewed.size(), 1u);
    ASSERT_EQ(renewed[0].subscriptions.size(), 1u);
    EXPECT_EQ(renewed[0].subscriptions[0].filter, "ok/#");
}

// A flow restored from the store with such a topic (stored before the rule
// was) is completed the same way when it would be sent again.
TEST(mqtt_session, a_restored_flow_no_server_takes_completes_unsent_on_the_next_link) {
    session s(opts());
    ASSERT_FALSE(s.resume_flows({inflight_entry{3, msg(std::string("a/\x01") + "b"), 7, inflight_state::publish_sent, true},
                                 inflight_entry{4, msg("a/ok"), 8, inflight_state::publish_sent, true}}));
    (void)s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{true, 0, {}}, t0);
    const auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].topic, "a/ok");
    EXPECT_TRUE(p[0].dup);
    const auto done = of<action::publish_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 7u);
    EXPECT_EQ(done[0].error, mqtt_errc::refused_character);
    EXPECT_EQ(s.inflight(), 1u);
}

TEST(mqtt_session, qos2_runs_the_full_flow) {
    auto s = connected();
    const auto p = sent<publish>(s.publish(msg("a", qos::exactly_once), 9, t0));
    ASSERT_EQ(p.size(), 1u);
    const auto rec = s.on_packet(pubrec{p[0].packet_id, 0, {}}, t0);
    const auto rel = sent<pubrel>(rec);
    ASSERT_EQ(rel.size(), 1u);  // [MQTT-4.3.3-1]
    EXPECT_EQ(rel[0].packet_id, p[0].packet_id);
    EXPECT_TRUE(of<action::publish_completed>(rec).empty());
    EXPECT_EQ(s.snapshot().inflight.at(0).state, inflight_state::pubrec_received);
    const auto done = of<action::publish_completed>(s.on_packet(pubcomp{p[0].packet_id, 0, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 9u);
}

TEST(mqtt_session, MQTT_4_4_0_1_a_resumed_session_resends_publish_with_dup_and_pubrel_not_publish) {
    auto s = connected();
    const auto q1 = sent<publish>(s.publish(msg("one"), 1, t0)).at(0);
    const auto q2 = sent<publish>(s.publish(msg("two", qos::exactly_once), 2, t0)).at(0);
    s.on_packet(pubrec{q2.packet_id, 0, {}}, t0);
    s.on_connection_lost(t0);
    EXPECT_EQ(s.state(), session::link::disconnected);

    s.on_transport_connected(t0 + 1s);
    const auto a = s.on_packet(connack{true, 0, {}}, t0 + 1s);
    const auto again = sent<publish>(a);
    ASSERT_EQ(again.size(), 1u);  // the QoS 2 one is past PUBREC: never PUBLISHed again
    EXPECT_EQ(again[0].packet_id, q1.packet_id);
    EXPECT_TRUE(again[0].dup);  // [MQTT-3.3.1-1]
    const auto rel = sent<pubrel>(a);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_EQ(rel[0].packet_id, q2.packet_id);
}

// With an owner that says when a write takes what was sent (the client):
// a flow whose PUBLISH no write took when the link was lost never reached
// the broker. It goes back to the queue, ahead of it and in order, as a new
// message (listed as restarted), and its packet id is free; a flow a write
// took is resumed with DUP. The same after a close the session began (a
// DISCONNECT): what a write took before the transport went stays, what no
// write took goes back.
TEST(mqtt_session, a_flow_no_write_took_before_the_link_was_lost_goes_back_to_the_queue) {
    auto s = connected();
    s.keep_restarted();
    s.track_writes();
    const auto one = sent<publish>(s.publish(msg("one"), 1, t0)).at(0);
    s.written();
    const auto two = sent<publish>(s.publish(msg("two", qos::exactly_once), 2, t0)).at(0);
    s.publish(msg("three"), 3, t0);
    s.on_connection_lost(t0);
    EXPECT_EQ(s.inflight(), 1u);
    EXPECT_EQ(s.queued(), 2u);
    EXPECT_EQ(s.take_restarted(), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(s.withdraw([](std::uint64_t t) { return t == 3; }, false), (std::vector<std::uint64_t>{3}));

    s.on_transport_connected(t0 + 1s);
    const auto again = sent<publish>(s.on_packet(connack{true, 0, {}}, t0 + 1s));
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].packet_id, one.packet_id);
    EXPECT_TRUE(again[0].dup);
    EXPECT_EQ(again[1].topic, "two");
    EXPECT_FALSE(again[1].dup);
    EXPECT_NE(again[1].packet_id, two.packet_id) << "a new flow";

    // Sent before a DISCONNECT: "four" written with it, "five" not (the
    // transport went first).
    s.written();
    s.publish(msg("four"), 4, t0 + 2s);
    s.disconnect(t0 + 2s);
    s.written();
    s.on_connection_lost(t0 + 2s);
    EXPECT_EQ(s.inflight(), 3u);
    EXPECT_TRUE(s.take_restarted().empty());
    s.on_transport_connected(t0 + 3s);
    s.on_packet(connack{true, 0, {}}, t0 + 3s);
    s.written();
    s.publish(msg("five"), 5, t0 + 3s);
    s.disconnect(t0 + 3s);
    s.on_connection_lost(t0 + 3s);
    EXPECT_EQ(s.inflight(), 3u);
    EXPECT_EQ(s.take_restarted(), (std::vector<std::uint64_t>{5}));
}

TEST(mqtt_session, without_a_session_present_unacknowledged_messages_go_again_as_new_ones_first) {
    auto s = connected();
    s.publish(msg("one"), 1, t0);
    s.publish(msg("two", qos::exactly_once), 2, t0);
    s.on_connection_lost(t0);
    s.publish(msg("three"), 3, t0);  // queued while down
    s.on_transport_connected(t0 + 1s);
    const auto p = sent<publish>(s.on_packet(connack{false, 0, {}}, t0 + 1s));
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].topic, "one");
    EXPECT_EQ(p[1].topic, "two");
    EXPECT_EQ(p[2].topic, "three");
    for (const auto& x : p) EXPECT_FALSE(x.dup);
}

// The restarted flows are listed for an owner that asked for them, once;
// a session whose owner never takes them keeps no list to grow.
TEST(mqtt_session, restarted_flows_are_listed_only_for_an_owner_that_keeps_them) {
    for (const bool keep : {false, true}) {
        auto s = connected();
        if (keep) s.keep_restarted();
        for (std::uint64_t round = 0; round < 3; ++round) {
            s.publish(msg("one"), 1 + 10 * round, t0);
            s.publish(msg("two", qos::exactly_once), 2 + 10 * round, t0);
            s.on_connection_lost(t0);
            s.on_transport_connected(t0 + 1s);
            (void)s.on_packet(connack{false, 0, {}}, t0 + 1s);
        }
        const auto listed = s.take_restarted();
        if (keep) {
            // Each CONNACK restarts what the earlier one restarted and is
            // still unacknowledged, plus the round's two new flows.
            EXPECT_EQ(listed, (std::vector<std::uint64_t>{1, 2, 1, 2, 11, 12, 1, 2, 11, 12, 21, 22}));
        } else {
            EXPECT_TRUE(listed.empty());
        }
        EXPECT_TRUE(s.take_restarted().empty());
    }
}

TEST(mqtt_session, the_inflight_window_holds_back_the_rest_in_order) {
    auto o = opts();
    o.max_inflight = 2;
    auto s = connected(o);
    std::vector<publish> out;
    for (int i = 0; i < 5; ++i) {
        for (auto& p : sent<publish>(s.publish(msg("m" + std::to_string(i)), static_cast<std::uint64_t>(i), t0))) {
            out.push_back(p);
        }
    }
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(s.queued(), 3u);
    const auto next = sent<publish>(s.on_packet(puback{out[1].packet_id, 0, {}}, t0));
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].topic, "m2");
    EXPECT_NE(next[0].packet_id, out[0].packet_id);  // [MQTT-2.3.1-2]: an id in use is not reused
}

TEST(mqtt_session, packet_ids_wrap_and_skip_zero_and_ids_in_use) {
    auto s = connected();
    session_state st;
    st.inflight.push_back(inflight_entry{65535, msg("x"), 1, inflight_state::publish_sent, true});
    st.inflight.push_back(inflight_entry{1, msg("y"), 2, inflight_state::publish_sent, true});
    session r(opts());
    ASSERT_FALSE(r.restore(st));
    r.on_transport_connected(t0);
    r.on_packet(connack{true, 0, {}}, t0);
    const auto p = sent<publish>(r.publish(msg("z"), 3, t0));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].packet_id, 2);  // after 65535 comes 1 (in use), then 2
}

// Every way a flow ends or leaves the session, repeated more often than
// there are packet ids: an id left marked in use would run them out, and a
// later PUBLISH would wait for an id forever.
TEST(mqtt_session, every_way_a_flow_ends_or_leaves_frees_its_packet_id) {
    // Each cycle publishes one message and ends its flow; nullopt when the
    // PUBLISH found no packet id.
    using cycle = std::function<std::optional<std::uint16_t>(session&, std::uint64_t)>;
    const auto first_publish = [](const actions& a) -> std::optional<std::uint16_t> {
        const auto p = sent<publish>(a);
        if (p.size() != 1) return std::nullopt;
        return p[0].packet_id;
    };
    const auto reconnect = [](session& s, bool present, std::vector<property> props = {}) {
        s.on_connection_lost(t0);
        s.on_transport_connected(t0);
        return s.on_packet(connack{present, 0, std::move(props)}, t0);
    };
    struct way {
        std::string name;
        protocol_version version;
        cycle one;
    };
    const auto v3 = protocol_version::v3_1_1;
    const auto v5 = protocol_version::v5;
    const std::vector<way> ways{
        {"puback", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             if (id) s.on_packet(puback{*id, 0, {}}, t0);
             return id;
         }},
        {"pubcomp", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a", qos::exactly_once), n, t0));
             if (id) {
                 s.on_packet(pubrec{*id, 0, {}}, t0);
                 s.on_packet(pubcomp{*id, 0, {}}, t0);
             }
             return id;
         }},
        {"puback to QoS 2", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a", qos::exactly_once), n, t0));
             if (id) s.on_packet(puback{*id, 0, {}}, t0);
             return id;
         }},
        {"refused by a 5.0 broker", v5, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             if (id) s.on_packet(puback{*id, 0x87, {}}, t0);  // not authorised
             return id;
         }},
        {"too large for the broker's limit at a resend", v5, [&](session& s, std::uint64_t n) {
             reconnect(s, true);  // no limit
             const auto id = first_publish(s.publish(message{"a", std::string(200, 'x'), qos::at_least_once, false}, n, t0));
             reconnect(s, true, {property{prop::maximum_packet_size, std::uint32_t{64}}});
             return id;
         }},
        {"withdrawn while disconnected", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             s.on_connection_lost(t0);
             s.withdraw([](std::uint64_t) { return true; }, true);
             s.on_transport_connected(t0);
             s.on_packet(connack{true, 0, {}}, t0);
             return id;
         }},
        {"sent again on a new session", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             // The flow starts again with an id of its own, then ends.
             const auto again = first_publish(reconnect(s, false));
             if (!again) return std::optional<std::uint16_t>{};
             s.on_packet(puback{*again, 0, {}}, t0);
             return id;
         }},
        {"replaced by a restore", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             s.on_connection_lost(t0);
             s.restore(session_state{});
             s.on_transport_connected(t0);
             s.on_packet(connack{true, 0, {}}, t0);
             return id;
         }},
        {"abandoned", v3, [&](session& s, std::uint64_t n) {
             const auto id = first_publish(s.publish(msg("a"), n, t0));
             s.abandon(make_error_code(mqtt_errc::session_not_idle));
             return id;
         }},
    };
    for (const auto& w : ways) {
        auto o = opts();
        o.version = w.version;
        auto s = connected(o);
        for (std::uint64_t n = 1; n <= 65536 + 10; ++n) {
            if (!w.one(s, n)) {
                ADD_FAILURE() << w.name << ": no packet id for the PUBLISH of cycle " << n;
                break;
            }
        }
        EXPECT_EQ(s.inflight(), 0u) << w.name;
    }
}

TEST(mqtt_session, MQTT_3_1_2_23_keepalive_sends_a_ping_and_a_missing_answer_closes) {
    auto o = opts();
    o.ping_timeout = 2s;
    auto s = connected(o);
    EXPECT_TRUE(sent<pingreq>(s.on_timer(t0 + 9s)).empty());
    const auto ping = s.on_timer(t0 + 10s);
    EXPECT_EQ(sent<pingreq>(ping).size(), 1u);
    const auto c = of<action::close_connection>(s.on_timer(t0 + 12s));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::keepalive_timeout));
}

TEST(mqtt_session, a_pingresp_keeps_the_link) {
    auto o = opts();
    o.ping_timeout = 2s;
    auto s = connected(o);
    s.on_timer(t0 + 10s);
    s.on_packet(pingresp{}, t0 + 11s);
    EXPECT_TRUE(of<action::close_connection>(s.on_timer(t0 + 12s)).empty());
    EXPECT_EQ(s.state(), session::link::connected);
}

TEST(mqtt_session, bytes_still_coming_keep_the_link_while_the_pingresp_waits_behind_them) {
    // A message too large to take is dropped as it arrives (inbound.hpp);
    // its bytes prove the link alive although no packet completes.
    auto o = opts();
    o.ping_timeout = 2s;
    auto s = connected(o);
    EXPECT_EQ(sent<pingreq>(s.on_timer(t0 + 10s)).size(), 1u);
    s.note_received(t0 + 11s);
    s.note_received(t0 + 13s);
    EXPECT_TRUE(of<action::close_connection>(s.on_timer(t0 + 12s)).empty());
    EXPECT_TRUE(of<action::close_connection>(s.on_timer(t0 + 14s)).empty());
    EXPECT_EQ(s.state(), session::link::connected);
    // Once nothing comes, the ping's answer is waited for ping_timeout.
    const auto c = of<action::close_connection>(s.on_timer(t0 + 15s));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::keepalive_timeout));
}

TEST(mqtt_session, a_ping_goes_out_even_while_publishing_when_nothing_comes_back) {
    auto s = connected();
    for (int i = 1; i <= 10; ++i) s.publish(msg("a", qos::at_most_once), 1, t0 + std::chrono::seconds(i));
    EXPECT_EQ(sent<pingreq>(s.on_timer(t0 + 10s)).size(), 1u);
}

TEST(mqtt_session, MQTT_4_3_2_incoming_qos1_is_delivered_and_acknowledged) {
    auto s = connected();
    const auto a = s.on_packet(publish{"cmd", "1", qos::at_least_once, false, false, 4, {}}, t0);
    EXPECT_EQ(of<action::deliver>(a).size(), 1u);
    const auto ack = sent<puback>(a);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(ack[0].packet_id, 4);
}

TEST(mqtt_session, MQTT_4_3_3_incoming_qos2_is_delivered_once_until_released) {
    auto s = connected();
    const publish p{"cmd", "1", qos::exactly_once, false, false, 4, {}};
    auto first = s.on_packet(p, t0);
    EXPECT_EQ(of<action::deliver>(first).size(), 1u);
    EXPECT_EQ(sent<pubrec>(first).size(), 1u);
    auto dup = p;
    dup.dup = true;
    auto second = s.on_packet(dup, t0);
    EXPECT_TRUE(of<action::deliver>(second).empty());
    EXPECT_EQ(sent<pubrec>(second).size(), 1u);
    EXPECT_EQ(s.snapshot().incoming_qos2, std::vector<std::uint16_t>{4});
    EXPECT_EQ(sent<pubcomp>(s.on_packet(pubrel{4, 0, {}}, t0)).size(), 1u);
    EXPECT_TRUE(s.snapshot().incoming_qos2.empty());
    // The id is free again: a new message with it is delivered.
    EXPECT_EQ(of<action::deliver>(s.on_packet(p, t0)).size(), 1u);
}

TEST(mqtt_session, subscriptions_wait_for_the_link_and_are_renewed_on_a_new_session) {
    session s(opts());
    EXPECT_EQ(sends(s.subscribe({subscription{"cmd/#", qos::at_least_once}}, 5, t0)), 0u);
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{false, 0, {}}, t0);
    const auto sub = sent<subscribe>(a);
    ASSERT_EQ(sub.size(), 1u);
    EXPECT_EQ(sub[0].subscriptions.at(0).filter, "cmd/#");
    const auto done = of<action::subscribe_completed>(s.on_packet(suback{sub[0].packet_id, {1}, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 5u);
    EXPECT_FALSE(done[0].error);

    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto renewed = sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0));
    ASSERT_EQ(renewed.size(), 1u);
    s.on_packet(suback{renewed[0].packet_id, {1}, {}}, t0);
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    EXPECT_TRUE(sent<subscribe>(s.on_packet(connack{true, 0, {}}, t0)).empty());  // the broker kept it
}

// [MQTT-3.10.4-1], [MQTT-3.10.4-4]: an UNSUBSCRIBE ends the subscription on
// the broker, answered by an UNSUBACK with the same packet id. The filter is
// no longer renewed on a new session.
TEST(mqtt_session, MQTT_3_10_4_4_unsubscribe_is_sent_and_the_filter_is_not_renewed) {
    auto s = connected();
    const auto sub = sent<subscribe>(s.subscribe({subscription{"old/#", qos::at_least_once},
                                                  subscription{"kept/#", qos::at_least_once}}, 0, t0));
    ASSERT_EQ(sub.size(), 1u);
    s.on_packet(suback{sub[0].packet_id, {1, 1}, {}}, t0);
    const auto a = s.unsubscribe({"old/#"}, t0);
    const auto unsub = sent<unsubscribe>(a);
    ASSERT_EQ(unsub.size(), 1u);
    EXPECT_EQ(unsub[0].filters, std::vector<std::string>{"old/#"});
    EXPECT_NE(unsub[0].packet_id, 0);  // [MQTT-2.3.1-1]
    // Its packet id is in use until the UNSUBACK: a publish meanwhile takes another.
    const auto pub = sent<publish>(s.publish(msg("data"), 1, t0));
    ASSERT_EQ(pub.size(), 1u);
    EXPECT_NE(pub[0].packet_id, unsub[0].packet_id);
    EXPECT_TRUE(of<action::close_connection>(s.on_packet(unsuback{unsub[0].packet_id, {}, {}}, t0)).empty());
    // A new session renews only what is still subscribed.
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto renewed = sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0));
    ASSERT_EQ(renewed.size(), 1u);
    ASSERT_EQ(renewed[0].subscriptions.size(), 1u);
    EXPECT_EQ(renewed[0].subscriptions[0].filter, "kept/#");
}

// While the link is down: nothing goes, and on the next link the UNSUBSCRIBE
// goes only if the broker kept the session (a new one holds no subscription).
TEST(mqtt_session, an_unsubscribe_while_disconnected_goes_on_a_resumed_session_only) {
    for (const bool present : {false, true}) {
        auto s = connected();
        const auto sub = sent<subscribe>(s.subscribe({subscription{"old/#", qos::at_least_once}}, 0, t0));
        s.on_packet(suback{sub.at(0).packet_id, {1}, {}}, t0);
        s.on_connection_lost(t0);
        EXPECT_EQ(sends(s.unsubscribe({"old/#"}, t0)), 0u);
        s.on_transport_connected(t0);
        const auto a = s.on_packet(connack{present, 0, {}}, t0);
        EXPECT_TRUE(sent<subscribe>(a).empty()) << present;
        const auto unsub = sent<unsubscribe>(a);
        ASSERT_EQ(unsub.size(), present ? 1u : 0u);
        if (present) {
            EXPECT_EQ(unsub[0].filters, std::vector<std::string>{"old/#"});
        }
    }
}

// An UNSUBSCRIBE not acknowledged when the link drops goes again on a
// resumed session, after the SUBSCRIBEs sent before it (order kept).
TEST(mqtt_session, an_unacknowledged_unsubscribe_goes_again_after_the_subscribes_before_it) {
    auto s = connected();
    const auto sub = sent<subscribe>(s.subscribe({subscription{"old/#", qos::at_least_once}}, 7, t0));
    ASSERT_EQ(sub.size(), 1u);
    ASSERT_EQ(sent<unsubscribe>(s.unsubscribe({"old/#"}, t0)).size(), 1u);
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{true, 0, {}}, t0);
    const auto first_sub = std::find_if(a.begin(), a.end(), [](const session_action& x) {
        const auto* p = std::get_if<action::send>(&x);
        return p && std::holds_alternative<subscribe>(p->packet);
    });
    const auto first_unsub = std::find_if(a.begin(), a.end(), [](const session_action& x) {
        const auto* p = std::get_if<action::send>(&x);
        return p && std::holds_alternative<unsubscribe>(p->packet);
    });
    ASSERT_NE(first_sub, a.end());
    ASSERT_NE(first_unsub, a.end());
    EXPECT_LT(first_sub - a.begin(), first_unsub - a.begin());
    EXPECT_EQ(sent<unsubscribe>(a).size(), 1u);
}

// Subscribed again (a reload undone) before the UNSUBSCRIBE went: the filter
// stays subscribed, and no UNSUBSCRIBE goes.
TEST(mqtt_session, a_filter_subscribed_again_before_its_unsubscribe_went_is_not_unsubscribed) {
    auto s = connected();
    const auto sub = sent<subscribe>(s.subscribe({subscription{"cmd/#", qos::at_least_once}}, 0, t0));
    s.on_packet(suback{sub.at(0).packet_id, {1}, {}}, t0);
    s.on_connection_lost(t0);
    s.unsubscribe({"cmd/#"}, t0);
    s.subscribe({subscription{"cmd/#", qos::at_least_once}}, 0, t0);
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{true, 0, {}}, t0);
    EXPECT_TRUE(sent<unsubscribe>(a).empty());
    const auto again = sent<subscribe>(a);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].subscriptions.at(0).filter, "cmd/#");
    // And a fresh session renews it.
    s.on_packet(suback{again[0].packet_id, {1}, {}}, t0);
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto renewed = sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0));
    ASSERT_EQ(renewed.size(), 1u);
    EXPECT_EQ(renewed[0].subscriptions.at(0).filter, "cmd/#");
}

// The owner publishes its birth when told the link is up: the renewed
// SUBSCRIBEs are out before it (Sparkplug: NCMD/DCMD subscribed before
// NBIRTH), and so are the flows resent on a resumed session or started
// again on a new one.
TEST(mqtt_session, the_link_is_reported_up_after_the_renewed_subscriptions_and_resent_flows) {
    for (const bool present : {false, true}) {
        session s(opts());
        s.subscribe({subscription{"cmd/#", qos::at_least_once}}, 5, t0);
        s.on_transport_connected(t0);
        const auto first = sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0));
        ASSERT_EQ(first.size(), 1u);
        s.on_packet(suback{first[0].packet_id, {1}, {}}, t0);
        s.publish(message{"data", "1", qos::at_least_once, false}, 7, t0);
        s.on_connection_lost(t0);
        s.on_transport_connected(t0);
        const auto a = s.on_packet(connack{present, 0, {}}, t0);
        const auto up = std::find_if(a.begin(), a.end(),
                                     [](const session_action& x) { return std::holds_alternative<action::connected>(x); });
        ASSERT_NE(up, a.end());
        const actions before(a.begin(), up);
        EXPECT_EQ(sent<subscribe>(before).size(), present ? 0u : 1u);
        // Resent with DUP, or started again as a new message: before what
        // the owner publishes when told the link is up (a birth), which
        // reaches the wire behind it.
        EXPECT_EQ(sent<publish>(before).size(), 1u);
        EXPECT_TRUE(sent<subscribe>(actions(up, a.end())).empty());
        EXPECT_TRUE(sent<publish>(actions(up, a.end())).empty());
    }
}

TEST(mqtt_session, a_refused_subscription_is_reported_with_its_filters) {
    auto s = connected();
    const auto sub = sent<subscribe>(
        s.subscribe({subscription{"cmd/#", qos::exactly_once}, subscription{"set/#", qos::at_least_once}}, 5, t0));
    ASSERT_EQ(sub.size(), 1u);
    const auto done = of<action::subscribe_completed>(s.on_packet(suback{sub[0].packet_id, {0x02, 0x80}, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].error, make_error_code(mqtt_errc::subscription_refused));
    EXPECT_EQ(done[0].filters, (std::vector<std::string>{"cmd/#", "set/#"}));
    EXPECT_EQ(subscription_failure(done[0], protocol_version::v3_1_1),
              "the broker refused the subscription to 'set/#' (0x80)");
}

TEST(mqtt_session, MQTT_3_9_3_1_a_suback_short_of_codes_leaves_the_filters_without_one_refused) {
    auto s = connected();
    const auto sub = sent<subscribe>(
        s.subscribe({subscription{"cmd/#", qos::at_least_once}, subscription{"set/#", qos::at_least_once}}, 5, t0));
    ASSERT_EQ(sub.size(), 1u);
    const auto done = of<action::subscribe_completed>(s.on_packet(suback{sub[0].packet_id, {0x01}, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].return_codes, (std::vector<std::uint8_t>{0x01, 0x80}));
    EXPECT_EQ(done[0].error, make_error_code(mqtt_errc::subscription_refused));
    // Codes past the last filter answer nothing.
    const auto more = sent<subscribe>(s.subscribe({subscription{"a/#", qos::at_least_once}}, 6, t0));
    ASSERT_EQ(more.size(), 1u);
    const auto ok = of<action::subscribe_completed>(s.on_packet(suback{more[0].packet_id, {0x01, 0x80}, {}}, t0));
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_EQ(ok[0].return_codes, (std::vector<std::uint8_t>{0x01}));
    EXPECT_FALSE(ok[0].error);
}

TEST(mqtt_session, a_subscribe_abandoned_names_its_filters) {
    auto s = connected();
    (void)s.subscribe({subscription{"cmd/#", qos::at_least_once}}, 5, t0);
    const auto done = of<action::subscribe_completed>(s.abandon(make_error_code(mqtt_errc::client_stopped)));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].filters, (std::vector<std::string>{"cmd/#"}));
}

TEST(mqtt_session, a_publish_too_large_to_take_is_acknowledged_as_its_qos_asks_and_never_delivered) {
    auto s = connected();
    const publish head{"cmd/a", "", qos::at_least_once, false, false, 3, {}};
    const auto one = s.on_oversized_publish(head, t0);
    EXPECT_TRUE(of<action::deliver>(one).empty());
    const auto acks = sent<puback>(one);
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].packet_id, 3);

    auto two = head;
    two.qos = qos::exactly_once;
    two.packet_id = 4;
    const auto rec = s.on_oversized_publish(two, t0);
    EXPECT_TRUE(of<action::deliver>(rec).empty());
    ASSERT_EQ(sent<pubrec>(rec).size(), 1u);
    EXPECT_EQ(s.incoming_qos2().count(4), 1u);
    const auto comp = sent<pubcomp>(s.on_packet(pubrel{4, 0, {}}, t0));
    ASSERT_EQ(comp.size(), 1u);
    EXPECT_EQ(s.incoming_qos2().count(4), 0u);

    auto zero = head;
    zero.qos = qos::at_most_once;
    zero.packet_id = 0;
    const auto none = s.on_oversized_publish(zero, t0);
    EXPECT_TRUE(of<action::deliver>(none).empty());
    EXPECT_EQ(sends(none), 0u);
}

TEST(mqtt_session, MQTT_4_3_3_2_an_oversized_qos2_publish_sent_again_is_acknowledged_again_and_never_delivered) {
    auto s = connected();
    const publish head{"cmd/a", "", qos::exactly_once, false, false, 8, {}};
    ASSERT_EQ(sent<pubrec>(s.on_oversized_publish(head, t0)).size(), 1u);
    auto again = head;
    again.dup = true;
    const auto second = s.on_oversized_publish(again, t0);
    EXPECT_EQ(sent<pubrec>(second).size(), 1u);
    EXPECT_TRUE(of<action::deliver>(second).empty());
    EXPECT_EQ(s.incoming_qos2().size(), 1u);
}

TEST(mqtt_session, MQTT_3_2_0_1_an_oversized_publish_before_the_connack_closes_the_link) {
    session s(opts());
    s.on_transport_connected(t0);
    const auto c = of<action::close_connection>(
        s.on_oversized_publish(publish{"cmd/a", "", qos::at_least_once, false, false, 1, {}}, t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::protocol_error));
}

TEST(mqtt_session, packets_only_a_server_receives_close_the_link) {
    for (const packet& p : {packet{connect{}}, packet{subscribe{1, {}, {}}}, packet{pingreq{}}, packet{connack{}}}) {
        auto s = connected();
        const auto c = of<action::close_connection>(s.on_packet(p, t0));
        ASSERT_EQ(c.size(), 1u) << name_of(type_of(p));
        EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::protocol_error));
    }
}

TEST(mqtt_session, MQTT_3_14_disconnect_sends_disconnect_then_closes_cleanly) {
    auto s = connected();
    const auto a = s.disconnect(t0);
    ASSERT_EQ(sent<disconnect>(a).size(), 1u);
    const auto c = of<action::close_connection>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_FALSE(c[0].reason);
}

TEST(mqtt_session, abandon_completes_everything_with_the_reason) {
    auto o = opts();
    o.max_inflight = 1;
    auto s = connected(o);
    s.publish(msg("a"), 1, t0);
    s.publish(msg("b"), 2, t0);
    const auto done = of<action::publish_completed>(s.abandon(make_error_code(mqtt_errc::client_stopped)));
    ASSERT_EQ(done.size(), 2u);
    for (const auto& d : done) EXPECT_EQ(d.error, make_error_code(mqtt_errc::client_stopped));
    EXPECT_EQ(s.queued() + s.inflight(), 0u);
}

TEST(mqtt_session, snapshot_and_restore_carry_the_ledger_across_a_restart) {
    auto s = connected();
    s.publish(msg("a"), 11, t0);
    const auto p2 = sent<publish>(s.publish(msg("b", qos::exactly_once), 12, t0)).at(0);
    s.on_packet(pubrec{p2.packet_id, 0, {}}, t0);
    s.on_packet(publish{"cmd", "1", qos::exactly_once, false, false, 77, {}}, t0);
    const auto snap = s.snapshot();
    ASSERT_EQ(snap.inflight.size(), 2u);
    EXPECT_TRUE(snap.inflight[0].dup);

    session r(opts());
    EXPECT_FALSE(r.restore(snap));
    EXPECT_EQ(r.snapshot(), snap);
    r.on_transport_connected(t0);
    const auto a = r.on_packet(connack{true, 0, {}}, t0);
    EXPECT_EQ(sent<publish>(a).size(), 1u);
    EXPECT_EQ(sent<pubrel>(a).size(), 1u);
    // Restoring is refused while a link is up.
    EXPECT_EQ(r.restore(snap), make_error_code(mqtt_errc::session_not_idle));
}

TEST(mqtt_backoff, grows_to_the_cap_with_jitter_and_resets) {
    backoff b(100ms, 1000ms, 42);
    std::vector<std::chrono::milliseconds> d;
    for (int i = 0; i < 8; ++i) d.push_back(b.next());
    EXPECT_GE(d[0], 50ms);
    EXPECT_LE(d[0], 100ms);
    EXPECT_GE(d[2], 200ms);
    EXPECT_LE(d[2], 400ms);
    for (int i = 4; i < 8; ++i) {
        EXPECT_GE(d[static_cast<std::size_t>(i)], 500ms);
        EXPECT_LE(d[static_cast<std::size_t>(i)], 1000ms);
    }
    b.reset();
    EXPECT_LE(b.next(), 100ms);
}

TEST(mqtt_backoff, two_gateways_do_not_retry_in_lockstep) {
    backoff a(1000ms, 60000ms, 1);
    backoff b(1000ms, 60000ms, 2);
    int same = 0;
    for (int i = 0; i < 10; ++i) same += a.next() == b.next() ? 1 : 0;
    EXPECT_LT(same, 3);
}

}  // namespace
}  // namespace fieldbridge::mqtt

namespace fieldbridge::mqtt {
namespace {

TEST(mqtt_session, a_restored_flow_whose_packet_id_another_has_starts_again_as_a_new_message) {
    session_state st;
    st.inflight.push_back(inflight_entry{5, msg("x"), 1, inflight_state::pubrec_received, true});
    st.inflight.push_back(inflight_entry{5, msg("y"), 2, inflight_state::publish_sent, true});
    st.inflight.push_back(inflight_entry{0, msg("z"), 3, inflight_state::publish_sent, true});
    session r(opts());
    ASSERT_FALSE(r.restore(st));
    EXPECT_EQ(r.inflight(), 1u);
    EXPECT_EQ(r.queued(), 2u);
    r.on_transport_connected(t0);
    const auto a = r.on_packet(connack{true, 0, {}}, t0);
    ASSERT_EQ(sent<pubrel>(a).size(), 1u);
    EXPECT_EQ(sent<pubrel>(a)[0].packet_id, 5);
    const auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 2u);  // y and z as new flows, each with an id of its own
    EXPECT_EQ(p[0].topic, "y");
    EXPECT_FALSE(p[0].dup);
    EXPECT_NE(p[0].packet_id, 5);
    EXPECT_NE(p[1].packet_id, 5);
    EXPECT_EQ(p[1].topic, "z");
    EXPECT_NE(p[0].packet_id, p[1].packet_id);
}

// A broker that supports QoS 1 only (some message brokers' MQTT adapters)
// answers a QoS 2 PUBLISH with PUBACK: the flow completes as downgraded,
// the link stays, and the message is not sent again.
TEST(mqtt_session, a_qos2_publish_answered_with_puback_completes_as_downgraded) {
    auto s = connected();
    const auto p = sent<publish>(s.publish(msg("a", qos::exactly_once), 7, t0));
    ASSERT_EQ(p.size(), 1u);
    const auto a = s.on_packet(puback{p[0].packet_id, 0, {}}, t0);
    const auto done = of<action::publish_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 7u);
    EXPECT_FALSE(done[0].error);
    EXPECT_TRUE(done[0].downgraded);
    EXPECT_TRUE(of<action::close_connection>(a).empty());
    EXPECT_EQ(s.inflight(), 0u);
    EXPECT_EQ(s.state(), session::link::connected);
    // A PUBACK after the PUBREC (the flow is past the PUBLISH) still does not fit.
    const auto q = sent<publish>(s.publish(msg("b", qos::exactly_once), 8, t0));
    s.on_packet(pubrec{q[0].packet_id, 0, {}}, t0);
    EXPECT_EQ(of<action::close_connection>(s.on_packet(puback{q[0].packet_id, 0, {}}, t0)).size(), 1u);
}

TEST(mqtt_session, withdraw_takes_back_queued_messages_and_in_flight_ones_only_while_disconnected) {
    auto o = opts();
    o.max_inflight = 1;
    auto s = connected(o);
    s.publish(msg("a"), 1, t0);  // in flight
    s.publish(msg("b"), 2, t0);  // queued behind the window
    s.publish(msg("c"), 100, t0);
    const auto mine = [](std::uint64_t t) { return t < 100; };
    EXPECT_EQ(s.withdraw(mine, true), std::vector<std::uint64_t>{2});  // connected: the flow stays
    EXPECT_EQ(s.inflight(), 1u);
    EXPECT_EQ(s.queued(), 1u);  // token 100 is not ours
    s.on_connection_lost(t0);
    EXPECT_EQ(s.withdraw(mine, false), std::vector<std::uint64_t>{});
    EXPECT_EQ(s.withdraw(mine, true), std::vector<std::uint64_t>{1});
    EXPECT_EQ(s.inflight(), 0u);
}

TEST(mqtt_session, resumed_flows_keep_their_ids_and_one_whose_id_is_taken_starts_again) {
    auto s = connected();
    const auto held = sent<publish>(s.publish(msg("a"), 1, t0));
    s.on_connection_lost(t0);
    std::vector<inflight_entry> flows{{held[0].packet_id, msg("x"), 2, inflight_state::publish_sent, true},
                                      {4000, msg("y"), 3, inflight_state::pubrec_received, true}};
    EXPECT_EQ(s.resume_flows(flows), std::error_code{});
    EXPECT_EQ(s.inflight(), 2u);  // a, and y with its id
    EXPECT_EQ(s.queued(), 1u);    // x starts again
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{true, 0, {}}, t0);
    EXPECT_EQ(sent<pubrel>(a).size(), 1u);
    EXPECT_EQ(sent<pubrel>(a)[0].packet_id, 4000);
    EXPECT_EQ(sent<publish>(a).size(), 2u);  // a again with DUP, then x as a new flow
    EXPECT_TRUE(sent<publish>(a)[0].dup);
    EXPECT_FALSE(sent<publish>(a)[1].dup);
    EXPECT_NE(sent<publish>(a)[1].packet_id, held[0].packet_id);
}

TEST(mqtt_session, carry_out_performs_the_sessions_actions_before_its_notifications) {
    actions list{action::publish_completed{1, {}}, action::send{pingreq{}}, action::deliver{msg("t")},
                 action::send{pingresp{}}};
    std::vector<int> order;
    carry_out(list, [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::send>) order.push_back(std::holds_alternative<pingreq>(a.packet) ? 1 : 2);
        if constexpr (std::is_same_v<T, action::publish_completed>) order.push_back(3);
        if constexpr (std::is_same_v<T, action::deliver>) order.push_back(4);
    });
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace fieldbridge::mqtt
