// The MQTT 5.0 side of the client session: Clean Start and Session Expiry,
// what a CONNACK announces (Receive Maximum, Maximum Packet Size, Maximum
// QoS, Retain Available, Topic Alias Maximum, Server Keep Alive, Assigned
// Client Identifier), reason codes in acknowledgements and DISCONNECT, and
// request/response properties. Named after the normative statements of the
// 5.0 specification they check.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/session.hpp"
#include "tests/mqtt/session_actions.hpp"

namespace fieldbridge::mqtt {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0 = clock::time_point{} + 1000s;

session_options opts5() {
    session_options o;
    o.version = protocol_version::v5;
    o.client_id = "gw";
    o.keepalive = 10s;
    o.clean_session = false;
    o.session_expiry = 3600;
    return o;
}

message msg(std::string topic, qos q = qos::at_least_once) { return message{std::move(topic), "v", q, false}; }

session connected5(properties connack_props = {}, session_options o = opts5(), bool present = false) {
    session s(std::move(o));
    s.on_transport_connected(t0);
    s.on_packet(connack{present, 0, std::move(connack_props)}, t0);
    return s;
}

std::optional<std::uint32_t> alias_of(const publish& p) { return integer_property(p.props, prop::topic_alias); }

TEST(mqtt5_session, MQTT_3_1_2_4_connect_carries_clean_start_and_the_session_expiry_interval) {
    session s(opts5());
    const auto c = sent<connect>(s.on_transport_connected(t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].version, protocol_version::v5);
    EXPECT_FALSE(c[0].clean_session);
    EXPECT_EQ(integer_property(c[0].props, prop::session_expiry_interval), 3600u);
    // It encodes as a valid 5.0 CONNECT.
    EXPECT_TRUE(encode(c[0], protocol_version::v5));

    auto o = opts5();
    o.clean_session = true;
    o.session_expiry = 0;  // absent means 0 [MQTT-3.1.2-... 3.1.2.11.2]
    session clean(o);
    const auto c2 = sent<connect>(clean.on_transport_connected(t0));
    EXPECT_TRUE(c2[0].clean_session);
    EXPECT_EQ(find(c2[0].props, prop::session_expiry_interval), nullptr);
}

TEST(mqtt5_session, MQTT_3_2_2_7_a_connack_reason_code_of_0x80_or_more_closes_with_that_reason) {
    session s(opts5());
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{false, 0x86, {property{prop::reason_string, std::string("bad credentials")}}}, t0);
    const auto c = of<action::close_connection>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, reason_code_error(0x86));
    EXPECT_EQ(c[0].reason.message(), "bad user name or password");
    EXPECT_EQ(c[0].detail, "bad credentials");
    EXPECT_EQ(s.state(), session::link::disconnected);
}

// A refusing PUBREC ends the QoS 2 flow [MQTT-4.3.3]: no PUBREL for it, and
// none for the same refusal again (a duplicate), whose id the session no
// longer holds; a PUBREC that takes a message it no longer holds is still
// answered, so that the broker can finish its side.
TEST(mqtt5_session, MQTT_4_3_3_no_pubrel_answers_a_refusing_pubrec_even_a_duplicate) {
    auto s = connected5({});
    const auto p = sent<publish>(s.publish(msg("t/1", qos::exactly_once), 1, t0));
    ASSERT_EQ(p.size(), 1u);
    for (int twice = 0; twice < 2; ++twice) {
        EXPECT_TRUE(sent<pubrel>(s.on_packet(pubrec{p[0].packet_id, 0x99, {}}, t0)).empty())
            << "PUBREC " << twice;
    }
    EXPECT_EQ(s.inflight(), 0u);
    EXPECT_EQ(sent<pubrel>(s.on_packet(pubrec{p[0].packet_id, 0x00, {}}, t0)).size(), 1u);
}

// A Reason String is the broker's text for a log line and `status`: kept to
// 200 bytes and its length, however long the broker made it.
TEST(mqtt5_session, a_long_reason_string_is_cut_for_the_log) {
    for (const bool in_connack : {true, false}) {
        auto s = in_connack ? session(opts5()) : connected5({});
        if (in_connack)
            s.on_transport_connected(t0);
        const std::vector<property> props{property{prop::reason_string, std::string(1 << 20, 'r')}};
        const auto a = in_connack ? s.on_packet(connack{false, 0x97, props}, t0)
                                  : s.on_packet(disconnect{0x97, props}, t0);
        const auto c = of<action::close_connection>(a);
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0].detail, std::string(200, 'r') + "... (1048576 bytes)");
    }
}

TEST(mqtt5_session, MQTT_3_3_4_7_never_more_unacknowledged_publishes_than_the_brokers_receive_maximum) {
    auto s = connected5({property{prop::receive_maximum, std::uint32_t{2}}});
    EXPECT_EQ(s.limits().receive_maximum, 2);
    actions a;
    for (std::uint64_t i = 1; i <= 5; ++i) {
        auto x = s.publish(msg("t/" + std::to_string(i)), i, t0);
        a.insert(a.end(), x.begin(), x.end());
    }
    auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(s.inflight(), 2u);
    // One acknowledgement opens one slot, in order.
    const auto next = sent<publish>(s.on_packet(puback{p[0].packet_id, 0, {}}, t0));
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].topic, "t/3");

    // The configured window wins when it is the smaller.
    auto o = opts5();
    o.max_inflight = 1;
    auto small = connected5({property{prop::receive_maximum, std::uint32_t{100}}}, o);
    small.publish(msg("a"), 1, t0);
    EXPECT_EQ(sends(small.publish(msg("b"), 2, t0)), 0u);
}

// A session resumed with flows in progress: what a CONNACK with Session
// Present 1 and Receive Maximum `r` makes the session send.
session resumed5(std::uint16_t r, std::vector<inflight_entry> flows, actions& out) {
    session s(opts5());
    EXPECT_FALSE(s.restore(session_state{std::move(flows), {}}));
    s.on_transport_connected(t0);
    out = s.on_packet(connack{true, 0, {property{prop::receive_maximum, std::uint32_t{r}}}}, t0);
    return s;
}

inflight_entry flow(std::uint16_t id, qos q, inflight_state st = inflight_state::publish_sent) {
    return inflight_entry{id, msg("t/" + std::to_string(id), q), id, st, true};
}

std::vector<std::uint16_t> ids_of(const std::vector<publish>& p) {
    std::vector<std::uint16_t> out;
    for (const auto& x : p) out.push_back(x.packet_id);
    return out;
}

// [MQTT-4.4.0-1] asks a resumed session to resend its flows; [MQTT-3.3.4-7]
// still allows no more than Receive Maximum PUBLISH "for which it has not
// received PUBACK, PUBCOMP, or PUBREC with a Reason Code of 128 or greater":
// a flow awaiting PUBCOMP holds a slot. The rest go as acknowledgements free
// slots, each with its packet id and DUP, in the order the flows started.
TEST(mqtt5_session, MQTT_3_3_4_7_a_resumed_session_resends_no_more_publishes_than_the_receive_maximum) {
    actions a;
    auto s = resumed5(2,
                      {flow(1, qos::at_least_once), flow(2, qos::exactly_once, inflight_state::pubrec_received),
                       flow(3, qos::at_least_once), flow(4, qos::exactly_once)},
                      a);
    ASSERT_EQ(ids_of(sent<publish>(a)), std::vector<std::uint16_t>{1});
    ASSERT_EQ(sent<pubrel>(a).size(), 1u);
    EXPECT_EQ(sent<pubrel>(a)[0].packet_id, 2);
    EXPECT_TRUE(sent<publish>(a)[0].dup);
    // Queued behind the resumed flows: nothing new goes out before them,
    // QoS 0 included (it needs no slot, but flow 3 or 4 may be an older
    // message of its topic the broker never had).
    EXPECT_TRUE(sent<publish>(s.publish(msg("t/3", qos::at_most_once), 10, t0)).empty());
    EXPECT_TRUE(sent<publish>(s.publish(msg("new"), 9, t0)).empty());

    const auto after1 = sent<publish>(s.on_packet(puback{1, 0, {}}, t0));
    ASSERT_EQ(ids_of(after1), std::vector<std::uint16_t>{3});
    EXPECT_TRUE(after1[0].dup);
    EXPECT_EQ(after1[0].topic, "t/3");
    const auto after2 = sent<publish>(s.on_packet(pubcomp{2, 0, {}}, t0));
    ASSERT_EQ(after2.size(), 2u) << "the last resend, then the QoS 0 message";
    EXPECT_EQ(after2[0].packet_id, 4);
    EXPECT_TRUE(after2[0].dup);
    EXPECT_EQ(after2[0].qos, qos::exactly_once);
    EXPECT_EQ(after2[1].topic, "t/3");
    EXPECT_EQ(after2[1].qos, qos::at_most_once);
    // Only when a resent flow ends does the queued message get its slot.
    const auto after3 = sent<publish>(s.on_packet(puback{3, 0, {}}, t0));
    ASSERT_EQ(after3.size(), 1u);
    EXPECT_EQ(after3[0].topic, "new");
    EXPECT_FALSE(after3[0].dup);
    EXPECT_EQ(s.inflight(), 2u);
}

// [MQTT-3.3.4-8]: packets other than PUBLISH are not delayed for the quota:
// every PUBREL goes at once, though the flows awaiting PUBCOMP keep the
// PUBLISH resends waiting.
TEST(mqtt5_session, MQTT_3_3_4_8_a_resumed_session_sends_every_pubrel_at_once) {
    actions a;
    auto s = resumed5(1,
                      {flow(1, qos::exactly_once, inflight_state::pubrec_received), flow(2, qos::at_least_once),
                       flow(3, qos::exactly_once, inflight_state::pubrec_received)},
                      a);
    EXPECT_TRUE(sent<publish>(a).empty());
    ASSERT_EQ(sent<pubrel>(a).size(), 2u);
    EXPECT_EQ(sent<pubrel>(a)[0].packet_id, 1);
    EXPECT_EQ(sent<pubrel>(a)[1].packet_id, 3);
    EXPECT_TRUE(sent<publish>(s.on_packet(pubcomp{1, 0, {}}, t0)).empty());
    EXPECT_EQ(ids_of(sent<publish>(s.on_packet(pubcomp{3, 0, {}}, t0))), std::vector<std::uint16_t>{2});
}

// The flows still waiting when the link drops are all resent on the next
// resumed link, within that link's Receive Maximum.
TEST(mqtt5_session, MQTT_4_4_0_1_flows_waiting_for_a_slot_are_resent_on_the_next_link) {
    actions a;
    auto s = resumed5(1, {flow(1, qos::at_least_once), flow(2, qos::at_least_once), flow(3, qos::at_least_once)}, a);
    EXPECT_EQ(ids_of(sent<publish>(a)), std::vector<std::uint16_t>{1});
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto again = s.on_packet(connack{true, 0, {property{prop::receive_maximum, std::uint32_t{2}}}}, t0);
    EXPECT_EQ(ids_of(sent<publish>(again)), (std::vector<std::uint16_t>{1, 2}));
    EXPECT_EQ(ids_of(sent<publish>(s.on_packet(puback{2, 0, {}}, t0))), std::vector<std::uint16_t>{3});
}

TEST(mqtt5_session, MQTT_3_1_2_24_a_message_over_the_brokers_maximum_packet_size_is_never_sent) {
    auto s = connected5({property{prop::maximum_packet_size, std::uint32_t{64}}});
    message big{"t/big", std::string(100, 'x'), qos::at_least_once, false};
    const auto a = s.publish(big, 7, t0);
    EXPECT_TRUE(sent<publish>(a).empty());
    const auto done = of<action::publish_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 7u);
    EXPECT_EQ(done[0].error, make_error_code(mqtt_errc::exceeds_broker_packet_size));
    // The queue goes on behind it.
    const auto b = s.publish(msg("t/small"), 8, t0);
    const auto p = sent<publish>(b);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_LE(encode(p[0], protocol_version::v5)->size(), 64u);
}

TEST(mqtt5_session, MQTT_3_2_2_15_a_subscribe_over_the_brokers_maximum_packet_size_is_never_sent) {
    const std::string long_filter(100, 'f');
    auto s = connected5({property{prop::maximum_packet_size, std::uint32_t{64}}});
    const auto a = s.subscribe({subscription{long_filter, qos::at_least_once}}, 5, t0);
    EXPECT_TRUE(sent<subscribe>(a).empty());
    const auto done = of<action::subscribe_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 5u);
    EXPECT_EQ(done[0].error, make_error_code(mqtt_errc::subscribe_too_large));
    // One that fits goes out, alone.
    const auto b = sent<subscribe>(s.subscribe({subscription{"c/#", qos::at_least_once}}, 6, t0));
    ASSERT_EQ(b.size(), 1u);
    ASSERT_EQ(b[0].subscriptions.size(), 1u);
    EXPECT_EQ(b[0].subscriptions[0].filter, "c/#");
    EXPECT_LE(encode(b[0], protocol_version::v5)->size(), 64u);

    // The filter stays remembered: a new session on a broker without the
    // limit renews it (and sends the other again, still unacknowledged).
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    std::set<std::string> filters;
    for (const auto& x : sent<subscribe>(s.on_packet(connack{false, 0, {}}, t0))) {
        for (const auto& f : x.subscriptions) filters.insert(f.filter);
    }
    EXPECT_EQ(filters, (std::set<std::string>{long_filter, "c/#"}));
}

TEST(mqtt5_session, MQTT_3_2_2_15_a_renewal_over_the_limit_still_renews_every_filter_that_fits_alone) {
    // The client subscribes with token 0; a new session renews every
    // remembered filter in one SUBSCRIBE. Against a broker whose limit that
    // SUBSCRIBE exceeds, the filters go one by one, and only the one that
    // does not fit alone is left out.
    const std::string a(30, 'a');
    const std::string b(30, 'b');
    const std::string too_long(100, 'c');
    auto s = connected5();
    s.subscribe({subscription{a, qos::at_least_once}, subscription{b, qos::at_least_once}}, 0, t0);
    s.subscribe({subscription{too_long, qos::at_least_once}}, 0, t0);
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto r = s.on_packet(connack{false, 0, {property{prop::maximum_packet_size, std::uint32_t{64}}}}, t0);
    std::set<std::string> filters;
    std::set<std::uint16_t> ids;
    for (const auto& x : sent<subscribe>(r)) {
        EXPECT_LE(encode(x, protocol_version::v5)->size(), 64u);
        ids.insert(x.packet_id);
        for (const auto& f : x.subscriptions) filters.insert(f.filter);
    }
    EXPECT_EQ(filters, (std::set<std::string>{a, b}));
    EXPECT_EQ(ids.size(), 2u);
    const auto done = of<action::subscribe_completed>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 0u);
    EXPECT_EQ(done[0].error, make_error_code(mqtt_errc::subscribe_too_large));
    EXPECT_EQ(done[0].filters, std::vector<std::string>{too_long});  // the log names the one left out
    // Each SUBACK completes its own filter.
    for (const auto id : ids) {
        const auto c = of<action::subscribe_completed>(s.on_packet(suback{id, {1}, {}}, t0));
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0].token, 0u);
        EXPECT_EQ(c[0].return_codes, std::vector<std::uint8_t>{1});
        EXPECT_FALSE(c[0].error);
    }

    // The same holds for a SUBSCRIBE of the client's own on a connected link.
    auto t = connected5({property{prop::maximum_packet_size, std::uint32_t{64}}});
    const auto u = t.subscribe({subscription{a, qos::at_least_once}, subscription{b, qos::at_least_once}}, 0, t0);
    EXPECT_EQ(sent<subscribe>(u).size(), 2u);
    EXPECT_TRUE(of<action::subscribe_completed>(u).empty());
    // An owner's token gets one answer: the whole SUBSCRIBE is refused.
    const auto v = t.subscribe({subscription{a, qos::at_least_once}, subscription{b, qos::at_least_once}}, 9, t0);
    EXPECT_TRUE(sent<subscribe>(v).empty());
    const auto w = of<action::subscribe_completed>(v);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].token, 9u);
    EXPECT_EQ(w[0].error, make_error_code(mqtt_errc::subscribe_too_large));
    EXPECT_EQ(w[0].filters, (std::vector<std::string>{a, b}));

    // An owner's SUBSCRIBE waiting over a reconnect and refused on the new
    // link takes nothing from the renewal: its filters still go, alone.
    auto o = connected5();
    o.subscribe({subscription{a, qos::at_least_once}}, 0, t0);
    o.on_connection_lost(t0);
    o.subscribe({subscription{a, qos::at_least_once}, subscription{b, qos::at_least_once}}, 11, t0);
    o.on_transport_connected(t0);
    const auto x = o.on_packet(connack{false, 0, {property{prop::maximum_packet_size, std::uint32_t{64}}}}, t0);
    std::set<std::string> renewed;
    for (const auto& y : sent<subscribe>(x)) {
        for (const auto& f : y.subscriptions) renewed.insert(f.filter);
    }
    EXPECT_EQ(renewed, (std::set<std::string>{a, b}));
    const auto refused = of<action::subscribe_completed>(x);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].token, 11u);
    EXPECT_EQ(refused[0].filters, (std::vector<std::string>{a, b}));  // named in the log
}

TEST(mqtt5_session, MQTT_3_1_2_24_connect_tells_the_broker_the_largest_packet_this_client_takes) {
    auto o = opts5();
    o.maximum_packet_size = 1 << 20;
    session s(o);
    const auto c = sent<connect>(s.on_transport_connected(t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(integer_property(c[0].props, prop::maximum_packet_size), std::optional<std::uint32_t>{1u << 20});
    session unset(opts5());
    const auto d = sent<connect>(unset.on_transport_connected(t0));
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(integer_property(d[0].props, prop::maximum_packet_size), std::nullopt);
}

TEST(mqtt5_session, MQTT_3_2_2_15_a_maximum_packet_size_below_the_control_packets_closes_the_link) {
    session s(opts5());
    s.on_transport_connected(t0);
    s.publish(msg("a"), 1, t0);
    const auto a = s.on_packet(connack{false, 0, {property{prop::maximum_packet_size, std::uint32_t{3}}}}, t0);
    // Not even a DISCONNECT fits: nothing is sent, the link closes.
    EXPECT_EQ(sends(a), 0u);
    const auto c = of<action::close_connection>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::packet_size_unusable));
    EXPECT_EQ(s.state(), session::link::disconnected);
    EXPECT_EQ(s.queued(), 1u);  // the message waits for a usable link

    // 4 bytes carry every acknowledgement, a PINGREQ and a DISCONNECT.
    session t(opts5());
    t.on_transport_connected(t0);
    const auto b = t.on_packet(connack{false, 0, {property{prop::maximum_packet_size, std::uint32_t{4}}}}, t0);
    EXPECT_TRUE(of<action::close_connection>(b).empty());
    EXPECT_EQ(t.state(), session::link::connected);
}

// A CONNACK whose limits no server may send (Receive Maximum 0, Maximum
// Packet Size 0, Maximum QoS 2) is a Protocol Error: DISCONNECT 0x82 and the
// link closed, saying which, not a window or a size guessed from it; the
// message waits for the next link.
TEST(mqtt5_session, MQTT_3_2_2_connack_limits_no_server_may_send_close_the_link_as_a_protocol_error) {
    const std::vector<std::pair<property, std::string>> bad{
        {property{prop::receive_maximum, std::uint32_t{0}}, "CONNACK Receive Maximum 0"},
        {property{prop::maximum_packet_size, std::uint32_t{0}}, "CONNACK Maximum Packet Size 0"},
        {property{prop::maximum_qos, std::uint32_t{2}}, "CONNACK Maximum QoS 2"},
    };
    for (const auto& [p, said] : bad) {
        SCOPED_TRACE(said);
        session s(opts5());
        s.publish(msg("t", qos::at_least_once), 1, t0);
        s.on_transport_connected(t0);
        const auto a = s.on_packet(connack{false, 0, {p}}, t0);
        const auto d = sent<disconnect>(a);
        ASSERT_EQ(d.size(), 1u);
        EXPECT_EQ(d[0].reason_code, 0x82);
        EXPECT_TRUE(sent<publish>(a).empty());
        const auto c = of<action::close_connection>(a);
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0].reason, make_error_code(mqtt_errc::protocol_error));
        EXPECT_EQ(c[0].detail, said);
        EXPECT_EQ(s.state(), session::link::disconnected);
        EXPECT_EQ(s.queued(), 1u);
    }
}

TEST(mqtt5_session, MQTT_3_2_2_11_nothing_is_sent_above_the_brokers_maximum_qos) {
    // Maximum QoS 1: QoS 2 goes at QoS 1 (at least once; never below).
    auto s = connected5({property{prop::maximum_qos, std::uint32_t{1}}});
    const auto a = s.publish(msg("t", qos::exactly_once), 1, t0);
    const auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].qos, qos::at_least_once);
    const auto done = of<action::publish_completed>(s.on_packet(puback{p[0].packet_id, 0, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_FALSE(done[0].error);

    // Maximum QoS 0: QoS 1/2 messages wait (in order, QoS 0 behind them too)
    // rather than go out without a guarantee.
    auto z = connected5({property{prop::maximum_qos, std::uint32_t{0}}});
    EXPECT_TRUE(sent<publish>(z.publish(msg("q1"), 1, t0)).empty());
    EXPECT_TRUE(sent<publish>(z.publish(msg("q0", qos::at_most_once), 2, t0)).empty());
    EXPECT_TRUE(z.held_by_maximum_qos());
    EXPECT_EQ(z.queued(), 2u);
    // A broker that takes QoS 1 again gets them on the next connection.
    z.on_connection_lost(t0);
    z.on_transport_connected(t0);
    const auto again = sent<publish>(z.on_packet(connack{false, 0, {}}, t0));
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].topic, "q1");
    EXPECT_EQ(again[0].qos, qos::at_least_once);
}

// A session resumed by a broker that now takes QoS 0 only: its QoS 1/2
// flows are not resent at a QoS the broker refuses (a DISCONNECT 0x9B, and
// the same on every connection after); they wait in order, with what is
// queued behind them. A PUBREL is no PUBLISH: it still goes.
TEST(mqtt5_session, MQTT_3_2_2_11_a_resumed_flow_above_the_brokers_maximum_qos_waits) {
    session s(opts5());
    ASSERT_FALSE(s.restore(session_state{{flow(1, qos::exactly_once, inflight_state::pubrec_received),
                                          flow(2, qos::at_least_once), flow(3, qos::exactly_once)},
                                         {}}));
    s.on_transport_connected(t0);
    const auto a = s.on_packet(connack{true, 0, {property{prop::maximum_qos, std::uint32_t{0}}}}, t0);
    EXPECT_TRUE(of<action::close_connection>(a).empty());
    EXPECT_TRUE(sent<publish>(a).empty());
    ASSERT_EQ(sent<pubrel>(a).size(), 1u);
    EXPECT_EQ(sent<pubrel>(a)[0].packet_id, 1);
    EXPECT_TRUE(s.held_by_maximum_qos());
    EXPECT_TRUE(sent<publish>(s.publish(msg("q0", qos::at_most_once), 10, t0)).empty());
    // The PUBREL flow ends; the held flows still wait.
    EXPECT_TRUE(sent<publish>(s.on_packet(pubcomp{1, 0, {}}, t0)).empty());
    EXPECT_TRUE(s.held_by_maximum_qos());
    EXPECT_EQ(s.inflight(), 2u);

    // A broker that takes QoS 1 again: flow 2 as it was, flow 3 at QoS 1
    // (at least once, never below), then the QoS 0 message behind them.
    s.on_connection_lost(t0);
    s.on_transport_connected(t0);
    const auto again =
        sent<publish>(s.on_packet(connack{true, 0, {property{prop::maximum_qos, std::uint32_t{1}}}}, t0));
    ASSERT_EQ(ids_of(again), (std::vector<std::uint16_t>{2, 3, 0}));
    EXPECT_EQ(again[0].qos, qos::at_least_once);
    EXPECT_EQ(again[1].qos, qos::at_least_once);
    EXPECT_TRUE(again[1].dup);
    EXPECT_EQ(again[2].topic, "q0");
    EXPECT_FALSE(s.held_by_maximum_qos());
}

TEST(mqtt5_session, MQTT_3_2_2_14_no_retained_publish_to_a_broker_without_retain) {
    auto s = connected5({property{prop::retain_available, std::uint32_t{0}}});
    message m{"t", "v", qos::at_least_once, true};
    const auto p = sent<publish>(s.publish(m, 1, t0));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_FALSE(p[0].retain);
}

TEST(mqtt5_session, MQTT_3_3_2_8_topic_aliases_stay_within_the_brokers_maximum_and_last_one_connection) {
    auto s = connected5({property{prop::topic_alias_maximum, std::uint32_t{2}}});
    actions a;
    for (const auto* t : {"a", "b", "a", "c", "b", "c"}) {
        auto x = s.publish(msg(t, qos::at_most_once), 0, t0);
        a.insert(a.end(), x.begin(), x.end());
    }
    const auto p = sent<publish>(a);
    ASSERT_EQ(p.size(), 6u);
    // a: name + alias 1; b: name + alias 2; a: alias only; c: no alias left,
    // name only; b: alias only; c: name only.
    EXPECT_EQ(p[0].topic, "a");
    EXPECT_EQ(alias_of(p[0]), 1u);
    EXPECT_EQ(p[1].topic, "b");
    EXPECT_EQ(alias_of(p[1]), 2u);
    EXPECT_EQ(p[2].topic, "");
    EXPECT_EQ(alias_of(p[2]), 1u);
    EXPECT_EQ(p[3].topic, "c");
    EXPECT_FALSE(alias_of(p[3]));
    EXPECT_EQ(p[4].topic, "");
    EXPECT_EQ(alias_of(p[4]), 2u);
    EXPECT_EQ(p[5].topic, "c");
    for (const auto& x : p) EXPECT_TRUE(encode(x, protocol_version::v5)) << x.topic;

    // [MQTT-3.3.2-7]: a new connection starts without aliases, so a resent
    // PUBLISH carries its topic name again.
    auto r = connected5({property{prop::topic_alias_maximum, std::uint32_t{2}}});
    const auto first = sent<publish>(r.publish(msg("x"), 1, t0));
    ASSERT_EQ(first.size(), 1u);
    r.on_connection_lost(t0);
    r.on_transport_connected(t0);
    const auto resent = sent<publish>(
        r.on_packet(connack{true, 0, {property{prop::topic_alias_maximum, std::uint32_t{2}}}}, t0));
    ASSERT_EQ(resent.size(), 1u);
    EXPECT_TRUE(resent[0].dup);
    EXPECT_EQ(resent[0].topic, "x");
    EXPECT_EQ(alias_of(resent[0]), 1u);
}

// A broker may allow 65 535 aliases of topics up to 65 535 bytes each, and
// a command's Response Topic is the caller's to choose: the topics kept for
// aliases are bounded in bytes (max_alias_topic_bytes), not only in number.
TEST(mqtt5_session, topic_aliases_are_kept_for_at_most_max_alias_topic_bytes_of_topics) {
    auto s = connected5({property{prop::topic_alias_maximum, std::uint32_t{65535}}});
    const std::size_t size = 60'000;
    const auto fit = max_alias_topic_bytes / size;
    const auto topic = [&](std::size_t k) {
        return std::to_string(k) + std::string(size - 6, 'x') + "/reply";
    };
    for (std::size_t k = 0; k < fit + 20; ++k) {
        const auto p = sent<publish>(s.publish(msg(topic(k), qos::at_most_once), 0, t0));
        ASSERT_EQ(p.size(), 1u);
        EXPECT_EQ(p[0].topic, topic(k));
        if (k < fit) {
            EXPECT_EQ(alias_of(p[0]), k + 1) << k;
        } else {
            EXPECT_FALSE(alias_of(p[0])) << k << ": past the bound, the name alone";
        }
    }
    // Those kept still go by alias; a short topic fits in what is left.
    const auto again = sent<publish>(s.publish(msg(topic(0), qos::at_most_once), 0, t0));
    EXPECT_EQ(again.at(0).topic, "");
    EXPECT_EQ(alias_of(again.at(0)), 1u);
    const auto short_one = sent<publish>(s.publish(msg("plant/m1/v", qos::at_most_once), 0, t0));
    EXPECT_EQ(alias_of(short_one.at(0)), fit + 1);
}

TEST(mqtt5_session, MQTT_3_2_2_21_the_server_keep_alive_replaces_ours) {
    auto s = connected5({property{prop::server_keep_alive, std::uint32_t{3}}});
    EXPECT_EQ(s.keepalive(), 3s);
    EXPECT_TRUE(sent<pingreq>(s.on_timer(t0 + 2s)).empty());
    EXPECT_EQ(sent<pingreq>(s.on_timer(t0 + 3s)).size(), 1u);
}

TEST(mqtt5_session, an_assigned_client_identifier_is_kept_for_the_next_connection) {
    auto o = opts5();
    o.client_id.clear();
    auto s = connected5({property{prop::assigned_client_identifier, std::string("auto-42")}}, o);
    EXPECT_EQ(s.limits().assigned_client_id, "auto-42");
    s.on_connection_lost(t0);
    const auto c = sent<connect>(s.on_transport_connected(t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].client_id, "auto-42");
}

TEST(mqtt5_session, MQTT_4_3_2_a_refusing_puback_completes_the_message_with_its_reason) {
    auto s = connected5();
    const auto p = sent<publish>(s.publish(msg("t"), 9, t0));
    ASSERT_EQ(p.size(), 1u);
    const auto done = of<action::publish_completed>(s.on_packet(puback{p[0].packet_id, 0x87, {}}, t0));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, 9u);
    EXPECT_EQ(done[0].error, reason_code_error(0x87));
    EXPECT_EQ(s.inflight(), 0u);
    // "No matching subscribers" (0x10) is a success.
    const auto q = sent<publish>(s.publish(msg("u"), 10, t0));
    const auto ok = of<action::publish_completed>(s.on_packet(puback{q[0].packet_id, 0x10, {}}, t0));
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_FALSE(ok[0].error);
}

TEST(mqtt5_session, MQTT_4_3_3_a_refusing_pubrec_ends_the_flow_without_pubrel) {
    auto s = connected5();
    const auto p = sent<publish>(s.publish(msg("t", qos::exactly_once), 3, t0));
    ASSERT_EQ(p.size(), 1u);
    const auto a = s.on_packet(pubrec{p[0].packet_id, 0x97, {}}, t0);
    EXPECT_TRUE(sent<pubrel>(a).empty());
    const auto done = of<action::publish_completed>(a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].error, reason_code_error(0x97));
    // The id is free again.
    EXPECT_EQ(s.inflight(), 0u);
}

TEST(mqtt5_session, MQTT_3_14_a_server_disconnect_closes_with_its_reason_code_and_string) {
    auto s = connected5();
    const auto a = s.on_packet(disconnect{0x8B, {property{prop::reason_string, std::string("maintenance")}}}, t0);
    EXPECT_TRUE(sent<disconnect>(a).empty());  // [MQTT-3.14.4-2]: no answer
    const auto c = of<action::close_connection>(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].reason, reason_code_error(0x8B));
    EXPECT_EQ(c[0].reason.message(), "server shutting down");
    EXPECT_EQ(c[0].detail, "maintenance");

    // 0x00 (normal disconnection) is no error code; the link is lost all the
    // same, with a reason the log and `status` can show.
    auto t = connected5();
    const auto b = t.on_packet(disconnect{0x00, {}}, t0);
    const auto d = of<action::close_connection>(b);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].reason, make_error_code(mqtt_errc::connection_lost));
    EXPECT_EQ(d[0].detail, "the broker sent DISCONNECT 0x00 (normal disconnection)");
    EXPECT_EQ(t.state(), session::link::disconnected);
}

TEST(mqtt5_session, MQTT_4_13_1_1_a_protocol_error_sends_disconnect_with_the_reason_before_closing) {
    auto s = connected5();
    // AUTH without an authentication method of ours.
    const auto a = s.on_packet(auth{0x18, {}}, t0);
    const auto d = sent<disconnect>(a);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].reason_code, 0x82);
    ASSERT_EQ(of<action::close_connection>(a).size(), 1u);
    // The DISCONNECT comes before the close.
    EXPECT_TRUE(std::holds_alternative<action::send>(a.front()) || std::holds_alternative<action::cancel_timer>(a.front()));
}

TEST(mqtt5_session, MQTT_3_3_2_9_a_topic_alias_from_a_broker_that_was_given_none_is_refused) {
    auto s = connected5();
    const auto a = s.on_packet(publish{"", "v", qos::at_most_once, false, false, 0,
                                       {property{prop::topic_alias, std::uint32_t{1}}}},
                               t0);
    EXPECT_TRUE(of<action::deliver>(a).empty());
    const auto d = sent<disconnect>(a);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].reason_code, 0x94);
}

TEST(mqtt5_session, the_response_topic_and_correlation_data_of_a_request_reach_the_application) {
    auto s = connected5();
    const std::vector<std::uint8_t> corr{0x00, 0xFF, 0x10};
    const auto a = s.on_packet(publish{"cmd", "{}", qos::at_least_once, false, false, 5,
                                       {property{prop::response_topic, std::string("app/replies/7")},
                                        property{prop::correlation_data, corr}}},
                               t0);
    const auto d = of<action::deliver>(a);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].message.response_topic, "app/replies/7");
    EXPECT_EQ(d[0].message.correlation_data, std::string("\x00\xFF\x10", 3));

    // And an answer carries them out [MQTT-4.10.0 request/response].
    message answer{"app/replies/7", "{}", qos::at_least_once, false, {}, std::string("\x00\xFF\x10", 3)};
    const auto p = sent<publish>(s.publish(answer, 1, t0));
    ASSERT_EQ(p.size(), 1u);
    const auto* cd = find(p[0].props, prop::correlation_data);
    ASSERT_NE(cd, nullptr);
    EXPECT_EQ(std::get<std::vector<std::uint8_t>>(cd->value), corr);
}

TEST(mqtt5_session, a_311_session_sends_no_properties_and_treats_a_server_disconnect_as_a_protocol_error) {
    auto o = opts5();
    o.version = protocol_version::v3_1_1;
    session s(o);
    const auto c = sent<connect>(s.on_transport_connected(t0));
    EXPECT_TRUE(c[0].props.empty());
    s.on_packet(connack{false, 0, {}}, t0);
    message answer{"r", "{}", qos::at_least_once, false, "x", "y"};
    const auto p = sent<publish>(s.publish(answer, 1, t0));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_TRUE(p[0].props.empty());
    const auto closed = of<action::close_connection>(s.on_packet(disconnect{}, t0));
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0].reason, make_error_code(mqtt_errc::protocol_error));
}

// [MQTT-3.11.3-1]: a 5.0 UNSUBACK answers each filter. A refusal (0x80 or
// more) is reported with the filters as sent, even after one of them was
// subscribed again meanwhile; 0x11 (no subscription existed) is a success.
TEST(mqtt5_session, MQTT_3_11_3_1_an_unsuback_refusing_filters_is_reported_with_them) {
    auto s = connected5();
    const auto unsub = sent<unsubscribe>(s.unsubscribe({"a/#", "b/#", "c/#"}, t0));
    ASSERT_EQ(unsub.size(), 1u);
    s.subscribe({subscription{"b/#", qos::at_least_once}}, 0, t0);  // b/# again, before the UNSUBACK
    const auto refused = of<action::unsubscribe_refused>(s.on_packet(unsuback{unsub[0].packet_id, {0x00, 0x87, 0x11}, {}}, t0));
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].filters, (std::vector<std::string>{"a/#", "b/#", "c/#"}));
    EXPECT_EQ(refused[0].reason_codes, (std::vector<std::uint8_t>{0x00, 0x87, 0x11}));
    // Answered once: a second UNSUBACK for the id is one for nothing of ours.
    EXPECT_TRUE(of<action::unsubscribe_refused>(s.on_packet(unsuback{unsub[0].packet_id, {0x87}, {}}, t0)).empty());

    const auto ok = sent<unsubscribe>(s.unsubscribe({"d/#"}, t0));
    ASSERT_EQ(ok.size(), 1u);
    const auto answered = s.on_packet(unsuback{ok[0].packet_id, {0x11}, {}}, t0);
    EXPECT_TRUE(of<action::unsubscribe_refused>(answered).empty());
    EXPECT_TRUE(of<action::close_connection>(answered).empty());
}

// [MQTT-2.2.1-3]: an UNSUBSCRIBE's packet id stays in use until its
// UNSUBACK, also when every filter it carried was subscribed again and
// another UNSUBSCRIBE goes out meanwhile: its UNSUBACK is still its own.
TEST(mqtt5_session, MQTT_2_2_1_3_an_unsubscribe_whose_filters_were_subscribed_again_waits_for_its_unsuback) {
    auto s = connected5();
    const auto first = sent<unsubscribe>(s.unsubscribe({"a/#"}, t0));
    ASSERT_EQ(first.size(), 1u);
    s.subscribe({subscription{"a/#", qos::at_least_once}}, 0, t0);
    const auto second = sent<unsubscribe>(s.unsubscribe({"b/#"}, t0));
    ASSERT_EQ(second.size(), 1u);
    EXPECT_NE(second[0].packet_id, first[0].packet_id);
    const auto refused = of<action::unsubscribe_refused>(s.on_packet(unsuback{first[0].packet_id, {0x87}, {}}, t0));
    ASSERT_EQ(refused.size(), 1u) << "the first UNSUBACK was taken for nothing of ours";
    EXPECT_EQ(refused[0].filters, std::vector<std::string>{"a/#"});
}

}  // namespace
}  // namespace fieldbridge::mqtt
