// The MQTT 5.0 client against a real mosquitto on loopback: what the broker
// announces in its CONNACK is honoured on the wire (a broker that enforces
// its limits disconnects a client that breaks them), persistent sessions
// live as long as their Session Expiry Interval, a refusing PUBACK ends the
// message with its reason, and request/response properties travel both
// ways. (A broker's DISCONNECT reason: tests/mqtt/client_fault_test.cpp.)
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mqtt/client.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "tests/mqtt/client_harness.hpp"

namespace fieldbridge::mqtt {
namespace {

client_options v5_options(const mosquitto_broker& b, std::string id) {
    auto o = options_for(b, std::move(id));
    o.version = protocol_version::v5;
    return o;
}

mosquitto_broker broker_with(std::string extra) {
    mosquitto_broker::options o;
    o.extra_config = std::move(extra);
    return mosquitto_broker(o);
}

TEST(mqtt5_client, publishes_at_every_qos_with_topic_aliases_and_receives_its_subscription) {
    auto broker = broker_with("max_topic_alias 3\n");
    asio::io_context io;
    client c(io.get_executor(), v5_options(broker, "v5-qos"));
    inbox in;
    c.subscribe("t/#", qos::exactly_once, in.handler());
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    EXPECT_EQ(c.stats().limits.topic_alias_maximum, 3);

    // Five topics over three aliases, each topic several times: a wrong
    // alias would be delivered under the wrong topic or refused by the broker.
    int acked = 0;
    std::vector<std::string> expected;
    for (int round = 0; round < 4; ++round) {
        for (int t = 0; t < 5; ++t) {
            const auto q = static_cast<qos>(t % 3);
            const std::string topic = "t/" + std::to_string(t);
            c.publish(message{topic, topic + "#" + std::to_string(round), q, false},
                      [&](std::error_code ec) { acked += ec ? 0 : 1; });
            expected.push_back(topic + "#" + std::to_string(round));
        }
    }
    ASSERT_TRUE(run_until(io, [&] { return acked == 20 && in.messages.size() == 20; }, 10s))
        << acked << " acked, " << in.messages.size() << " received; " << c.stats().last_error;
    for (const auto& m : in.messages) {
        EXPECT_EQ(m.payload.substr(0, m.payload.find('#')), m.topic) << "delivered under the wrong topic";
    }
    EXPECT_EQ(c.stats().connects, 1u) << c.stats().last_error;
    stop_and_wait(io, c);
}

// [MQTT-3.8.3-3] No Local: the broker does not send a client's own
// publications back to it on that subscription; another client's arrive.
// [MQTT-3.10.4-1] with 5.0 too: an unsubscribed filter receives nothing more.
TEST(mqtt5_client, MQTT_3_8_3_3_no_local_keeps_its_own_publications_away_and_unsubscribe_ends_a_filter) {
    mosquitto_broker broker;
    asio::io_context io;
    client c(io.get_executor(), v5_options(broker, "v5-nolocal"));
    client other(io.get_executor(), v5_options(broker, "v5-other"));
    inbox in;
    subscription quiet{"cmd/#", qos::at_least_once};
    quiet.no_local = true;
    c.subscribe(quiet, in.handler());
    c.subscribe("marker", qos::at_least_once, in.handler());
    c.start();
    other.start();
    ASSERT_TRUE(run_until(io, [&] {
        return c.state() == link_state::connected && other.state() == link_state::connected;
    }, 10s)) << c.stats().last_error;

    c.publish(message{"cmd/own", "mine", qos::at_least_once, false});
    c.publish(message{"marker", "1", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("marker") == 1; }, 10s));
    EXPECT_EQ(in.count("cmd/own"), 0u);  // published before the marker, never delivered

    other.publish(message{"cmd/theirs", "x", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("cmd/theirs") == 1; }, 10s));

    // The marker goes on the connection after the UNSUBSCRIBE: back, it
    // says the broker took the UNSUBSCRIBE.
    c.unsubscribe("cmd/#");
    c.publish(message{"marker", "2", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("marker") == 2; }, 10s));
    other.publish(message{"cmd/theirs", "y", qos::at_least_once, false});
    other.publish(message{"marker", "3", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("marker") == 3; }, 10s));
    EXPECT_EQ(in.count("cmd/theirs"), 1u);
    EXPECT_EQ(c.stats().connects, 1u) << c.stats().last_error;  // no protocol error on the way
    stop_and_wait(io, other);
    stop_and_wait(io, c);
}

TEST(mqtt5_client, honours_the_receive_maximum_packet_size_maximum_qos_retain_and_keepalive_the_broker_announces) {
    auto broker = broker_with(
        "max_inflight_messages 3\nmax_packet_size 300\nmax_qos 1\nretain_available false\nmax_keepalive 20\n");
    asio::io_context io;
    auto o = v5_options(broker, "v5-limits");
    o.keepalive = 60s;  // above the broker's maximum: it answers with Server Keep Alive
    client c(io.get_executor(), o);
    inbox in;
    c.subscribe("l/#", qos::at_least_once, in.handler());
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    const auto limits = c.stats().limits;
    EXPECT_EQ(limits.receive_maximum, 3);
    EXPECT_EQ(limits.maximum_packet_size, 300u);
    EXPECT_EQ(limits.maximum_qos, qos::at_least_once);
    EXPECT_FALSE(limits.retain_available);
    EXPECT_EQ(c.stats().keepalive, 20s);

    // 200 QoS 1 and 2 messages, never more than 3 unacknowledged, QoS 2 sent
    // at QoS 1, retained ones sent plain; one too large for the broker is
    // refused locally and the stream goes on behind it.
    int acked = 0;
    int failed = 0;
    std::error_code too_large;
    std::size_t most_inflight = 0;
    for (int i = 0; i < 200; ++i) {
        if (i == 100) {
            c.publish(message{"l/big", std::string(400, 'x'), qos::at_least_once, false},
                      [&](std::error_code ec) { too_large = ec; });
        }
        c.publish(message{"l/" + std::to_string(i % 7), std::to_string(i), i % 2 ? qos::exactly_once : qos::at_least_once,
                          i % 5 == 0},
                  [&](std::error_code ec) { (ec ? failed : acked) += 1; });
    }
    ASSERT_TRUE(run_until(io, [&] {
        most_inflight = std::max(most_inflight, c.stats().inflight);
        return acked + failed == 200 && in.messages.size() == 200;
    }, 20s)) << acked << " acked, " << in.messages.size() << " received; " << c.stats().last_error;
    EXPECT_EQ(failed, 0);
    EXPECT_LE(most_inflight, 3u);
    EXPECT_EQ(too_large, make_error_code(mqtt_errc::exceeds_broker_packet_size));
    for (std::size_t i = 0; i < in.messages.size(); ++i) {
        EXPECT_EQ(in.messages[i].payload, std::to_string(i));  // in order
        EXPECT_FALSE(in.messages[i].retain);
    }
    // A broker that had seen a broken limit would have disconnected us.
    EXPECT_EQ(c.stats().connects, 1u) << c.stats().last_error << broker.log();
    stop_and_wait(io, c);
}

TEST(mqtt5_client, a_persistent_session_lives_as_long_as_its_session_expiry_interval) {
    mosquitto_broker broker;
    asio::io_context io;
    client sender(io.get_executor(), v5_options(broker, "v5-sender"));
    sender.start();

    // Subscribes, leaves, misses ten messages, comes back: it gets them when
    // its session was kept (expiry 300 s), not when it ended with the link
    // (expiry 0).
    const auto round = [&](std::string id, std::uint32_t expiry) {
        auto o = v5_options(broker, id);
        o.clean_session = false;
        o.session_expiry = expiry;
        inbox in;
        {
            client away(io.get_executor(), o);
            away.subscribe("ps/" + id, qos::at_least_once, in.handler());
            away.start();
            EXPECT_TRUE(run_until(io, [&] { return away.state() == link_state::connected; }, 10s));
            // The SUBACK is in once a message of its own comes back.
            int probe = 0;
            away.publish(message{"ps/" + id, "probe", qos::at_least_once, false});
            EXPECT_TRUE(run_until(io, [&] { return (probe = static_cast<int>(in.messages.size())) == 1; }, 10s));
            stop_and_wait(io, away);
        }
        int acked = 0;
        for (int i = 0; i < 10; ++i) {
            sender.publish(message{"ps/" + id, std::to_string(i), qos::at_least_once, false},
                           [&](std::error_code ec) { acked += ec ? 0 : 1; });
        }
        EXPECT_TRUE(run_until(io, [&] { return acked == 10; }, 10s));
        client back(io.get_executor(), o);
        back.subscribe("ps/" + id, qos::at_least_once, in.handler());
        back.start();
        EXPECT_TRUE(run_until(io, [&] { return back.state() == link_state::connected; }, 10s));
        // Either all ten arrive, or (session gone) none do; a probe published
        // after reconnecting marks the end of what the broker had queued.
        back.publish(message{"ps/" + id, "end", qos::at_least_once, false});
        EXPECT_TRUE(run_until(io, [&] { return !in.messages.empty() && in.messages.back().payload == "end"; }, 10s));
        stop_and_wait(io, back);
        return in.messages.size() - 2;  // without the two probes
    };
    EXPECT_EQ(round("kept", 300), 10u);
    EXPECT_EQ(round("ended", 0), 0u);
    stop_and_wait(io, sender);
}

TEST(mqtt5_client, a_puback_refusal_completes_the_message_with_its_reason_and_the_stream_goes_on) {
    const auto acl = std::filesystem::temp_directory_path() / ("fieldbridge-acl-" + std::to_string(::getpid()));
    std::ofstream(acl) << "topic readwrite ok/#\n";
    auto broker = broker_with("acl_file " + acl.string() + "\n");
    asio::io_context io;
    client c(io.get_executor(), v5_options(broker, "v5-acl"));
    c.start();
    std::error_code denied = make_error_code(mqtt_errc::connection_lost);
    std::error_code allowed = make_error_code(mqtt_errc::connection_lost);
    c.publish(message{"forbidden/x", "1", qos::at_least_once, false}, [&](std::error_code ec) { denied = ec; });
    c.publish(message{"ok/x", "2", qos::at_least_once, false}, [&](std::error_code ec) { allowed = ec; });
    ASSERT_TRUE(run_until(io, [&] { return allowed != make_error_code(mqtt_errc::connection_lost); }, 10s))
        << c.stats().last_error;
    EXPECT_EQ(denied, reason_code_error(0x87)) << denied.message();
    EXPECT_FALSE(allowed) << allowed.message();
    EXPECT_EQ(c.stats().refused, 1u);
    EXPECT_EQ(c.stats().connects, 1u);
    stop_and_wait(io, c);
    std::filesystem::remove(acl);
}

TEST(mqtt5_client, response_topic_correlation_data_and_user_properties_travel_with_the_message) {
    mosquitto_broker broker;
    asio::io_context io;
    client a(io.get_executor(), v5_options(broker, "v5-requester"));
    client b(io.get_executor(), v5_options(broker, "v5-responder"));
    inbox requests;
    inbox answers;
    b.subscribe("req", qos::at_least_once, requests.handler());
    a.subscribe("ans/#", qos::at_least_once, answers.handler());
    a.start();
    b.start();
    ASSERT_TRUE(run_until(io, [&] { return a.state() == link_state::connected && b.state() == link_state::connected; },
                          10s));
    const std::string correlation("\x01\x00\xFE", 3);
    // Until b's subscription is in, a request may find nobody: repeat it.
    ASSERT_TRUE(run_until(io, [&] {
        if (requests.messages.empty()) {
            a.publish(message{"req", "q", qos::at_least_once, false, "ans/1", correlation,
                              {{"historical", "true"}, {"k", ""}, {"historical", "again"}}});
        }
        return !requests.messages.empty();
    }, 10s));
    const auto& r = requests.messages.front();
    EXPECT_EQ(r.response_topic, "ans/1");
    EXPECT_EQ(r.correlation_data, correlation);
    // In order, duplicates and empty values kept (MQTT 5.0, 3.3.2.3.7).
    EXPECT_EQ(r.user_properties, (std::vector<std::pair<std::string, std::string>>{
                                     {"historical", "true"}, {"k", ""}, {"historical", "again"}}));
    b.publish(message{r.response_topic, "a", qos::at_least_once, false, {}, r.correlation_data});
    ASSERT_TRUE(run_until(io, [&] { return !answers.messages.empty(); }, 10s));
    EXPECT_EQ(answers.messages.front().correlation_data, correlation);
    stop_and_wait(io, a);
    stop_and_wait(io, b);
}

}  // namespace
}  // namespace fieldbridge::mqtt
