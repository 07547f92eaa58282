// The client over the in-process test stream (tests/mqtt/test_stream.hpp),
// the test playing the broker: links cut at every byte of CONNECT/CONNACK
// and of the QoS 1 and QoS 2 exchanges, the broker's bytes in every
// chunking, refused and hanging connection attempts and the back-off
// between them, keep-alive. No socket, no thread: one io_context run by the
// test, waiting on conditions with deadlines.
#include <gtest/gtest.h>

#include <random>

#include "mqtt/client.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "tests/mqtt/test_stream.hpp"

namespace fieldbridge::mqtt {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using testing::connect_outcome;
using testing::run_until;
using testing::test_network;
using testing::test_peer;

client_options stream_options(protocol_version v) {
    client_options o;
    o.version = v;
    o.host = "broker.test";
    o.port = 1883;
    o.client_id = "under-test";
    o.keepalive = 30s;
    o.clean_session = false;
    o.session_expiry = v == protocol_version::v5 ? 3600 : 0;
    o.reconnect_min = 1ms;
    o.reconnect_max = 4ms;
    o.connect_timeout = 5s;
    return o;
}

std::vector<std::uint8_t> bytes_of(const packet& p, protocol_version v) {
    auto b = encode(p, v);
    EXPECT_TRUE(b) << name_of(type_of(p));
    return b ? *b : std::vector<std::uint8_t>{};
}

std::span<const std::uint8_t> first(const std::vector<std::uint8_t>& b, std::size_t n) {
    return std::span<const std::uint8_t>(b).first(n);
}

// One client on a test network, and the broker's side of its links.
struct rig {
    asio::io_context io;
    protocol_version version;
    test_network net;
    client c;
    int completions = 0;
    std::error_code result = make_error_code(mqtt_errc::connection_lost);

    rig(protocol_version v, client_options o)
        : version(v), net(io, v), c(io.get_executor(), std::move(o), net.transports()) {}
    explicit rig(protocol_version v) : rig(v, stream_options(v)) {}
    ~rig() {
        bool stopped = false;
        c.stop([&] { stopped = true; });
        EXPECT_TRUE(run_until(io, [&] { return stopped; }));
    }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;

    void publish(std::string topic, std::string payload, qos q) {
        c.publish(message{std::move(topic), std::move(payload), q, false}, [this](std::error_code ec) {
            ++completions;
            result = ec;
        });
    }

    // The n-th accepted link (from 1), once the client made it.
    std::shared_ptr<test_peer> link(std::size_t n) {
        EXPECT_TRUE(run_until(io, [&] { return net.accepted() >= n; })) << "no link " << n;
        std::size_t seen = 0;
        for (const auto& a : net.attempts()) {
            if (a.peer && ++seen == n) return a.peer;
        }
        return nullptr;
    }

    // The next packet the client wrote on `peer`, which must be a T.
    template <class T>
    std::optional<T> expect(test_peer& peer, std::chrono::milliseconds timeout = 10s) {
        std::optional<packet> p;
        const bool got = run_until(io, [&] { return (p = peer.receive()).has_value() || peer.malformed(); }, timeout);
        if (!got || !p) {
            ADD_FAILURE() << "expected " << name_of(type_of(packet{T{}})) << ", got nothing";
            return std::nullopt;
        }
        if (const auto* x = std::get_if<T>(&*p)) return *x;
        ADD_FAILURE() << "expected " << name_of(type_of(packet{T{}})) << ", got " << name_of(type_of(*p));
        return std::nullopt;
    }

    // The n-th link: its CONNECT, answered with a CONNACK.
    std::shared_ptr<test_peer> accept_session(std::size_t n, bool session_present) {
        auto peer = link(n);
        if (!peer || !expect<connect>(*peer)) return nullptr;
        peer->send(connack{session_present, 0, {}});
        return peer;
    }

    bool completed() {
        return run_until(io, [&] { return completions > 0; });
    }
};

class client_stream : public ::testing::TestWithParam<protocol_version> {};

std::string version_name(const ::testing::TestParamInfo<protocol_version>& i) {
    return i.param == protocol_version::v5 ? "v5" : "v311";
}

// ---------------------------------------------------------------------------
// Links cut at every byte

TEST_P(client_stream, a_connack_cut_at_any_byte_is_no_connection_and_the_next_link_connects) {
    const auto v = GetParam();
    const auto ack = bytes_of(connack{false, 0, {}}, v);
    for (std::size_t k = 0; k < ack.size(); ++k) {
        SCOPED_TRACE("CONNACK cut after " + std::to_string(k) + " byte(s)");
        rig r(v);
        r.publish("a/1", "x", qos::at_least_once);
        r.c.start();
        auto first_link = r.link(1);
        ASSERT_TRUE(first_link && r.expect<connect>(*first_link));
        first_link->send(first(ack, k));
        first_link->drop();

        auto second = r.link(2);
        ASSERT_TRUE(second && r.expect<connect>(*second));
        EXPECT_EQ(r.c.stats().connects, 0u);
        EXPECT_EQ(r.c.stats().disconnects, 0u);  // counted only for links that got their CONNACK
        second->send(ack);
        const auto p = r.expect<publish>(*second);
        ASSERT_TRUE(p);
        EXPECT_FALSE(p->dup);  // it never left before
        second->send(puback{p->packet_id, 0, {}});
        ASSERT_TRUE(r.completed());
        EXPECT_FALSE(r.result) << r.result.message();
        EXPECT_EQ(r.c.stats().connects, 1u);
    }
}

TEST_P(client_stream, a_connect_cut_at_any_byte_is_sent_whole_on_the_next_link) {
    const auto v = GetParam();
    const auto o = stream_options(v);
    connect whole;
    {
        rig reference(v);
        reference.c.start();
        auto peer = reference.link(1);
        ASSERT_TRUE(peer);
        const auto c = reference.expect<connect>(*peer);
        ASSERT_TRUE(c);
        whole = *c;
    }
    const auto length = bytes_of(whole, v).size();
    for (std::size_t k = 0; k < length; ++k) {
        SCOPED_TRACE("CONNECT cut after " + std::to_string(k) + " byte(s)");
        rig r(v);
        r.net.script(connect_outcome::break_after_written(k));
        r.c.start();
        auto first_link = r.link(1);
        ASSERT_TRUE(first_link);
        ASSERT_TRUE(run_until(r.io, [&] { return first_link->closed_by_client(); }));
        EXPECT_EQ(first_link->unread().size(), k);
        EXPECT_FALSE(first_link->receive());
        auto second = r.accept_session(2, false);
        ASSERT_TRUE(second);
        ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
    }
}

// [MQTT-4.4.0-1] A PUBLISH not acknowledged when the link went is sent again,
// with DUP set [MQTT-3.3.1-1] and the same packet id, whatever part of the
// PUBACK arrived; a PUBACK that arrived whole completes it, and nothing is resent.
TEST_P(client_stream, MQTT_4_4_0_1_a_puback_cut_at_any_byte_leads_to_the_publish_again_with_dup) {
    const auto v = GetParam();
    for (std::size_t k = 0; k <= 4; ++k) {
        SCOPED_TRACE("PUBACK cut after " + std::to_string(k) + " byte(s)");
        rig r(v);
        r.publish("a/1", "x", qos::at_least_once);
        r.c.start();
        auto first_link = r.accept_session(1, false);
        ASSERT_TRUE(first_link);
        const auto p = r.expect<publish>(*first_link);
        ASSERT_TRUE(p);
        EXPECT_FALSE(p->dup);
        const auto ack = bytes_of(puback{p->packet_id, 0, {}}, v);
        ASSERT_EQ(ack.size(), 4u);
        first_link->send(first(ack, k));
        if (k == ack.size()) {
            ASSERT_TRUE(r.completed());
        }
        first_link->drop();

        auto second = r.accept_session(2, true);
        ASSERT_TRUE(second);
        if (k < ack.size()) {
            const auto again = r.expect<publish>(*second);
            ASSERT_TRUE(again);
            EXPECT_TRUE(again->dup);
            EXPECT_EQ(again->packet_id, p->packet_id);
            EXPECT_EQ(again->payload, "x");
            second->send(puback{again->packet_id, 0, {}});
            ASSERT_TRUE(r.completed());
        }
        // Nothing else went out before the next message.
        r.publish("a/next", "n", qos::at_least_once);
        const auto next = r.expect<publish>(*second);
        ASSERT_TRUE(next);
        EXPECT_EQ(next->topic, "a/next");
        EXPECT_EQ(r.completions, 1);
        EXPECT_FALSE(r.result) << r.result.message();
    }
}

// The QoS 2 exchange cut at every byte of the broker's PUBREC and PUBCOMP:
// before the PUBREC is whole the PUBLISH goes again (DUP, same id); after it
// only the PUBREL does [MQTT-4.3.3-2] (never the PUBLISH); after the PUBCOMP
// nothing.
TEST_P(client_stream, MQTT_4_3_3_a_qos2_exchange_cut_at_any_byte_resumes_where_it_stood) {
    const auto v = GetParam();
    for (std::size_t k = 0; k <= 8; ++k) {
        SCOPED_TRACE("PUBREC + PUBCOMP cut after " + std::to_string(k) + " byte(s)");
        rig r(v);
        r.publish("a/2", "y", qos::exactly_once);
        r.c.start();
        auto first_link = r.accept_session(1, false);
        ASSERT_TRUE(first_link);
        const auto p = r.expect<publish>(*first_link);
        ASSERT_TRUE(p);
        const auto rec = bytes_of(pubrec{p->packet_id, 0, {}}, v);
        const auto comp = bytes_of(pubcomp{p->packet_id, 0, {}}, v);
        ASSERT_EQ(rec.size() + comp.size(), 8u);
        if (k < rec.size()) {
            first_link->send(first(rec, k));
        } else {
            first_link->send(rec);
            const auto rel = r.expect<pubrel>(*first_link);
            ASSERT_TRUE(rel);
            EXPECT_EQ(rel->packet_id, p->packet_id);
            first_link->send(first(comp, k - rec.size()));
            if (k == 8) {
                ASSERT_TRUE(r.completed());
            }
        }
        first_link->drop();

        auto second = r.accept_session(2, true);
        ASSERT_TRUE(second);
        if (k < rec.size()) {
            const auto again = r.expect<publish>(*second);
            ASSERT_TRUE(again);
            EXPECT_TRUE(again->dup);
            EXPECT_EQ(again->packet_id, p->packet_id);
            second->send(pubrec{p->packet_id, 0, {}});
        }
        if (k < 8) {
            const auto rel = r.expect<pubrel>(*second);
            ASSERT_TRUE(rel);
            EXPECT_EQ(rel->packet_id, p->packet_id);
            second->send(pubcomp{p->packet_id, 0, {}});
            ASSERT_TRUE(r.completed());
        }
        r.publish("a/next", "n", qos::at_least_once);
        const auto next = r.expect<publish>(*second);
        ASSERT_TRUE(next);
        EXPECT_EQ(next->topic, "a/next");
        EXPECT_EQ(r.completions, 1);
        EXPECT_FALSE(r.result) << r.result.message();
    }
}

// The client's own writes cut at every byte: a PUBLISH half written goes
// again whole (DUP, same id); so does a PUBREL half written, alone.
TEST_P(client_stream, a_message_withdrawn_before_it_left_is_completed_as_canceled_and_never_sent) {
    const auto v = GetParam();
    rig r(v);
    r.publish("a/0", "stale", qos::at_most_once);  // queued: no link yet
    r.publish("keep/0", "stays", qos::at_most_once);
    const auto taken = r.c.withdraw_queued(
        [](const message& m, std::uint64_t t) { return !caller_token(t) && m.topic.starts_with("a/"); });
    ASSERT_EQ(taken.size(), 1U);
    ASSERT_TRUE(r.completed());
    EXPECT_EQ(r.result, std::errc::operation_canceled);
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    const auto kept = r.expect<publish>(*peer);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->topic, "keep/0");
    r.publish("a/1", "fresh", qos::at_most_once);
    const auto p = r.expect<publish>(*peer);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->topic, "a/1");
    EXPECT_TRUE(run_until(r.io, [&] { return r.completions == 3; }));
}

// The owner's check before each write (the gateway's ledger commit) fails:
// nothing of that write is sent, the link goes, and the next link carries
// the session again. The write that starts from a posted handler met this
// with the link reset under it and the process crashed (a null transport).
TEST_P(client_stream, a_write_the_owner_refuses_sends_nothing_and_the_link_goes) {
    const auto v = GetParam();
    // Before the rig: its destructor runs the client, which still asks.
    bool refuse = false;
    int asked = 0;
    rig r(v);
    r.c.on_before_write([&] {
        ++asked;
        return !refuse;
    });
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    refuse = true;
    const auto before = asked;
    r.publish("t/1", "refused", qos::at_least_once);
    ASSERT_TRUE(run_until(r.io, [&] { return asked > before && r.net.accepted() >= 2; })) << "the link did not go";
    EXPECT_FALSE(peer->receive().has_value()) << "something of the refused write was sent";
    refuse = false;
    auto second = r.accept_session(2, false);
    ASSERT_TRUE(second);
    const auto p = r.expect<publish>(*second);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->topic, "t/1");
}

// What a stalled uplink holds: the bytes encoded and not yet taken by the
// link, counted in stats() (the owner holds back what would only pile up
// behind them, e.g. Sparkplug births), and nothing once they are written.
TEST_P(client_stream, the_bytes_a_stalled_link_has_not_taken_are_counted) {
    const auto v = GetParam();
    rig r(v);
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
    EXPECT_EQ(r.c.stats().unwritten_bytes, 0U);
    peer->hold_writes();
    const std::string payload(10'000, 'x');
    for (int i = 0; i < 5; ++i)
        r.publish("a/" + std::to_string(i), payload, qos::at_most_once);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.stats().unwritten_bytes >= 5 * payload.size(); }))
        << r.c.stats().unwritten_bytes;
    EXPECT_LT(r.c.stats().unwritten_bytes, 5 * (payload.size() + 64));
    peer->release_writes();
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.stats().unwritten_bytes == 0; }))
        << r.c.stats().unwritten_bytes;
    for (int i = 0; i < 5; ++i) {
        const auto p = r.expect<publish>(*peer);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->topic, "a/" + std::to_string(i));
    }
}

TEST_P(client_stream, a_publish_or_pubrel_cut_while_written_goes_again_whole_with_the_same_id) {
    const auto v = GetParam();
    const auto publish_length = bytes_of(publish{"a/2", "y", qos::exactly_once, false, false, 1, {}}, v).size();
    for (std::size_t k = 0; k < publish_length + 4; ++k) {
        const bool in_publish = k < publish_length;
        SCOPED_TRACE(std::string(in_publish ? "PUBLISH" : "PUBREL") + " cut after " +
                     std::to_string(in_publish ? k : k - publish_length) + " byte(s)");
        rig r(v);
        r.publish("a/2", "y", qos::exactly_once);
        r.c.start();
        auto first_link = r.link(1);
        ASSERT_TRUE(first_link && r.expect<connect>(*first_link));
        if (in_publish) first_link->drop_after_written(k);
        first_link->send(connack{false, 0, {}});
        std::uint16_t id = 1;
        if (!in_publish) {
            const auto p = r.expect<publish>(*first_link);
            ASSERT_TRUE(p);
            id = p->packet_id;
            first_link->drop_after_written(k - publish_length);
            first_link->send(pubrec{id, 0, {}});
        }
        ASSERT_TRUE(run_until(r.io, [&] { return first_link->closed_by_client(); }));
        EXPECT_FALSE(first_link->receive());  // only a part of the packet arrived

        auto second = r.accept_session(2, true);
        ASSERT_TRUE(second);
        if (in_publish) {
            const auto again = r.expect<publish>(*second);
            ASSERT_TRUE(again);
            EXPECT_TRUE(again->dup);
            EXPECT_EQ(again->packet_id, id);
            EXPECT_EQ(again->payload, "y");
            second->send(pubrec{id, 0, {}});
        }
        const auto rel = r.expect<pubrel>(*second);
        ASSERT_TRUE(rel);
        EXPECT_EQ(rel->packet_id, id);
        second->send(pubcomp{id, 0, {}});
        ASSERT_TRUE(r.completed());
        EXPECT_FALSE(r.result) << r.result.message();
    }
}

// ---------------------------------------------------------------------------
// The broker's bytes in any chunking

// Cuts `total` bytes into chunk sizes.
using chunking = std::function<std::vector<std::size_t>(std::size_t total)>;

void send_chunked(test_peer& peer, const std::vector<std::uint8_t>& bytes, const chunking& cut) {
    std::size_t at = 0;
    for (const auto n : cut(bytes.size())) {
        peer.send(std::span<const std::uint8_t>(bytes).subspan(at, n));
        at += n;
    }
    EXPECT_EQ(at, bytes.size());
}

// What the client made of the broker's bytes.
struct exchange_record {
    std::vector<message> delivered;
    std::vector<std::error_code> completed;
    std::vector<std::uint8_t> answered;  // what the client wrote after its publishes
    bool operator==(const exchange_record&) const = default;
};

// The client subscribes to everything and publishes at QoS 1 and 2; the
// broker's whole side (CONNACK, SUBACK, the acks of both flows, PUBLISHes
// at every QoS and of lengths needing 1, 2 and 3 length bytes, one larger
// than the client's read buffer, a PUBREL) is cut by `cut`.
exchange_record run_exchange(protocol_version v, const chunking& cut) {
    exchange_record out;
    rig r(v);
    r.c.subscribe("#", qos::exactly_once, [&](const message& m) { out.delivered.push_back(m); });
    for (const auto q : {qos::at_least_once, qos::exactly_once}) {
        r.c.publish(message{"up/" + std::to_string(static_cast<int>(q)), "u", q, false},
                    [&](std::error_code ec) { out.completed.push_back(ec); });
    }
    r.c.start();
    auto peer = r.link(1);
    if (!peer || !r.expect<connect>(*peer)) return out;
    send_chunked(*peer, bytes_of(connack{false, 0, {}}, v), cut);
    const auto sub = r.expect<subscribe>(*peer);
    const auto up1 = r.expect<publish>(*peer);
    const auto up2 = r.expect<publish>(*peer);
    if (!sub || !up1 || !up2) return out;

    std::vector<std::uint8_t> stream;
    const auto add = [&](const packet& p) {
        const auto b = bytes_of(p, v);
        stream.insert(stream.end(), b.begin(), b.end());
    };
    add(suback{sub->packet_id, {2}, {}});
    add(puback{up1->packet_id, 0, {}});
    add(pubrec{up2->packet_id, 0, {}});
    add(publish{"down/0", "short", qos::at_most_once, false, false, 0, {}});
    add(publish{"down/1", std::string(300, 'b'), qos::at_least_once, false, false, 10, {}});
    add(publish{"down/2", std::string(20000, 'c'), qos::exactly_once, false, false, 11, {}});
    add(pubrel{11, 0, {}});
    add(publish{"down/retained", "r", qos::at_least_once, true, false, 12, {}});
    add(pubcomp{up2->packet_id, 0, {}});
    send_chunked(*peer, stream, cut);

    // PUBREL for up/2, PUBACK 10, PUBREC 11, PUBCOMP 11, PUBACK 12.
    std::vector<std::uint8_t> answers;
    for (const packet& p : {packet{pubrel{up2->packet_id, 0, {}}}, packet{puback{10, 0, {}}},
                            packet{pubrec{11, 0, {}}}, packet{pubcomp{11, 0, {}}}, packet{puback{12, 0, {}}}}) {
        const auto b = bytes_of(p, v);
        answers.insert(answers.end(), b.begin(), b.end());
    }
    EXPECT_TRUE(run_until(r.io, [&] {
        return out.completed.size() == 2 && out.delivered.size() == 4 && peer->unread().size() >= answers.size();
    })) << "delivered " << out.delivered.size() << ", completed " << out.completed.size();
    out.answered = peer->unread();
    EXPECT_EQ(out.answered, answers);
    EXPECT_EQ(r.c.stats().disconnects, 0u);
    return out;
}

TEST_P(client_stream, the_brokers_bytes_one_at_a_time_decode_as_when_sent_whole) {
    const auto whole = run_exchange(GetParam(), [](std::size_t total) { return std::vector<std::size_t>{total}; });
    ASSERT_EQ(whole.delivered.size(), 4u);
    EXPECT_EQ(whole.delivered[2].payload.size(), 20000u);
    EXPECT_TRUE(whole.delivered[3].retain);
    for (const auto& ec : whole.completed) EXPECT_FALSE(ec) << ec.message();

    const auto bytewise =
        run_exchange(GetParam(), [](std::size_t total) { return std::vector<std::size_t>(total, 1); });
    EXPECT_TRUE(bytewise == whole);
}

TEST_P(client_stream, the_brokers_bytes_in_random_chunks_decode_as_when_sent_whole) {
    const auto whole = run_exchange(GetParam(), [](std::size_t total) { return std::vector<std::size_t>{total}; });
    ASSERT_EQ(whole.delivered.size(), 4u);
    const std::size_t largest[] = {2, 3, 7, 64, 700, 30000};
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        std::mt19937_64 random(seed);
        const auto most = largest[random() % std::size(largest)];
        const auto got = run_exchange(GetParam(), [&](std::size_t total) {
            std::vector<std::size_t> sizes;
            for (std::size_t left = total; left > 0;) {
                const auto n = std::min(left, static_cast<std::size_t>(1 + random() % most));
                sizes.push_back(n);
                left -= n;
            }
            return sizes;
        });
        ASSERT_TRUE(got == whole);
    }
}

// ---------------------------------------------------------------------------
// Connection attempts

TEST_P(client_stream, refused_attempts_are_retried_after_a_growing_back_off_on_the_next_address) {
    auto o = stream_options(GetParam());
    o.reconnect_min = 20ms;
    o.reconnect_max = 160ms;
    o.failover = {{"backup.test", 1884}};
    rig r(GetParam(), o);
    constexpr std::size_t refusals = 6;
    for (std::size_t i = 0; i < refusals; ++i) r.net.script(connect_outcome::refuse());
    r.publish("a/1", "x", qos::at_least_once);
    r.c.start();
    ASSERT_TRUE(run_until(r.io, [&] { return r.net.attempts().size() == refusals; }));
    EXPECT_NE(r.c.stats().last_error.find(std::make_error_code(std::errc::connection_refused).message()),
              std::string::npos)
        << r.c.stats().last_error;
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    const auto p = r.expect<publish>(*peer);
    ASSERT_TRUE(p);
    peer->send(puback{p->packet_id, 0, {}});
    ASSERT_TRUE(r.completed());

    const auto& attempts = r.net.attempts();
    ASSERT_EQ(attempts.size(), refusals + 1);
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        // Each refusal moves on to the next address, round the list.
        EXPECT_EQ(attempts[i].address, (i % 2 == 0 ? server_address{"broker.test", 1883}
                                                   : server_address{"backup.test", 1884}))
            << "attempt " << i;
    }
    for (std::size_t i = 0; i + 1 < attempts.size(); ++i) {
        // Delay i is drawn from [ceiling/2, ceiling], the ceiling doubling from
        // reconnect_min up to reconnect_max; a timer never fires early.
        const auto ceiling = std::min(o.reconnect_min * (1 << i), o.reconnect_max);
        EXPECT_GE(attempts[i + 1].at - attempts[i].at, ceiling / 2) << "delay " << i;
    }
    EXPECT_EQ(r.c.stats().failovers, refusals);
    EXPECT_EQ(r.c.stats().connects, 1u);
    EXPECT_TRUE(r.c.stats().last_error.empty()) << r.c.stats().last_error;
}

TEST_P(client_stream, an_attempt_that_hangs_ends_at_the_connect_timeout_and_the_next_one_connects) {
    auto o = stream_options(GetParam());
    o.connect_timeout = 100ms;
    std::vector<link_state> states;  // outlives the client, which reports its stop
    rig r(GetParam(), o);
    r.net.script(connect_outcome::hang());
    r.net.script(connect_outcome::accept(30ms));  // slow, but within the timeout
    r.c.on_link_state([&](link_state s) { states.push_back(s); });
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
    const auto& attempts = r.net.attempts();
    ASSERT_EQ(attempts.size(), 2u);
    EXPECT_GE(attempts[1].at - attempts[0].at, o.connect_timeout);
    EXPECT_EQ(states, (std::vector<link_state>{link_state::connecting, link_state::disconnected,
                                               link_state::connecting, link_state::connected}));
}

TEST_P(client_stream, a_connack_that_never_comes_ends_the_attempt_at_the_connect_timeout) {
    auto o = stream_options(GetParam());
    o.connect_timeout = 100ms;
    rig r(GetParam(), o);
    r.c.start();
    auto silent = r.link(1);
    ASSERT_TRUE(silent && r.expect<connect>(*silent));
    ASSERT_TRUE(run_until(r.io, [&] { return silent->closed_by_client(); }));
    EXPECT_NE(r.c.stats().last_error.find(make_error_code(mqtt_errc::connect_timeout).message()), std::string::npos)
        << r.c.stats().last_error;
    ASSERT_TRUE(r.accept_session(2, false));
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
}

// ---------------------------------------------------------------------------
// Keep-alive

// [MQTT-3.1.2-23] With nothing else to send the client pings within the
// keep-alive; a PINGRESP (here one byte at a time) keeps the link.
TEST_P(client_stream, MQTT_3_1_2_23_an_idle_link_is_kept_with_pingreq_within_the_keepalive) {
    auto o = stream_options(GetParam());
    o.keepalive = 1s;
    rig r(GetParam(), o);
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
    const auto pong = bytes_of(pingresp{}, GetParam());
    for (int i = 0; i < 2; ++i) {
        SCOPED_TRACE("ping " + std::to_string(i));
        const auto since = std::chrono::steady_clock::now();
        ASSERT_TRUE(r.expect<pingreq>(*peer, 3s));
        EXPECT_GE(std::chrono::steady_clock::now() - since, 900ms);  // not before the link was quiet that long
        for (const auto b : pong) peer->send(std::span<const std::uint8_t>(&b, 1));
    }
    EXPECT_TRUE(peer->open());
    EXPECT_EQ(r.c.stats().connects, 1u);
    EXPECT_EQ(r.c.stats().disconnects, 0u);
}

// A link that takes no more bytes (a path that drops everything, its send
// buffer full): the write in progress never ends. The keep-alive finds the
// link dead (no PINGRESP within the ping timeout) and it is closed then,
// the write cut short, not left to the kernel's retransmission timeout with
// the link taken for up; the message goes again on the next link.
TEST_P(client_stream, a_link_whose_write_never_ends_is_closed_when_the_keepalive_finds_it_dead) {
    const auto v = GetParam();
    auto o = stream_options(v);
    o.keepalive = 1s;
    rig r(v, o);
    r.c.start();
    auto peer = r.accept_session(1, false);
    ASSERT_TRUE(peer);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::connected; }));
    peer->hold_writes();
    r.publish("a/1", "x", qos::at_least_once);
    ASSERT_TRUE(run_until(r.io, [&] { return r.c.state() == link_state::disconnected; }, 20s))
        << "the link is still taken for up";
    EXPECT_TRUE(peer->closed_by_client());
    auto second = r.accept_session(2, true);
    ASSERT_TRUE(second);
    const auto p = r.expect<publish>(*second);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->topic, "a/1");
    second->send(puback{p->packet_id, 0, {}});
    ASSERT_TRUE(r.completed());
    EXPECT_FALSE(r.result) << r.result.message();
}

// ---------------------------------------------------------------------------
// A PUBLISH larger than the client takes

TEST_P(client_stream, a_publish_over_the_clients_limit_is_never_delivered_and_the_link_goes_on_as_its_version_allows) {
    const auto v = GetParam();
    auto o = stream_options(v);
    o.max_incoming_packet = 1000;
    rig r(v, o);
    std::vector<message> delivered;
    r.c.subscribe("#", qos::at_least_once, [&](const message& m) { delivered.push_back(m); });
    r.c.start();
    auto peer = r.link(1);
    ASSERT_TRUE(peer);
    const auto c = r.expect<connect>(*peer);
    ASSERT_TRUE(c);
    // 5.0 tells the broker [MQTT-3.1.2-24]; 3.1.1 cannot.
    EXPECT_EQ(integer_property(c->props, prop::maximum_packet_size),
              v == protocol_version::v5 ? std::optional<std::uint32_t>{1000} : std::nullopt);
    peer->send(connack{false, 0, {}});
    const auto sub = r.expect<subscribe>(*peer);
    ASSERT_TRUE(sub);
    peer->send(suback{sub->packet_id, {1}, {}});
    const auto big = bytes_of(publish{"cmd/big", std::string(200000, 'x'), qos::at_least_once, false, false, 21, {}}, v);
    for (std::size_t at = 0; at < big.size(); at += 4096) {
        peer->send(std::span<const std::uint8_t>(big).subspan(at, std::min<std::size_t>(4096, big.size() - at)));
    }
    if (v == protocol_version::v5) {
        // The broker broke the limit it was given: DISCONNECT 0x95 (Packet too large).
        const auto d = r.expect<disconnect>(*peer);
        ASSERT_TRUE(d);
        EXPECT_EQ(d->reason_code, 0x95);
        EXPECT_TRUE(run_until(r.io, [&] { return r.c.stats().disconnects == 1; }));
        EXPECT_TRUE(delivered.empty());
        return;
    }
    // 3.1.1: acknowledged, dropped, and the next message is delivered.
    const auto ack = r.expect<puback>(*peer);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->packet_id, 21);
    peer->send(publish{"cmd/small", "1", qos::at_most_once, false, false, 0, {}});
    ASSERT_TRUE(run_until(r.io, [&] { return !delivered.empty(); }));
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0].topic, "cmd/small");
    EXPECT_EQ(r.c.stats().disconnects, 0u);
}

// ---------------------------------------------------------------------------
// What the owner publishes when the link comes up

// The birth message, published from the link-state listener when a link
// comes up, goes out behind the flows the session resends or starts again
// on that link: a birth of the link before, never acknowledged and started
// again (CONNACK Session Present 0), reaches the broker first, so that the
// retained message on the topic is the newer; with 5.0 Topic Aliases, the
// PUBLISH that sets the topic's alias goes before the one that uses it.
TEST_P(client_stream, a_birth_published_when_connected_follows_the_flows_started_again_on_that_link) {
    const auto v = GetParam();
    auto o = stream_options(v);
    o.clean_session = true;
    rig r(v, o);
    int births = 0;
    r.c.on_link_state([&](link_state s) {
        if (s != link_state::connected) return;
        ++births;
        r.c.publish(message{"gw/status", "birth " + std::to_string(births), qos::at_least_once, true}, nullptr);
    });
    properties aliases;
    if (v == protocol_version::v5) aliases.push_back(property{prop::topic_alias_maximum, std::uint32_t{10}});
    r.c.start();
    auto first_link = r.link(1);
    ASSERT_TRUE(first_link && r.expect<connect>(*first_link));
    first_link->send(connack{false, 0, aliases});
    const auto unanswered = r.expect<publish>(*first_link);
    ASSERT_TRUE(unanswered);
    EXPECT_EQ(unanswered->payload, "birth 1");
    first_link->drop();

    auto second = r.link(2);
    ASSERT_TRUE(second && r.expect<connect>(*second));
    second->send(connack{false, 0, aliases});
    const auto again = r.expect<publish>(*second);
    const auto next = r.expect<publish>(*second);
    ASSERT_TRUE(again && next);
    EXPECT_EQ(again->payload, "birth 1");
    EXPECT_EQ(next->payload, "birth 2");
    // The first PUBLISH on a link names its topic.
    EXPECT_EQ(again->topic, "gw/status");
    if (v == protocol_version::v5) {
        const auto* set = find(again->props, prop::topic_alias);
        const auto* used = find(next->props, prop::topic_alias);
        ASSERT_TRUE(set && used);
        EXPECT_EQ(set->value, used->value);
    }
    EXPECT_FALSE(second->malformed());
}

INSTANTIATE_TEST_SUITE_P(versions, client_stream, ::testing::Values(protocol_version::v3_1_1, protocol_version::v5),
                         version_name);

}  // namespace
}  // namespace fieldbridge::mqtt
