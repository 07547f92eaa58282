// The client against a scripted broker (tests/mqtt/fake_broker.hpp) for the
// faults a real broker will not produce on demand: the link dropped right
// after a PUBLISH or a PUBREC, Session Present = 0 for a session the client
// expects, a Receive Maximum of 1, malformed packets, a DISCONNECT with a
// reason. Each script runs on its own thread and checks what the client put
// on the wire; the client runs on the test thread. Named after the normative
// statements they check, for both protocol versions where the behaviour is
// common.
#include <future>

#include "mqtt/client.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "tests/mqtt/client_harness.hpp"
#include "tests/mqtt/fake_broker.hpp"

namespace fieldbridge::mqtt {
namespace {

using testing::fake_broker;
using testing::fake_connection;

client_options options_for_fake(const fake_broker& b, protocol_version v) {
    client_options o;
    o.version = v;
    o.host = "127.0.0.1";
    o.port = b.port();
    o.client_id = "under-test";
    o.keepalive = 30s;
    o.clean_session = false;
    o.session_expiry = v == protocol_version::v5 ? 3600 : 0;
    o.reconnect_min = 20ms;
    o.reconnect_max = 100ms;
    o.connect_timeout = 5s;
    return o;
}

template <class T>
std::optional<T> next(fake_connection& c) {
    auto p = c.receive_skipping_pings();
    if (!p) return std::nullopt;
    if (const auto* x = std::get_if<T>(&*p)) return *x;
    ADD_FAILURE() << "expected " << name_of(type_of(packet{T{}})) << ", got " << name_of(type_of(*p));
    return std::nullopt;
}

// Runs the client's io until the script has finished (or 20 s passed).
void run_script(asio::io_context& io, std::future<void>& script) {
    ASSERT_TRUE(run_until(io, [&] { return script.wait_for(0s) == std::future_status::ready; }, 20s))
        << "the broker script did not finish";
    script.get();  // rethrows what the script threw
}

class client_faults : public ::testing::TestWithParam<protocol_version> {};

std::string version_name(const ::testing::TestParamInfo<protocol_version>& i) {
    return i.param == protocol_version::v5 ? "v5" : "v311";
}

TEST_P(client_faults, MQTT_4_4_0_1_a_publish_cut_off_before_its_puback_is_resent_with_dup_and_the_same_id) {
    fake_broker broker(GetParam());
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, GetParam()));
    std::error_code result = make_error_code(mqtt_errc::connection_lost);
    bool done = false;
    c.publish(message{"a/1", "x", qos::at_least_once, false}, [&](std::error_code ec) { result = ec; done = true; });
    auto script = std::async(std::launch::async, [&] {
        auto first = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(first);
        const auto p = next<publish>(*first);
        ASSERT_TRUE(p);
        EXPECT_FALSE(p->dup);
        first->drop();  // right after the PUBLISH, before the PUBACK

        auto second = broker.accept_session(connack{true, 0, {}});
        ASSERT_TRUE(second);
        const auto again = next<publish>(*second);
        ASSERT_TRUE(again);
        EXPECT_TRUE(again->dup);                        // [MQTT-3.3.1-1]
        EXPECT_EQ(again->packet_id, p->packet_id);      // the same flow
        EXPECT_EQ(again->payload, "x");
        second->send(puback{again->packet_id, 0, {}});
        EXPECT_TRUE(second->closed_by_client());  // the test stops the client once the PUBACK is in
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return done; }, 20s)) << c.stats().last_error;
    EXPECT_FALSE(result) << result.message();
    stop_and_wait(io, c);
    run_script(io, script);
}

TEST_P(client_faults, MQTT_4_3_3_1_after_pubrec_only_pubrel_is_resent_never_the_publish) {
    fake_broker broker(GetParam());
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, GetParam()));
    bool done = false;
    std::error_code result;
    c.publish(message{"a/2", "y", qos::exactly_once, false}, [&](std::error_code ec) { result = ec; done = true; });
    auto script = std::async(std::launch::async, [&] {
        auto first = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(first);
        const auto p = next<publish>(*first);
        ASSERT_TRUE(p);
        first->send(pubrec{p->packet_id, 0, {}});
        const auto rel = next<pubrel>(*first);
        ASSERT_TRUE(rel);
        first->drop();  // right after the PUBREC's answer, before PUBCOMP

        auto second = broker.accept_session(connack{true, 0, {}});
        ASSERT_TRUE(second);
        auto q = second->receive_skipping_pings();
        ASSERT_TRUE(q);
        ASSERT_TRUE(std::holds_alternative<pubrel>(*q)) << "got " << name_of(type_of(*q));
        EXPECT_EQ(std::get<pubrel>(*q).packet_id, p->packet_id);
        second->send(pubcomp{p->packet_id, 0, {}});
        // Nothing else comes: in particular not the PUBLISH again.
        const auto extra = second->receive_skipping_pings(300ms);
        EXPECT_FALSE(extra) << "unexpected " << name_of(type_of(*extra));
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return done; }, 20s)) << c.stats().last_error;
    EXPECT_FALSE(result);
    run_script(io, script);
    stop_and_wait(io, c);
}

TEST_P(client_faults, without_session_present_unacknowledged_messages_go_again_as_new_ones_in_order) {
    fake_broker broker(GetParam());
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, GetParam()));
    int acked = 0;
    for (int i = 0; i < 3; ++i) {
        c.publish(message{"n/" + std::to_string(i), std::to_string(i), i == 1 ? qos::exactly_once : qos::at_least_once,
                          false},
                  [&](std::error_code ec) { acked += ec ? 0 : 1; });
    }
    auto script = std::async(std::launch::async, [&] {
        auto first = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(first);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(next<publish>(*first));
        first->drop();

        // The broker lost the session (restarted without persistence).
        auto second = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(second);
        std::vector<publish> again;
        for (int i = 0; i < 3; ++i) {
            const auto p = next<publish>(*second);
            ASSERT_TRUE(p);
            EXPECT_EQ(p->payload, std::to_string(i));  // in the original order
            EXPECT_FALSE(p->dup);                     // new messages, not resends
            again.push_back(*p);
        }
        for (const auto& p : again) {
            if (p.qos == qos::at_least_once) {
                second->send(puback{p.packet_id, 0, {}});
            } else {
                second->send(pubrec{p.packet_id, 0, {}});
                const auto rel = next<pubrel>(*second);
                ASSERT_TRUE(rel);
                second->send(pubcomp{rel->packet_id, 0, {}});
            }
        }
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return acked == 3; }, 20s)) << c.stats().last_error;
    run_script(io, script);
    stop_and_wait(io, c);
}

TEST_P(client_faults, MQTT_4_8_0_1_malformed_bytes_from_the_broker_close_the_link_and_the_client_reconnects) {
    fake_broker broker(GetParam());
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, GetParam()));
    bool done = false;
    c.publish(message{"m/1", "z", qos::at_least_once, false}, [&](std::error_code ec) { done = !ec; });
    const bool v5 = GetParam() == protocol_version::v5;
    auto script = std::async(std::launch::async, [&] {
        // Each connection gets a different kind of garbage.
        const std::vector<std::vector<std::uint8_t>> garbage{
            {0x00, 0x00},                          // packet type 0
            {0x40, 0x02, 0x00},                    // PUBACK cut short (then nothing more)
            {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F},  // a remaining length of five bytes
            {0x32, 0x04, 0x00, 0x01, 't', 0x00},   // QoS 1 PUBLISH without room for its id
        };
        for (std::size_t i = 0; i < garbage.size(); ++i) {
            auto conn = broker.accept_session(connack{false, 0, {}});
            ASSERT_TRUE(conn) << "connection " << i;
            ASSERT_TRUE(next<publish>(*conn));
            conn->send_bytes(garbage[i]);
            if (i == 1) {
                conn->drop();  // a truncated packet is only seen as such when the link ends
                continue;
            }
            if (v5) {
                // [MQTT-4.13.1-1]: DISCONNECT 0x81 before the close.
                const auto d = next<disconnect>(*conn);
                ASSERT_TRUE(d) << "connection " << i;
                EXPECT_EQ(d->reason_code, 0x81);
            }
            EXPECT_TRUE(conn->closed_by_client()) << "connection " << i;
        }
        auto last = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(last);
        const auto p = next<publish>(*last);
        ASSERT_TRUE(p);
        last->send(puback{p->packet_id, 0, {}});
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return done; }, 20s)) << c.stats().last_error;
    run_script(io, script);
    EXPECT_GE(c.stats().connects, 5u);
    stop_and_wait(io, c);
}

// A broker that takes QoS 1 only and answers a QoS 2 PUBLISH with PUBACK
// (as some message brokers' MQTT adapters do): the message is complete,
// counted as downgraded, and the link stays: no reconnect, no resend.
TEST_P(client_faults, a_qos2_publish_answered_with_puback_is_taken_as_delivered_at_qos1_without_a_reconnect) {
    fake_broker broker(GetParam());
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, GetParam()));
    int completed = 0;
    std::error_code result = make_error_code(mqtt_errc::connection_lost);
    for (int i = 0; i < 3; ++i) {
        c.publish(message{"a/3", std::to_string(i), qos::exactly_once, false}, [&](std::error_code ec) {
            result = ec;
            ++completed;
        });
    }
    auto script = std::async(std::launch::async, [&] {
        auto link = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(link);
        for (int i = 0; i < 3; ++i) {
            const auto p = next<publish>(*link);
            ASSERT_TRUE(p);
            EXPECT_EQ(p->payload, std::to_string(i));
            EXPECT_FALSE(p->dup);
            link->send(puback{p->packet_id, 0, {}});
        }
        EXPECT_TRUE(link->closed_by_client());  // by the test's stop, not over a protocol error
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return completed == 3; }, 20s)) << c.stats().last_error;
    EXPECT_FALSE(result) << result.message();
    const auto s = c.stats();
    EXPECT_EQ(s.downgraded, 3u);
    EXPECT_EQ(s.acknowledged, 3u);
    EXPECT_EQ(s.connects, 1u);
    EXPECT_EQ(s.disconnects, 0u);
    stop_and_wait(io, c);
    run_script(io, script);
}

// A broker that closes every link right after its CONNACK: the reconnect
// back-off grows instead of restarting at its minimum after each CONNACK.
TEST_P(client_faults, links_that_end_right_after_connack_are_retried_with_a_growing_back_off) {
    fake_broker broker(GetParam());
    asio::io_context io;
    auto o = options_for_fake(broker, GetParam());
    o.reconnect_min = 100ms;
    o.reconnect_max = 800ms;
    client c(io.get_executor(), o);
    std::vector<std::chrono::steady_clock::time_point> accepted;
    auto script = std::async(std::launch::async, [&] {
        for (int i = 0; i < 5; ++i) {
            auto link = broker.accept_session(connack{false, 0, {}});
            ASSERT_TRUE(link);
            accepted.push_back(std::chrono::steady_clock::now());
            link->drop();
        }
    });
    c.start();
    run_script(io, script);
    ASSERT_EQ(accepted.size(), 5u);
    // Jittered doubling from 100 ms: the last gap is far longer than the first
    // (a back-off restarted at every CONNACK keeps every gap near 100 ms).
    const auto first = accepted[1] - accepted[0];
    const auto last = accepted[4] - accepted[3];
    EXPECT_GE(last, 300ms) << "gaps did not grow: " << std::chrono::duration_cast<std::chrono::milliseconds>(last).count() << " ms";
    EXPECT_GT(last, first);
    stop_and_wait(io, c);
}

INSTANTIATE_TEST_SUITE_P(both_versions, client_faults,
                         ::testing::Values(protocol_version::v3_1_1, protocol_version::v5), version_name);

TEST(client_faults_v5, MQTT_3_3_4_7_a_receive_maximum_of_1_allows_one_unacknowledged_publish_at_a_time) {
    fake_broker broker(protocol_version::v5);
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, protocol_version::v5));
    int acked = 0;
    for (int i = 0; i < 5; ++i) {
        c.publish(message{"r/" + std::to_string(i), std::to_string(i), qos::at_least_once, false},
                  [&](std::error_code ec) { acked += ec ? 0 : 1; });
    }
    auto script = std::async(std::launch::async, [&] {
        auto conn = broker.accept_session(connack{false, 0, {property{prop::receive_maximum, std::uint32_t{1}}}});
        ASSERT_TRUE(conn);
        for (int i = 0; i < 5; ++i) {
            const auto p = next<publish>(*conn);
            ASSERT_TRUE(p);
            EXPECT_EQ(p->payload, std::to_string(i));
            // While this one is unacknowledged, the next must not come.
            const auto early = conn->receive_skipping_pings(150ms);
            EXPECT_FALSE(early) << "a second PUBLISH inside a Receive Maximum of 1";
            conn->send(puback{p->packet_id, 0, {}});
        }
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return acked == 5; }, 20s)) << c.stats().last_error;
    run_script(io, script);
    stop_and_wait(io, c);
}

TEST(client_faults_v5, a_disconnect_from_the_broker_is_reported_with_its_reason_and_the_client_reconnects) {
    fake_broker broker(protocol_version::v5);
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, protocol_version::v5));
    std::promise<void> looked;
    auto script = std::async(std::launch::async, [&, go_on = looked.get_future()] {
        auto conn = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(conn);
        conn->send(disconnect{0x8B, {property{prop::reason_string, std::string("maintenance window")}}});
        EXPECT_TRUE(conn->closed_by_client());
        go_on.wait_for(20s);  // until the test has read the client's last error
        auto again = broker.accept_session(connack{false, 0, {}});
        ASSERT_TRUE(again);
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.stats().disconnects == 1; }, 10s));
    EXPECT_NE(c.stats().last_error.find("server shutting down"), std::string::npos) << c.stats().last_error;
    EXPECT_NE(c.stats().last_error.find("maintenance window"), std::string::npos) << c.stats().last_error;
    looked.set_value();
    ASSERT_TRUE(run_until(io, [&] { return c.stats().connects == 2; }, 10s));
    run_script(io, script);
    stop_and_wait(io, c);
}

TEST(client_faults_v5, a_refused_connack_is_reported_with_its_reason_and_retried) {
    fake_broker broker(protocol_version::v5);
    asio::io_context io;
    client c(io.get_executor(), options_for_fake(broker, protocol_version::v5));
    auto script = std::async(std::launch::async, [&] {
        auto conn = broker.accept_session(connack{false, 0x87, {}});
        ASSERT_TRUE(conn);
        EXPECT_TRUE(conn->closed_by_client());
        ASSERT_TRUE(broker.accept_session(connack{false, 0, {}}));
    });
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return !c.stats().last_error.empty(); }, 10s));
    EXPECT_NE(c.stats().last_error.find("not authorized"), std::string::npos) << c.stats().last_error;
    run_script(io, script);
    stop_and_wait(io, c);
}

}  // namespace
}  // namespace fieldbridge::mqtt
