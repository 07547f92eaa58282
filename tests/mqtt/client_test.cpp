// The MQTT client against a real mosquitto on loopback: every QoS arrives,
// messages published while the broker is down go out when it returns, a
// killed broker is reconnected to, TLS is verified, and a clean stop does not
// fire the will while a lost link does.
#include "mqtt/client.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "mqtt/error.hpp"
#include "tests/mqtt/client_harness.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/tcp_proxy.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::mqtt {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using fieldbridge::testing::mosquitto_broker;
using fieldbridge::testing::tcp_proxy;

TEST(mqtt_client, publishes_at_every_qos_and_receives_its_subscription) {
    mosquitto_broker broker;
    asio::io_context io;
    client c(io.get_executor(), options_for(broker, "qos-test"));
    inbox in;
    c.subscribe("t/#", qos::exactly_once, in.handler());
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;

    std::vector<std::error_code> results;
    // The subscription is in place before the CONNACK'd client publishes:
    // the SUBSCRIBE went out first on the same connection.
    for (const auto q : {qos::at_most_once, qos::at_least_once, qos::exactly_once}) {
        c.publish(message{"t/" + std::to_string(static_cast<int>(q)), "x", q, false},
                  [&](std::error_code ec) { results.push_back(ec); });
    }
    ASSERT_TRUE(run_until(io, [&] { return results.size() == 3 && in.messages.size() == 3; }, 10s))
        << in.messages.size() << " messages, " << results.size() << " completions";
    for (const auto& r : results) EXPECT_FALSE(r) << r.message();
    EXPECT_EQ(in.count("t/0"), 1u);
    EXPECT_EQ(in.count("t/1"), 1u);
    EXPECT_EQ(in.count("t/2"), 1u);
    EXPECT_EQ(c.stats().acknowledged, 3u);
    stop_and_wait(io, c);
}

// [MQTT-3.10.4-1]: after UNSUBSCRIBE the broker stops sending the filter's
// messages. Order on one connection stands in for "never": a marker
// published after the message on the old filter arrives, and it alone.
TEST(mqtt_client, MQTT_3_10_4_1_an_unsubscribed_filter_receives_nothing_more) {
    mosquitto_broker broker;
    asio::io_context io;
    client c(io.get_executor(), options_for(broker, "unsub-test"));
    inbox in;
    c.subscribe("old/#", qos::at_least_once, in.handler());
    c.subscribe("marker", qos::at_least_once, in.handler());
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    c.publish(message{"old/1", "before", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("old/1") == 1; }, 10s));

    c.unsubscribe("old/#");
    c.publish(message{"old/1", "after", qos::at_least_once, false});
    c.publish(message{"marker", "m", qos::at_least_once, false});
    ASSERT_TRUE(run_until(io, [&] { return in.count("marker") == 1; }, 10s));
    EXPECT_EQ(in.count("old/1"), 1u);
    EXPECT_EQ(in.last("old/1"), "before");
    stop_and_wait(io, c);
}

// A client may publish to a gateway's command topics a message as large as
// the broker takes (256 MB by default); the receiving client never holds
// more than its limit of it. With 3.1.1 the broker cannot be told: the
// message is acknowledged and dropped, and what follows it arrives. With
// 5.0 the broker is told and does not send it.
TEST(mqtt_client, a_message_over_the_receivers_limit_is_dropped_and_the_next_one_arrives) {
    mosquitto_broker broker;
    for (const auto v : {protocol_version::v3_1_1, protocol_version::v5}) {
        asio::io_context io;
        auto o = options_for(broker, v == protocol_version::v5 ? "small-v5" : "small-v311");
        o.version = v;
        o.max_incoming_packet = 4096;
        client receiver(io.get_executor(), o);
        inbox in;
        receiver.subscribe("big/#", qos::at_least_once, in.handler());
        client sender(io.get_executor(), options_for(broker, "sender"));
        receiver.start();
        sender.start();
        ASSERT_TRUE(run_until(io, [&] {
            return receiver.state() == link_state::connected && sender.state() == link_state::connected;
        }, 10s));
        // Once a probe arrives the subscription is in place; the sender's
        // messages after it arrive in order.
        for (int attempt = 0; attempt < 50 && in.count("big/0") == 0; ++attempt) {
            sender.publish(message{"big/0", "probe", qos::at_least_once, false});
            (void)run_until(io, [&] { return in.count("big/0") > 0; }, 200ms);
        }
        ASSERT_GT(in.count("big/0"), 0u);
        int done = 0;
        sender.publish(message{"big/1", std::string(3 << 20, 'x'), qos::at_least_once, false},
                       [&](std::error_code) { ++done; });
        sender.publish(message{"big/2", "small", qos::at_least_once, false}, [&](std::error_code) { ++done; });
        ASSERT_TRUE(run_until(io, [&] { return done == 2 && in.count("big/2") == 1; }, 20s))
            << "version " << static_cast<int>(v) << ": " << in.messages.size() << " messages";
        EXPECT_EQ(in.count("big/1"), 0u);
        EXPECT_EQ(receiver.stats().disconnects, 0u);
        stop_and_wait(io, sender);
        stop_and_wait(io, receiver);
    }
}

TEST(mqtt_client, messages_published_while_the_broker_is_down_go_out_when_it_returns) {
    mosquitto_broker broker;
    asio::io_context io;
    client c(io.get_executor(), options_for(broker, "outage-test"));
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s));

    broker.stop();
    ASSERT_TRUE(run_until(io, [&] { return c.state() != link_state::connected; }, 10s));
    int acked = 0;
    for (int i = 0; i < 50; ++i) {
        c.publish(message{"o/" + std::to_string(i), std::to_string(i), qos::at_least_once, false},
                  [&](std::error_code ec) { acked += ec ? 0 : 1; });
    }
    EXPECT_EQ(c.stats().queued, 50u);

    // A subscriber that sees what arrives once the broker is back.
    broker.start();
    fieldbridge::testing::child_process sub({"mosquitto_sub", "-h", broker.host(), "-p",
                                             std::to_string(broker.port()), "-t", "o/#", "-q", "1", "-C", "50", "-W",
                                             "30"});
    ASSERT_TRUE(fieldbridge::testing::wait_until(
        [&] { return broker.log().find("SUBSCRIBE") != std::string::npos; }, 10s));
    ASSERT_TRUE(run_until(io, [&] { return acked == 50; }, 20s)) << acked << " acked; " << c.stats().last_error;
    EXPECT_EQ(sub.wait(20s), 0) << sub.output();
    std::string expected;
    for (int i = 0; i < 50; ++i) expected += std::to_string(i) + "\n";
    EXPECT_EQ(sub.output(), expected);  // all of them, in order
    EXPECT_GE(c.stats().connects, 2u);
    stop_and_wait(io, c);
}

TEST(mqtt_client, a_killed_broker_is_reconnected_to) {
    mosquitto_broker broker;
    asio::io_context io;
    client c(io.get_executor(), options_for(broker, "kill-test"));
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s));
    broker.kill9();
    ASSERT_TRUE(run_until(io, [&] { return c.state() != link_state::connected; }, 10s));
    broker.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    EXPECT_EQ(c.stats().connects, 2u);
    EXPECT_EQ(c.stats().disconnects, 1u);
    stop_and_wait(io, c);
}

TEST(mqtt_client, a_clean_stop_does_not_publish_the_will_and_a_lost_link_does) {
    mosquitto_broker broker;
    asio::io_context io;
    client watcher(io.get_executor(), options_for(broker, "watcher"));
    inbox wills;
    watcher.subscribe("status/#", qos::at_least_once, wills.handler());
    watcher.start();
    ASSERT_TRUE(run_until(io, [&] { return watcher.state() == link_state::connected; }, 10s));

    auto with_will = [&](std::string id) {
        auto o = options_for(broker, id);
        o.will = will_message{"status/" + id, "offline", qos::at_least_once, false, {}};
        return o;
    };
    {
        client clean(io.get_executor(), with_will("clean"));
        clean.start();
        ASSERT_TRUE(run_until(io, [&] { return clean.state() == link_state::connected; }, 10s));
        stop_and_wait(io, clean);
    }
    {
        auto lost = std::make_unique<client>(io.get_executor(), with_will("lost"));
        lost->start();
        ASSERT_TRUE(run_until(io, [&] { return lost->state() == link_state::connected; }, 10s));
        lost.reset();  // the socket closes without DISCONNECT
    }
    ASSERT_TRUE(run_until(io, [&] { return wills.count("status/lost") == 1; }, 10s)) << broker.log();
    // Give a wrongly sent will of "clean" the same chance to arrive: it went earlier.
    EXPECT_EQ(wills.count("status/clean"), 0u);
    stop_and_wait(io, watcher);
}

TEST(mqtt_client, a_will_set_while_connected_is_the_one_of_the_next_connection) {
    mosquitto_broker broker;
    asio::io_context io;
    client watcher(io.get_executor(), options_for(broker, "watcher"));
    inbox wills;
    watcher.subscribe("death/#", qos::at_least_once, wills.handler());
    watcher.start();
    ASSERT_TRUE(run_until(io, [&] { return watcher.state() == link_state::connected; }, 10s));

    auto o = options_for(broker, "node");
    o.will = will_message{"death/node", "0", qos::at_least_once, false, {}};
    o.reconnect_min = 10ms;
    o.reconnect_max = 20ms;
    client node(io.get_executor(), o);
    node.start();
    ASSERT_TRUE(run_until(io, [&] { return node.state() == link_state::connected; }, 10s));
    node.set_will(will_message{"death/node", "1", qos::at_least_once, false, {}});
    // The link breaks: the broker sends the will registered with it ("0");
    // the client reconnects with the new one.
    node.drop_link(make_error_code(std::errc::connection_reset));
    ASSERT_TRUE(run_until(io, [&] { return wills.count("death/node") == 1; }, 10s)) << broker.log();
    EXPECT_EQ(wills.last("death/node"), "0");
    ASSERT_TRUE(run_until(io, [&] { return node.state() == link_state::connected; }, 10s));
    node.drop_link(make_error_code(std::errc::connection_reset));
    ASSERT_TRUE(run_until(io, [&] { return wills.count("death/node") == 2; }, 10s)) << broker.log();
    EXPECT_EQ(wills.last("death/node"), "1");
    stop_and_wait(io, node);
    stop_and_wait(io, watcher);
}

TEST(mqtt_client, tls_is_verified_against_the_ca) {
    mosquitto_broker::options tls;
    tls.tls = true;
    mosquitto_broker broker(tls);
    asio::io_context io;

    auto o = options_for(broker, "tls-test");
    o.host = "localhost";  // the name in the server certificate
    o.tls.enabled = true;
    o.tls.ca_file = broker.ca_file().string();
    client good(io.get_executor(), o);
    bool acked = false;
    good.publish(message{"tls/x", "1", qos::at_least_once, false}, [&](std::error_code ec) { acked = !ec; });
    good.start();
    ASSERT_TRUE(run_until(io, [&] { return acked; }, 10s)) << good.stats().last_error << broker.log();
    stop_and_wait(io, good);

    // The system store does not know the test CA: no connection.
    auto untrusted = o;
    untrusted.client_id = "tls-untrusted";
    untrusted.tls.ca_file.clear();
    client bad(io.get_executor(), untrusted);
    bad.start();
    ASSERT_TRUE(run_until(io, [&] { return !bad.stats().last_error.empty(); }, 10s));
    EXPECT_NE(bad.state(), link_state::connected);
    EXPECT_NE(bad.stats().last_error.find("TLS handshake failed"), std::string::npos) << bad.stats().last_error;
    // The cause, not OpenSSL's one text for every refused certificate.
    EXPECT_NE(bad.stats().last_error.find("untrusted certificate"), std::string::npos) << bad.stats().last_error;
    EXPECT_EQ(bad.stats().last_error.find("hostname mismatch"), std::string::npos) << bad.stats().last_error;
    stop_and_wait(io, bad);

    // An address the certificate does not carry is refused when hostname
    // verification is on, and accepted when it is off.
    auto by_address = o;
    by_address.client_id = "tls-by-address";
    by_address.host = "127.0.0.1";
    client mismatch(io.get_executor(), by_address);
    mismatch.start();
    ASSERT_TRUE(run_until(io, [&] { return !mismatch.stats().last_error.empty(); }, 10s));
    EXPECT_NE(mismatch.state(), link_state::connected);
    EXPECT_NE(mismatch.stats().last_error.find("TLS handshake failed"), std::string::npos)
        << mismatch.stats().last_error;
    EXPECT_NE(mismatch.stats().last_error.find("hostname mismatch"), std::string::npos) << mismatch.stats().last_error;
    stop_and_wait(io, mismatch);

    by_address.tls.verify_hostname = false;
    client unchecked(io.get_executor(), by_address);
    unchecked.start();
    ASSERT_TRUE(run_until(io, [&] { return unchecked.state() == link_state::connected; }, 10s))
        << unchecked.stats().last_error;
    stop_and_wait(io, unchecked);
}

// A partition that keeps the sockets open (a stalled proxy, like a dead
// cellular link or a pulled cable behind a switch) is only visible through
// the keepalive: the client must give up on the link within keepalive +
// ping timeout, keep reconnecting while the path is dead, and deliver what
// was published during the partition once the path returns.
TEST(mqtt_client, a_stalled_link_is_detected_by_keepalive_and_the_messages_sent_into_it_arrive_later) {
    mosquitto_broker broker;
    tcp_proxy proxy(broker.port());
    asio::io_context io;
    auto o = options_for(broker, "partition-test");
    o.port = proxy.port();
    o.keepalive = 2s;
    o.connect_timeout = 2s;
    client c(io.get_executor(), o);
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;

    fieldbridge::testing::child_process sub({"mosquitto_sub", "-h", broker.host(), "-p",
                                             std::to_string(broker.port()), "-t", "p/#", "-q", "1", "-C", "20", "-W",
                                             "60"});
    ASSERT_TRUE(fieldbridge::testing::wait_until(
        [&] { return broker.log().find("SUBSCRIBE") != std::string::npos; }, 10s));

    proxy.stall();
    const auto stalled_at = std::chrono::steady_clock::now();
    int acked = 0;
    for (int i = 0; i < 20; ++i) {
        c.publish(message{"p/" + std::to_string(i), std::to_string(i), qos::at_least_once, false},
                  [&](std::error_code ec) { acked += ec ? 0 : 1; });
    }
    // Detected within keepalive (2 s) + ping timeout (5 s), with slack for a
    // loaded machine; never acknowledged while the path is dead.
    ASSERT_TRUE(run_until(io, [&] { return c.state() != link_state::connected; }, 12s));
    const auto detected_after = std::chrono::steady_clock::now() - stalled_at;
    EXPECT_LE(detected_after, 9s) << std::chrono::duration_cast<std::chrono::milliseconds>(detected_after).count();
    EXPECT_EQ(acked, 0);
    EXPECT_NE(c.stats().last_error.find("keepalive"), std::string::npos) << c.stats().last_error;

    // While stalled, connection attempts reach the proxy and time out.
    const auto attempts = proxy.accepted();
    ASSERT_TRUE(run_until(io, [&] { return proxy.accepted() > attempts + 1; }, 15s));
    EXPECT_NE(c.state(), link_state::connected);
    EXPECT_EQ(acked, 0);

    proxy.resume();
    ASSERT_TRUE(run_until(io, [&] { return acked == 20; }, 20s)) << acked << " acked; " << c.stats().last_error;
    EXPECT_EQ(sub.wait(20s), 0) << sub.output();
    std::string expected;
    for (int i = 0; i < 20; ++i) expected += std::to_string(i) + "\n";
    EXPECT_EQ(sub.output(), expected);  // none lost, none twice, in order
    EXPECT_EQ(c.stats().connects, 2u);
    stop_and_wait(io, c);
}

// A stall shorter than the keepalive is not an outage: the link survives
// and what was sent during it goes through on the same connection.
TEST(mqtt_client, a_short_stall_does_not_drop_the_link) {
    mosquitto_broker broker;
    tcp_proxy proxy(broker.port());
    asio::io_context io;
    auto o = options_for(broker, "short-stall-test");
    o.port = proxy.port();
    o.keepalive = 4s;
    client c(io.get_executor(), o);
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    proxy.stall();
    int acked = 0;
    c.publish(message{"s/1", "1", qos::at_least_once, false}, [&](std::error_code ec) { acked += ec ? 0 : 1; });
    // Held for a second, with the io running: nothing can be acknowledged.
    EXPECT_FALSE(run_until(io, [&] { return acked > 0; }, 1s));
    proxy.resume();
    ASSERT_TRUE(run_until(io, [&] { return acked == 1; }, 10s)) << c.stats().last_error;
    EXPECT_EQ(c.stats().connects, 1u);
    EXPECT_EQ(c.stats().disconnects, 0u);
    stop_and_wait(io, c);
}

// A cut (both ends closed, as when a NAT forgets the flow and answers RST)
// is seen at once and reconnected without waiting for the keepalive.
TEST(mqtt_client, a_cut_link_is_reconnected_at_once) {
    mosquitto_broker broker;
    tcp_proxy proxy(broker.port());
    asio::io_context io;
    auto o = options_for(broker, "cut-test");
    o.port = proxy.port();
    o.keepalive = 60s;
    client c(io.get_executor(), o);
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    proxy.cut();
    ASSERT_TRUE(run_until(io, [&] { return c.stats().connects == 2 && c.state() == link_state::connected; }, 5s))
        << c.stats().last_error;
    EXPECT_EQ(c.stats().disconnects, 1u);
    int acked = 0;
    c.publish(message{"c/1", "1", qos::at_least_once, false}, [&](std::error_code ec) { acked += ec ? 0 : 1; });
    ASSERT_TRUE(run_until(io, [&] { return acked == 1; }, 10s)) << c.stats().last_error;
    stop_and_wait(io, c);
}

TEST(mqtt_client, stop_completes_queued_messages_with_client_stopped) {
    asio::io_context io;
    client_options o;
    o.host = "127.0.0.1";
    o.port = fieldbridge::testing::free_tcp_port();  // nobody listens
    o.client_id = "nobody";
    o.reconnect_min = 50ms;
    client c(io.get_executor(), o);
    c.start();
    std::error_code result;
    c.publish(message{"x", "1", qos::at_least_once, false}, [&](std::error_code ec) { result = ec; });
    ASSERT_TRUE(run_until(io, [&] { return !c.stats().last_error.empty(); }, 10s));
    stop_and_wait(io, c);
    EXPECT_EQ(result, make_error_code(mqtt_errc::client_stopped));
}

// A broker behind several addresses: an address that does not answer is
// skipped for the next; when the broker in use dies, the client retries it
// once and then moves on, and what was published meanwhile arrives there.
TEST(mqtt_client, the_next_failover_address_is_used_when_one_cannot_be_reached) {
    mosquitto_broker a;
    mosquitto_broker b;
    const auto dead_port = [] {
        mosquitto_broker gone;  // a loopback port nobody listens on once it is gone
        const auto p = gone.port();
        gone.kill9();
        return p;
    }();
    asio::io_context io;
    auto o = options_for(a, "failover-test");
    o.port = dead_port;
    o.failover = {{a.host(), a.port()}, {b.host(), b.port()}};
    client c(io.get_executor(), o);
    c.start();
    ASSERT_TRUE(run_until(io, [&] { return c.state() == link_state::connected; }, 10s)) << c.stats().last_error;
    EXPECT_EQ(c.stats().server, (server_address{a.host(), a.port()}));
    EXPECT_EQ(c.stats().failovers, 1u);

    // The watcher on b sees what is published after a dies.
    client watcher(io.get_executor(), options_for(b, "failover-watcher"));
    inbox in;
    watcher.subscribe("failover/#", qos::at_least_once, in.handler());
    watcher.start();
    ASSERT_TRUE(run_until(io, [&] { return watcher.state() == link_state::connected; }, 10s));

    a.kill9();
    ASSERT_TRUE(run_until(io, [&] { return c.state() != link_state::connected; }, 10s));
    bool acked = false;
    c.publish(message{"failover/x", "after", qos::at_least_once, false}, [&](std::error_code ec) { acked = !ec; });
    ASSERT_TRUE(run_until(io, [&] { return acked && in.count("failover/x") == 1; }, 15s)) << c.stats().last_error;
    EXPECT_EQ(c.stats().server, (server_address{b.host(), b.port()}));
    EXPECT_EQ(c.stats().connects, 2u);
    stop_and_wait(io, watcher);
    stop_and_wait(io, c);
}

}  // namespace
}  // namespace fieldbridge::mqtt
