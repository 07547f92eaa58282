// The forwarder on its own: the real store (SQLite in a temporary
// directory) and a client made of the pure MQTT session whose packets go to
// a scripted broker (model::session_link and model::broker from
// uplink_model.hpp), everything on the test's thread. Each test drives one
// promise step by step: what is on the wire, what the store holds committed
// (read through a connection of its own), what the forwarder counts.
//
// Every PUBLISH that reaches the wire is checked against the store as
// committed at that instant: a QoS 1/2 message is recorded as sent with the
// packet id it carries, a QoS 0 message is already deleted (durable before
// sent, docs/architecture.md "The durable queue"), unless it was sent
// directly (store.qos0: direct), and then it was never stored.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "gateway/forwarder.hpp"
#include "gateway/quota_retry.hpp"
#include "gateway/store/message_store.hpp"
#include "tests/gateway/uplink_model.hpp"
#include "tests/support/captured_log.hpp"
#include "tests/support/temp_dir.hpp"

namespace fieldbridge::gateway {
namespace {

using model::key_payload;
using model::payload_key;
using mqtt::qos;

mqtt::message message_for(std::uint64_t key, qos q, std::string topic = "plant/line") {
    return mqtt::message{std::move(topic), key_payload(key), q, false};
}

std::size_t first_ack(std::size_t) { return 0; }

class forwarder_test : public ::testing::Test {
protected:
    // One run of the gateway's uplink over the store file: a restart is a
    // new life over the same file (and the same broker).
    struct life {
        std::unique_ptr<store::message_store> store;
        std::unique_ptr<model::session_link> link;
        std::unique_ptr<forwarder> fwd;
    };

    void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

    // Opens the store, builds the client and the forwarder, resumes.
    void start(std::size_t window = 1000, std::size_t max_inflight = 64) {
        store::options o;
        o.path = path();
        o.durability = store::durability::normal;
        o.limits = limits;
        o.policy = policy;
        o.fail_commit = [this] { return fail_commits; };
        o.cache_kib = cache_kib;
        auto opened = store::message_store::open(o);
        if (!opened) throw std::runtime_error("cannot open the store: " + opened.error().message());
        mqtt::session_options so;
        so.client_id = "forwarder-test";
        so.keepalive = std::chrono::seconds(0);
        so.clean_session = false;
        so.max_inflight = max_inflight;
        so.version = v5 ? mqtt::protocol_version::v5 : mqtt::protocol_version::v3_1_1;
        broker.v5 = v5;
        life_.store = std::move(*opened);
        life_.link = std::make_unique<model::session_link>(so, broker, [this](const mqtt::publish& p) { on_wire(p); });
        life_.fwd =
            std::make_unique<forwarder>(*life_.store, *life_.link, [this] { ++flushes_asked; }, window, qos0_route);
        life_.link->attach(*life_.fwd);
        life_.fwd->set_order(order, model::mark_key_historical);
        if (auto r = life_.fwd->resume(); !r) throw std::runtime_error("resume: " + r.error().message());
    }

    // kill -9: nothing more is committed; what was committed stays.
    void crash() {
        fail_commits = true;
        life_.link->drop();
        broker.link_lost();
        life_.fwd.reset();
        life_.link.reset();
        life_.store.reset();
        fail_commits = false;
    }

    // Message `key` at QoS 2, past PUBREC (its PUBREL out) on a first link.
    void qos2_flow_past_pubrec(std::uint64_t key) {
        start();
        link().connect();
        submit({message_for(key, qos::exactly_once)});
        link().write();
        deliver_all_acks();
        ASSERT_EQ(committed().at(key).state, store::flow_state::pubrec);
    }

    // Killed, started again on a broker that resumes the session: message
    // `key`, which that broker session never had, reaches it once.
    void crash_and_resume_then_published_once(std::uint64_t key) {
        crash();
        wire.clear();
        start();
        link().connect();  // Session Present 1
        ASSERT_EQ(link().resumed_sessions, 1u);
        run_until_quiet();
        EXPECT_TRUE(committed().empty());
        EXPECT_EQ(delivered_by_this_session(key), 1)
            << "message " << key << " never published to the new broker session";
    }

    forwarder& fwd() { return *life_.fwd; }
    model::session_link& link() { return *life_.link; }
    store::message_store& queue() { return *life_.store; }
    std::filesystem::path path() const { return dir_.path() / "queue.db"; }

    // key -> row, as committed now.
    std::map<std::uint64_t, model::store_oracle::row> committed() const { return model::store_oracle(path()).rows(); }

    void submit(std::initializer_list<mqtt::message> batch) {
        fwd().submit(std::vector<mqtt::message>(batch), std::chrono::system_clock::now());
    }

    // The broker's acknowledgements waiting, all of them in order, then the
    // client's write that follows.
    void deliver_all_acks() {
        link().deliver_acks(broker.to_client.size(), first_ack, false);
        link().write();
    }

    // Acknowledgements, flushes and writes until nothing is on its way
    // (at most ten rounds).
    void run_until_quiet() {
        for (int round = 0; round < 10 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
            deliver_all_acks();
            fwd().flush_due();
            link().write();
        }
    }

    // Deliveries of message `key` to subscribers by the broker's current session.
    std::ptrdiff_t delivered_by_this_session(std::uint64_t key) const {
        return std::count_if(broker.log.begin(), broker.log.end(), [&](const model::delivery& d) {
            return d.key == key && d.delivered && d.incarnation == broker.incarnation;
        });
    }

    // The keys of the PUBLISH packets on the wire, in order.
    std::vector<std::uint64_t> wire_keys() const {
        std::vector<std::uint64_t> keys;
        for (const auto& p : wire) keys.push_back(payload_key(p.payload));
        return keys;
    }

    model::broker broker;
    std::vector<mqtt::publish> wire;
    store::limits limits;
    store::drop_policy policy = store::drop_policy::drop_qos0_first;
    bool fail_commits = false;
    std::uint32_t cache_kib = 2048;
    bool v5 = false;
    int flushes_asked = 0;
    // The 0x97 retry clock, moved by hand: the times quota_due() was asked for.
    forwarder::quota_clock::time_point quota_now{std::chrono::hours(1)};
    std::vector<forwarder::quota_clock::time_point> quota_wakes;
    void use_quota_clock() {
        fwd().set_quota_wait([this] { return quota_now; },
                             [this](forwarder::quota_clock::time_point t) { quota_wakes.push_back(t); });
    }
    config::qos0_route qos0_route = config::qos0_route::stored;
    config::store_order order = config::store_order::strict;

private:
    void on_wire(const mqtt::publish& p) {
        const auto rows = committed();
        const auto key = payload_key(p.payload);
        const auto row = rows.find(key);
        if (p.qos == qos::at_most_once) {
            EXPECT_TRUE(row == rows.end()) << "QoS 0 message " << key << " written before its delete was committed";
        } else if (row == rows.end()) {
            ADD_FAILURE() << "message " << key << " on the wire, not in the store";
        } else {
            EXPECT_NE(row->second.state, store::flow_state::queued) << "message " << key << " sent, recorded queued";
            EXPECT_EQ(row->second.packet_id, p.packet_id) << "message " << key;
        }
        wire.push_back(p);
    }

    fieldbridge::testing::temp_dir dir_{"fieldbridge-forwarder"};
    life life_;
};

TEST_F(forwarder_test, submitted_messages_are_published_in_the_order_they_were_produced) {
    start();
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_most_once, "plant/other"),
            message_for(3, qos::exactly_once), message_for(4, qos::at_least_once, "plant/other")});
    submit({message_for(5, qos::at_most_once), message_for(6, qos::exactly_once)});
    link().write();  // one write, behind one commit, for both batches
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
    for (const auto& p : wire) EXPECT_FALSE(p.dup);
    EXPECT_EQ(fwd().stats().submitted, 6u);
    EXPECT_EQ(fwd().stats().stored, 6u);

    for (int round = 0; round < 3 && !broker.to_client.empty(); ++round) deliver_all_acks();
    fwd().flush_due();
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 6u);
    EXPECT_EQ(fwd().handed(), 0u);
}

// Sparkplug's stored DDATA wait for their device's DBIRTH: what the uplink
// is not ready() for stays stored, in order, without holding back what
// follows it, and goes after rewind(). A long run of waiting rows is read in
// slices of max_examined() rows, one per flush.
TEST_F(forwarder_test, messages_the_uplink_is_not_ready_for_stay_stored_and_go_in_order_after_a_rewind) {
    start(4);
    bool open = false;
    link().set_ready([&](const mqtt::message& m) { return open || m.topic != "plant/waits"; });
    link().connect();
    std::vector<mqtt::message> batch;
    for (std::uint64_t k = 1; k <= 100; ++k) batch.push_back(message_for(k, qos::at_least_once, "plant/waits"));
    for (std::uint64_t k = 101; k <= 103; ++k) batch.push_back(message_for(k, qos::at_least_once, "plant/goes"));
    fwd().submit(batch, std::chrono::system_clock::now());
    link().write();
    EXPECT_TRUE(wire.empty()) << "the first refill reads " << fwd().max_examined() << " rows, all waiting";
    for (int flush = 0; flush < 4 && wire.size() < 3; ++flush) {
        fwd().flush_due();
        link().write();
    }
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{101, 102, 103}));
    for (int round = 0; round < 3 && !broker.to_client.empty(); ++round) deliver_all_acks();
    fwd().flush_due();
    EXPECT_EQ(committed().size(), 100u);

    open = true;
    fwd().rewind();
    link().write();
    for (int round = 0; round < 200 && wire.size() < 103; ++round) {
        deliver_all_acks();
        fwd().flush_due();
        link().write();
    }
    std::vector<std::uint64_t> expected{101, 102, 103};
    for (std::uint64_t k = 1; k <= 100; ++k) expected.push_back(k);
    EXPECT_EQ(wire_keys(), expected);
    for (int round = 0; round < 3 && !broker.to_client.empty(); ++round) deliver_all_acks();
    fwd().flush_due();
    EXPECT_TRUE(committed().empty());
}

TEST_F(forwarder_test, an_acknowledged_message_is_deleted_by_the_commit_of_the_flush_it_asks_for) {
    start();
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once), message_for(3, qos::at_least_once)});
    link().write();
    fwd().flush_due();  // whatever was asked for before
    ASSERT_EQ(committed().size(), 3u);
    const int asked = flushes_asked;

    // The PUBACK for message 2 only.
    link().deliver_acks(1, [](std::size_t) { return std::size_t{1}; }, false);
    EXPECT_EQ(fwd().stats().delivered, 1u);
    EXPECT_GT(flushes_asked, asked) << "an acknowledgement must ask for a flush";
    EXPECT_EQ(committed().count(2), 1u) << "deleted before any commit";

    fwd().flush_due();  // the timer the forwarder asked for
    const auto rows = committed();
    EXPECT_EQ(rows.count(2), 0u);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows.at(1).state, store::flow_state::sent);
    EXPECT_EQ(rows.at(3).state, store::flow_state::sent);
}

TEST_F(forwarder_test, a_qos0_message_leaves_the_store_only_with_the_commit_before_its_write) {
    start();
    link().connect();
    submit({message_for(1, qos::at_most_once)});
    // The client completes QoS 0 into its write buffer at once; a flush
    // (no write) commits the message but keeps it.
    fwd().flush_due();
    ASSERT_EQ(committed().count(1), 1u);
    EXPECT_TRUE(wire.empty());

    // The commit before the write fails: the write does not happen, and
    // the message goes back to the queue.
    fail_commits = true;
    link().write();
    EXPECT_TRUE(wire.empty());
    EXPECT_FALSE(link().up());
    EXPECT_EQ(committed().count(1), 1u);
    EXPECT_EQ(fwd().stats().delivered, 0u);

    // The next link carries it, behind a commit that deletes it.
    fail_commits = false;
    link().connect();
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1}));
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 1u);
}

// Per-topic order with mixed QoS on one topic (a device's message takes
// the QoS of its points): a QoS 0 message and a QoS 1 message after it, both
// in the client's write buffer when the link drops, are sent in that order
// on the next link. The QoS 1 flow, never written, is not resumed ahead of
// the QoS 0 message that goes back to the store.
TEST_F(forwarder_test, a_link_lost_before_the_write_keeps_the_order_of_a_topic_whose_qos_changes) {
    start();
    link().connect();
    submit({message_for(1, qos::at_most_once), message_for(2, qos::at_least_once),
            message_for(3, qos::at_most_once), message_for(4, qos::exactly_once)});
    ASSERT_EQ(link().outbox_publishes(), 4u);
    link().drop();  // nothing of it written
    EXPECT_TRUE(wire.empty());
    EXPECT_EQ(link().session().inflight(), 0u) << "no flow the broker never saw is resumed";

    link().connect();
    link().write();
    for (int round = 0; round < 10 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
        deliver_all_acks();
    }
    fwd().flush_due();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 4}));
    for (const auto& p : wire) EXPECT_FALSE(p.dup) << payload_key(p.payload);
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 4u);
}

TEST_F(forwarder_test, a_lost_link_takes_back_the_queued_messages_and_the_next_link_resumes_the_flows_in_flight) {
    start(1000, 2);  // two flows in flight at most
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::exactly_once), message_for(3, qos::at_least_once),
            message_for(4, qos::at_least_once), message_for(5, qos::exactly_once)});
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2}));
    const auto id1 = wire[0].packet_id;
    const auto id2 = wire[1].packet_id;
    EXPECT_EQ(fwd().handed(), 5u);

    link().drop();
    // While the link is down the client holds only what it sent; the rest is
    // in the store alone, which bounds it.
    EXPECT_EQ(fwd().handed(), 2u);
    EXPECT_EQ(link().session().queued(), 0u);
    EXPECT_EQ(link().session().inflight(), 2u);

    wire.clear();
    link().connect();
    link().write();
    ASSERT_GE(wire.size(), 2u);
    EXPECT_TRUE(wire[0].dup && wire[0].packet_id == id1 && payload_key(wire[0].payload) == 1);
    EXPECT_TRUE(wire[1].dup && wire[1].packet_id == id2 && payload_key(wire[1].payload) == 2);
    for (int round = 0; round < 10 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
        deliver_all_acks();
    }
    fwd().flush_due();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 5u);
}

TEST_F(forwarder_test, a_failed_commit_sends_nothing_drops_the_link_and_rebuilds_the_session_from_the_store) {
    start();
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once)});
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2}));
    // Message 3 is handed over and recorded as sent (flush), its PUBLISH
    // waiting for the next write.
    submit({message_for(3, qos::at_least_once)});
    fwd().flush_due();
    ASSERT_EQ(committed().at(3).state, store::flow_state::sent);
    std::map<std::uint64_t, std::uint16_t> ids;
    for (const auto& [key, row] : committed()) ids[key] = row.packet_id;
    // Message 1 is acknowledged, and the commit before the write that
    // follows (carrying message 3, deleting message 1) fails.
    fail_commits = true;
    link().deliver_acks(1, first_ack, false);
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2})) << "written although the commit failed";
    EXPECT_FALSE(link().up());
    EXPECT_EQ(fwd().stats().ledger_errors, 1u);
    EXPECT_EQ(fwd().stats().resyncs, 1u);
    EXPECT_EQ(committed().count(1), 1u);  // the delete was rolled back
    // The session as the store has it: 2 in flight with its id; 1,
    // acknowledged, is not resumed; 3, whose PUBLISH no write took, is
    // queued again (the broker never saw it).
    std::vector<mqtt::flow_status> flows;
    link().flows(flows);
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(flows[0].packet_id, ids[2]);
    EXPECT_EQ(fwd().handed(), 1u);

    fail_commits = false;
    wire.clear();
    link().connect();
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_TRUE(wire[0].dup);
    EXPECT_EQ(wire[0].packet_id, ids[2]);
    EXPECT_FALSE(wire[1].dup) << "a new PUBLISH: the broker never had its packet id";
    EXPECT_EQ(committed().count(1), 0u);  // deleted by the commit before that write
    deliver_all_acks();
    fwd().flush_due();
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 3u);
}

// A QoS 2 flow past PUBREC on a broker that then forgot every session: the
// session starts it again as a new message (CONNACK Session Present 0). The
// commit before that write fails, so the session is rebuilt from the store;
// the store must not say PUBREC any more, or the next CONNACK (Session
// Present 1: the broker made a session at the last CONNECT) would finish the
// flow with PUBREL alone and the broker's new session would never see it.
TEST_F(forwarder_test, a_flow_given_up_on_a_broker_without_our_session_stays_given_up_after_a_failed_commit) {
    start();
    link().connect();
    submit({message_for(1, qos::exactly_once)});
    link().write();
    ASSERT_EQ(wire_keys(), std::vector<std::uint64_t>{1});
    deliver_all_acks();  // PUBREC in, PUBREL out
    ASSERT_EQ(committed().at(1).state, store::flow_state::pubrec);
    ASSERT_FALSE(broker.to_client.empty());  // the PUBCOMP, lost with the link

    link().drop();
    broker.forget();
    fail_commits = true;
    link().connect();  // Session Present 0; the commit before the write fails
    EXPECT_FALSE(link().up());
    EXPECT_EQ(fwd().stats().resyncs, 1u);
    fail_commits = false;
    wire.clear();
    link().connect();  // Session Present 1
    ASSERT_EQ(link().resumed_sessions, 1u);
    for (int round = 0; round < 5 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
        deliver_all_acks();
    }
    fwd().flush_due();
    ASSERT_EQ(wire_keys(), std::vector<std::uint64_t>{1}) << "message 1 never published to the new broker session";
    EXPECT_FALSE(wire[0].dup);
    EXPECT_EQ(delivered_by_this_session(1), 1);
    EXPECT_TRUE(committed().empty());
}

// Two such flows, and a broker whose Receive Maximum lets one go again at
// once: the other stays with the session, queued. The commit before the
// first write after that CONNACK records it queued, so a crash right after
// it cannot leave the store saying PUBREC.
TEST_F(forwarder_test, a_flow_given_up_on_a_broker_without_our_session_is_recorded_queued_by_the_next_commit) {
    v5 = true;
    broker.receive_maximum = 2;
    start();
    link().connect();
    submit({message_for(1, qos::exactly_once), message_for(2, qos::exactly_once)});
    link().write();
    deliver_all_acks();  // PUBREC for both, PUBRELs out
    ASSERT_EQ(committed().at(1).state, store::flow_state::pubrec);
    ASSERT_EQ(committed().at(2).state, store::flow_state::pubrec);

    link().drop();
    broker.forget();
    broker.receive_maximum = 1;
    wire.clear();
    link().connect();  // Session Present 0: 1 goes as a new PUBLISH, 2 waits
    ASSERT_EQ(wire_keys(), std::vector<std::uint64_t>{1});
    // Recorded as one to send again as a new message: sent, no packet id.
    EXPECT_EQ(committed().at(2).state, store::flow_state::sent);
    EXPECT_EQ(committed().at(2).packet_id, 0);
    crash_and_resume_then_published_once(2);
}

// The same fault with the link lost between that CONNACK and the first
// write: the flow is recorded as one to start again when the link drops
// (by the flush that asks for), so a kill during the outage cannot leave
// the store saying PUBREC for a message the new broker session never saw.
TEST_F(forwarder_test, a_flow_restarted_by_a_fresh_session_is_recorded_when_the_link_drops_before_any_write) {
    ASSERT_NO_FATAL_FAILURE(qos2_flow_past_pubrec(1));

    link().drop();
    broker.forget();
    bool drop_at_connack = true;
    link().before_link_up([&] {
        if (std::exchange(drop_at_connack, false)) link().drop();
    });
    wire.clear();
    std::optional<int> asked;
    link().before_connack([&] {
        fwd().flush_due();  // the one the CONNECT's write asked for
        asked = flushes_asked;
    });
    link().connect();  // Session Present 0, and the link is lost before the write
    ASSERT_FALSE(link().up());
    ASSERT_TRUE(wire.empty());
    ASSERT_TRUE(asked);
    if (flushes_asked > *asked) fwd().flush_due();  // the owner's flush timer
    // Sent again as a new PUBLISH (with a packet id of the new session if
    // it had one when the link dropped), no more PUBREC.
    EXPECT_EQ(committed().at(1).state, store::flow_state::sent);
    crash_and_resume_then_published_once(1);
}

// The same fault with a broker that takes QoS 0 only after it forgot us:
// the restarted flow cannot be written, so no write's commit records it;
// the flush the link's coming up asks for does, and a kill while the link
// stays up that way cannot leave the store saying PUBREC.
TEST_F(forwarder_test, a_flow_restarted_by_a_fresh_session_that_cannot_be_written_is_recorded_by_the_flush) {
    v5 = true;
    ASSERT_NO_FATAL_FAILURE(qos2_flow_past_pubrec(1));

    link().drop();
    broker.forget();
    broker.maximum_qos = qos::at_most_once;
    wire.clear();
    std::optional<int> asked;
    link().before_connack([&] {
        fwd().flush_due();  // the one the CONNECT's write asked for
        asked = flushes_asked;
    });
    link().connect();  // Session Present 0; the flow waits for QoS 1/2 to be taken again
    ASSERT_TRUE(link().up());
    link().write();
    ASSERT_TRUE(wire.empty());
    ASSERT_TRUE(asked);
    ASSERT_GT(flushes_asked, *asked);
    fwd().flush_due();  // the owner's flush timer
    EXPECT_EQ(committed().at(1).state, store::flow_state::sent);
    broker.maximum_qos = qos::exactly_once;
    crash_and_resume_then_published_once(1);
}

// 0x97 Quota exceeded in a PUBACK is "not now", not a verdict on the
// message: it stays stored and goes again (recorded as queued first).
TEST_F(forwarder_test, a_quota_exceeded_answer_keeps_the_message_and_sends_it_again) {
    v5 = true;
    start();
    link().connect();
    broker.refusal_code = 0x97;
    broker.refusals = 2;
    submit({message_for(1, qos::at_least_once), message_for(2, qos::exactly_once)});
    link().write();
    for (int round = 0; round < 20 && !committed().empty(); ++round) {
        deliver_all_acks();
        fwd().flush_due();
        link().write();
    }
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().quota_retries, 2u);
    EXPECT_EQ(fwd().stats().refused_by_broker, 0u);
    EXPECT_EQ(fwd().stats().delivered, 2u);
    for (const std::uint64_t key : {1u, 2u}) {
        EXPECT_EQ(std::count_if(broker.log.begin(), broker.log.end(),
                                [&](const model::delivery& d) { return d.key == key && d.delivered; }),
                  1)
            << "message " << key;
    }
}

// With the owner's clock, a message answered 0x97 waits before it goes
// again: one second after the first answer, two after the second.
TEST_F(forwarder_test, a_quota_exceeded_message_waits_a_growing_delay_before_it_goes_again) {
    v5 = true;
    start();
    use_quota_clock();
    auto& now = quota_now;
    const auto& wakes = quota_wakes;
    link().connect();
    broker.refusal_code = 0x97;
    broker.refusals = 2;
    submit({message_for(1, qos::at_least_once)});
    link().write();
    const auto settle = [&] {
        for (int round = 0; round < 5; ++round) {
            deliver_all_acks();
            fwd().flush_due();
            link().write();
        }
    };
    const auto t0 = now;
    for (const auto delay : {std::chrono::seconds(1), std::chrono::seconds(2)}) {
        settle();  // 0x97 answered; nothing goes before the delay
        ASSERT_FALSE(wakes.empty());
        EXPECT_EQ(wakes.back(), now + delay);
        const auto sent = wire.size();
        now += delay - std::chrono::milliseconds(1);
        fwd().quota_due();
        settle();
        EXPECT_EQ(wire.size(), sent) << "sent again before its delay";
        EXPECT_EQ(fwd().quota_waiting(), 1u);
        now += std::chrono::milliseconds(1);
        fwd().quota_due();
        link().write();
        EXPECT_EQ(wire.size(), sent + 1) << "not sent again at its delay";
    }
    settle();
    EXPECT_EQ(now - t0, std::chrono::seconds(3));
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().quota_waiting(), 0u);
    EXPECT_EQ(fwd().stats().quota_retries, 2u);
    EXPECT_EQ(fwd().stats().delivered, 1u);
    EXPECT_EQ(std::count_if(broker.log.begin(), broker.log.end(),
                            [&](const model::delivery& d) { return d.key == 1 && d.delivered; }),
              1);
}

// A message waiting out its 0x97 retry holds back the later messages of
// its topic (per-topic order), not those of other topics.
TEST_F(forwarder_test, a_message_waiting_for_its_quota_retry_is_not_overtaken_on_its_topic) {
    v5 = true;
    start();
    use_quota_clock();
    auto& now = quota_now;
    link().connect();
    broker.refusal_code = 0x97;
    broker.refusals = 1;
    submit({message_for(1, qos::at_least_once)});
    link().write();
    deliver_all_acks();  // 1: 0x97
    fwd().flush_due();
    link().write();
    ASSERT_EQ(fwd().quota_waiting(), 1u);
    submit({message_for(2, qos::at_least_once), message_for(3, qos::at_least_once, "plant/other"),
            message_for(4, qos::at_most_once)});
    fwd().flush_due();
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 3})) << "2 and 4 are of message 1's topic";
    now += std::chrono::seconds(1);
    fwd().quota_due();
    run_until_quiet();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 3, 1, 2, 4}));
    EXPECT_TRUE(committed().empty());
}

// Later messages of its topic that wait in the client when the 0x97 comes
// (the broker's Receive Maximum of 1 holds them back) come back to the store
// and go after it. Only messages already sent can overtake it, and the one
// the client sends in the slot the 0x97 freed (2 here), as it takes the
// answer in, before the forwarder hears of it.
TEST_F(forwarder_test, messages_waiting_in_the_client_behind_a_quota_refusal_go_after_it) {
    v5 = true;
    broker.receive_maximum = 1;
    start();
    use_quota_clock();
    auto& now = quota_now;
    link().connect();
    broker.refusal_code = 0x97;
    broker.refusals = 1;
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once),
            message_for(3, qos::at_least_once, "plant/other"), message_for(4, qos::at_least_once)});
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{1})) << "one in flight: 2, 3 and 4 wait in the client";
    deliver_all_acks();  // 1: 0x97
    run_until_quiet();
    ASSERT_EQ(fwd().quota_waiting(), 1u);
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3})) << "4 is of message 1's topic";
    now += std::chrono::seconds(1);
    fwd().quota_due();
    run_until_quiet();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 1, 4}));
    EXPECT_TRUE(committed().empty());
}

TEST(quota_retry_delay, doubles_from_a_second_to_a_minute) {
    EXPECT_EQ(quota_retry_delay(1), std::chrono::seconds(1));
    EXPECT_EQ(quota_retry_delay(2), std::chrono::seconds(2));
    EXPECT_EQ(quota_retry_delay(6), std::chrono::seconds(32));
    EXPECT_EQ(quota_retry_delay(7), std::chrono::seconds(60));
    EXPECT_EQ(quota_retry_delay(1000), std::chrono::seconds(60));
    std::chrono::milliseconds all{0};
    for (std::uint32_t n = 1; n <= forwarder::quota_retries; ++n) all += quota_retry_delay(n);
    EXPECT_GE(all, std::chrono::minutes(2));  // a broker's limit has minutes to free up
}

// A broker that always answers 0x97: the message goes again a bounded
// number of times, then it is refused like any refusing reason code.
TEST_F(forwarder_test, a_broker_that_always_answers_quota_exceeded_gets_a_bounded_number_of_tries) {
    v5 = true;
    start();
    link().connect();
    broker.refusal_code = 0x97;
    broker.refusals = 1'000'000;
    submit({message_for(1, qos::at_least_once)});
    link().write();
    for (int round = 0; round < 100 && !committed().empty(); ++round) {
        deliver_all_acks();
        fwd().flush_due();
        link().write();
    }
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(wire.size(), forwarder::quota_retries + 1);
    EXPECT_EQ(fwd().stats().quota_retries, forwarder::quota_retries);
    EXPECT_EQ(fwd().stats().refused_by_broker, 1u);
}

// store.order: fresh_first with a 0x97 refusal: a message waiting out its
// retry holds back a later live one of its topic; a historical one it holds
// back only when it is older (the backlog goes behind the live rows, not
// behind their retries), and an older waiting historical one holds back the
// rest of the backlog.
TEST_F(forwarder_test, with_fresh_first_a_quota_refusal_holds_back_what_would_overtake_it_on_its_topic) {
    v5 = true;
    order = config::store_order::fresh_first;
    start(1, 1);  // one message handed over at a time: the refusals land where this test says
    use_quota_clock();
    auto& now = quota_now;
    // Stored while the link is down, one topic: 3 is the latest, 1 and 2 the backlog.
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once),
            message_for(3, qos::at_least_once)});
    broker.refusal_code = 0x97;
    broker.refusals = 2;  // 3 (live), then 1 (historical)
    link().connect();
    run_until_quiet();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{3, 1})) << "2 waits behind 1, which is older";
    ASSERT_EQ(fwd().quota_waiting(), 2u);
    // A new live message of the topic waits behind 3.
    submit({message_for(4, qos::at_least_once)});
    run_until_quiet();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{3, 1})) << "4 overtook the live message 3 waiting";
    now += std::chrono::seconds(1);
    fwd().quota_due();
    run_until_quiet();
    // The live lane first, then the backlog; each in order.
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{3, 1, 3, 4, 1, 2}));
    for (std::size_t i = 0; i < wire.size(); ++i) {
        EXPECT_EQ(model::marked_historical(wire[i].payload), i == 1 || i >= 4) << "PUBLISH " << i;
    }
    EXPECT_TRUE(committed().empty());
}

TEST_F(forwarder_test, a_historical_message_handed_over_again_after_a_lost_link_is_counted_once) {
    order = config::store_order::fresh_first;
    start(1000, 1);  // one flow in flight at most
    // Stored while the link is down, one topic: 3 is the latest, 1 and 2 the backlog.
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once),
            message_for(3, qos::at_least_once)});
    link().connect();
    fwd().flush_due();
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{3}));  // 1 and 2 wait in the client
    EXPECT_EQ(fwd().handed(), 3u);
    // The link drops: 1 and 2 are taken back and handed over again, marked
    // again, on the next link.
    link().drop();
    wire.clear();
    link().connect();
    fwd().flush_due();
    link().write();
    for (int round = 0; round < 10 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
        deliver_all_acks();
        fwd().flush_due();
    }
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{3, 1, 2}));
    EXPECT_TRUE(model::marked_historical(wire[1].payload));
    EXPECT_TRUE(model::marked_historical(wire[2].payload));
    EXPECT_EQ(fwd().stats().delivered, 3u);
    EXPECT_EQ(fwd().stats().historical, 2u);
}

TEST_F(forwarder_test, a_historical_message_resent_after_a_failed_commit_is_counted_once) {
    order = config::store_order::fresh_first;
    start();
    // Stored while the link is down: 1 is older than 2 on the same topic.
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once)});
    link().connect();
    fwd().flush_due();
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{2, 1}));  // the latest first, then the backlog
    EXPECT_FALSE(model::marked_historical(wire[0].payload));
    EXPECT_TRUE(model::marked_historical(wire[1].payload));
    // 2 is acknowledged, 3 handed over, and the commit before the write of
    // 3 fails (3, never committed, is lost with it and counted): the session
    // is rebuilt from the store, and 1, in flight, is handed over again,
    // marked as before.
    submit({message_for(3, qos::at_least_once)});
    fail_commits = true;
    link().deliver_acks(1, first_ack, false);
    ASSERT_EQ(fwd().stats().resyncs, 1u);
    fail_commits = false;
    EXPECT_EQ(queue().counters().lost_uncommitted, 1u);
    wire.clear();
    link().connect();
    fwd().flush_due();
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{1}));
    EXPECT_TRUE(wire[0].dup);
    EXPECT_TRUE(model::marked_historical(wire[0].payload));
    deliver_all_acks();
    EXPECT_EQ(fwd().stats().delivered, 2u);
    EXPECT_EQ(fwd().stats().historical, 1u);
}

// A stored QoS 0 message handed over and counted as delivered, whose write
// never happened (the link dropped first), goes back to the queue: it is
// taken back out of the delivered messages and, historical, out of those
// too, and counted once when it is delivered on the next link.
TEST_F(forwarder_test, a_historical_qos0_message_put_back_unwritten_is_counted_once) {
    order = config::store_order::fresh_first;
    start(2);  // two messages with the client at a time
    // Stored while the link is down, one topic: 5 is the latest, 1..4 the backlog.
    for (std::uint64_t k = 1; k <= 5; ++k) submit({message_for(k, qos::at_most_once)});
    link().connect();  // hands over the first two, and writes them
    fwd().flush_due();  // the next ones, waiting for the write
    ASSERT_GT(link().outbox_publishes(), 0u);
    link().drop();  // before the write
    link().connect();
    for (int round = 0; round < 10 && fwd().stats().delivered < 5; ++round) {
        fwd().flush_due();
        link().write();
    }
    std::set<std::uint64_t> keys;
    std::set<std::uint64_t> historical;
    for (const auto& p : wire) {
        const auto key = payload_key(p.payload);
        keys.insert(key);
        if (model::marked_historical(p.payload)) historical.insert(key);
    }
    EXPECT_EQ(keys, (std::set<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(historical, (std::set<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_EQ(fwd().stats().delivered, 5u);
    EXPECT_EQ(fwd().stats().historical, 4u);
}

TEST_F(forwarder_test, a_restart_resumes_the_flows_in_flight_from_the_store_with_their_packet_ids) {
    start();
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::exactly_once), message_for(3, qos::exactly_once)});
    link().write();
    ASSERT_EQ(wire.size(), 3u);
    std::map<std::uint64_t, std::uint16_t> ids;
    for (const auto& p : wire) ids[payload_key(p.payload)] = p.packet_id;
    // The PUBREC for message 2 arrives, the PUBREL goes out (recorded first).
    link().deliver_acks(1, [](std::size_t) { return std::size_t{1}; }, false);
    link().write();
    ASSERT_EQ(committed().at(2).state, store::flow_state::pubrec);
    crash();

    wire.clear();
    start();
    std::vector<mqtt::flow_status> flows;
    link().flows(flows);
    ASSERT_EQ(flows.size(), 3u);
    EXPECT_EQ(flows[0].packet_id, ids[1]);
    EXPECT_EQ(flows[0].state, mqtt::inflight_state::publish_sent);
    EXPECT_EQ(flows[1].packet_id, ids[2]);
    EXPECT_EQ(flows[1].state, mqtt::inflight_state::pubrec_received);
    EXPECT_EQ(flows[2].packet_id, ids[3]);
    EXPECT_EQ(fwd().handed(), 3u);

    // The broker kept the session: 1 and 3 go again with DUP and their ids,
    // 2 only as a PUBREL (never its PUBLISH again).
    link().connect();
    link().write();
    ASSERT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 3}));
    for (const auto& p : wire) {
        EXPECT_TRUE(p.dup);
        EXPECT_EQ(p.packet_id, ids[payload_key(p.payload)]);
    }
    for (int round = 0; round < 5 && (!broker.to_client.empty() || link().outbox_size() > 0); ++round) {
        deliver_all_acks();
    }
    fwd().flush_due();
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 3u);
    // Exactly once: message 2 reached subscribers once, 3 once.
    for (const std::uint64_t key : {2u, 3u}) {
        EXPECT_EQ(std::count_if(broker.log.begin(), broker.log.end(),
                                [&](const model::delivery& d) { return d.key == key && d.delivered; }),
                  1)
            << "message " << key;
    }
}

TEST_F(forwarder_test, the_client_holds_at_most_the_window_and_the_rest_waits_in_the_store) {
    start(3);
    link().connect();
    for (std::uint64_t key = 1; key <= 10; ++key) submit({message_for(key, qos::at_least_once)});
    EXPECT_EQ(fwd().handed(), 3u);
    EXPECT_EQ(link().session().inflight() + link().session().queued(), 3u);
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3}));
    for (int round = 0; round < 20 && committed().size() > 0; ++round) {
        EXPECT_LE(fwd().handed(), 3u);
        deliver_all_acks();
        fwd().flush_due();
        link().write();
    }
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_TRUE(committed().empty());
}

TEST_F(forwarder_test, qos0_messages_awaiting_their_write_are_bounded_by_windows_of_a_thousand_at_most) {
    // 64 windows; a window above 1 000 (a large mqtt.max_inflight) is for
    // QoS 1/2 messages in flight and does not raise the write buffer's bound.
    using sizes = std::pair<std::size_t, std::size_t>;
    for (const auto& [window, bound] : {sizes{3, 192}, sizes{1000, 64000}, sizes{16384, 64000}}) {
        start(window);
        EXPECT_EQ(fwd().max_unwritten(), bound) << window;
        crash();
    }
}

TEST_F(forwarder_test, a_full_queue_drops_the_oldest_by_the_policy_and_counts_them) {
    limits.max_rows = 3;
    policy = store::drop_policy::drop_oldest;
    start();
    // The link is down: everything waits in the store.
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once)});
    submit({message_for(3, qos::at_least_once), message_for(4, qos::at_least_once), message_for(5, qos::at_least_once)});
    EXPECT_EQ(fwd().stats().stored, 5u);
    EXPECT_EQ(queue().counters().dropped_by_rows, 2u);
    auto rows = committed();
    EXPECT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows.count(1) + rows.count(2), 0u);

    link().connect();
    link().write();
    deliver_all_acks();
    fwd().flush_due();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{3, 4, 5}));
    EXPECT_TRUE(committed().empty());
}

TEST_F(forwarder_test, messages_with_the_client_are_never_evicted_to_make_room) {
    limits.max_rows = 3;
    policy = store::drop_policy::drop_oldest;
    start();
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once)});
    link().write();  // 1 and 2 in flight, not acknowledged
    link().drop();
    for (std::uint64_t key = 3; key <= 5; ++key) submit({message_for(key, qos::at_least_once)});
    // Room is made by dropping 3, then 4: 1 and 2 are with the client.
    auto rows = committed();
    EXPECT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows.count(1), 1u);
    EXPECT_EQ(rows.count(2), 1u);
    EXPECT_EQ(rows.count(5), 1u);
    EXPECT_EQ(queue().counters().dropped_by_rows, 2u);

    link().connect();
    for (int round = 0; round < 5; ++round) deliver_all_acks();
    fwd().flush_due();
    const auto keys = wire_keys();
    const auto times = [&](std::uint64_t key) { return std::count(keys.begin(), keys.end(), key); };
    EXPECT_EQ(times(1), 2);  // first sent, then resent with DUP
    EXPECT_EQ(times(2), 2);
    EXPECT_EQ(times(3) + times(4), 0);
    EXPECT_EQ(times(5), 1);
    EXPECT_TRUE(committed().empty());
}

TEST_F(forwarder_test, a_queue_that_refuses_new_messages_counts_them_as_refused) {
    limits.max_rows = 2;
    policy = store::drop_policy::refuse_new;
    start();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once), message_for(3, qos::at_least_once)});
    EXPECT_EQ(fwd().stats().submitted, 3u);
    EXPECT_EQ(fwd().stats().stored, 2u);
    EXPECT_EQ(fwd().stats().refused, 1u);
    const auto rows = committed();
    EXPECT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows.count(3), 0u);
}

// A store file damaged while open (a disk fault) answers `corrupt`, which no
// retry mends: the owner is told once, to restart the process (whose store
// moves the file aside at open), instead of the forwarder retrying forever.
TEST_F(forwarder_test, a_store_damaged_while_open_is_reported_to_the_owner_once) {
    cache_kib = 64;  // the rows are read from the file, not from the cache
    start();
    std::vector<mqtt::message> batch;
    for (std::uint64_t key = 1; key <= 2000; ++key) {
        batch.push_back(mqtt::message{"plant/line", key_payload(key) + std::string(1000, 'p'), qos::at_least_once, false});
    }
    fwd().submit(batch, std::chrono::system_clock::now());
    crash();  // closed: the WAL is checkpointed into the file
    start();
    int told = 0;
    fwd().on_damaged([&] { ++told; });
    {
        std::fstream f(path(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(64 * 1024);
        const std::string garbage(1024 * 1024, '\xa5');
        f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    link().connect();
    link().write();
    EXPECT_EQ(told, 1);
    EXPECT_TRUE(fwd().damaged());
    link().drop();
    link().connect();
    link().write();
    EXPECT_EQ(told, 1);
}

// A queue that stays full refuses every poll's batch: the warning is logged
// once a minute, with the count of the ones held back, not once a batch.
TEST_F(forwarder_test, a_queue_that_stays_full_says_so_once_a_minute_not_once_a_batch) {
    limits.max_rows = 1;
    policy = store::drop_policy::refuse_new;
    start();
    const testing::captured_log log;
    for (std::uint64_t key = 1; key <= 50; ++key) submit({message_for(key, qos::at_least_once)});
    EXPECT_EQ(fwd().stats().refused, 49u);
    EXPECT_EQ(log.count("not stored"), 1u);
}


// store.qos0: direct. A QoS 0 message that meets an up link with nothing
// stored waiting goes to the client without the store; it keeps its place
// in the order of production all the same.
TEST_F(forwarder_test, a_direct_qos0_message_skips_the_store_while_nothing_stored_waits) {
    qos0_route = config::qos0_route::direct;
    start();
    link().connect();
    const auto commits = queue().counters().commits;
    submit({message_for(1, qos::at_most_once), message_for(2, qos::at_most_once, "plant/other")});
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(fwd().stats().direct, 2u);
    EXPECT_EQ(fwd().stats().stored, 0u);
    EXPECT_EQ(fwd().stats().delivered, 2u);
    EXPECT_EQ(queue().counters().commits, commits) << "nothing to commit for direct messages";
    EXPECT_EQ(fwd().handed(), 0u);
    EXPECT_EQ(fwd().direct_unsent(), 0u);
}

TEST_F(forwarder_test, a_direct_qos0_message_queues_behind_what_is_stored) {
    qos0_route = config::qos0_route::direct;
    start();
    // Link down: stored, QoS 0 too.
    submit({message_for(1, qos::at_most_once), message_for(2, qos::at_least_once)});
    EXPECT_EQ(committed().size(), 2u);
    link().connect();  // hands 1 and 2 over: nothing stored waits any more
    submit({message_for(3, qos::at_most_once)});
    // A stored message in a batch: what follows it is stored too.
    submit({message_for(4, qos::at_least_once), message_for(5, qos::at_most_once)});
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(fwd().stats().direct, 1u);
    EXPECT_EQ(fwd().stats().stored, 4u);
    for (int round = 0; round < 3 && !broker.to_client.empty(); ++round) deliver_all_acks();
    fwd().flush_due();
    EXPECT_TRUE(committed().empty());
    EXPECT_EQ(fwd().stats().delivered, 5u);
}

TEST_F(forwarder_test, a_direct_qos0_message_waits_in_the_store_while_the_window_is_full) {
    qos0_route = config::qos0_route::direct;
    start(2);
    link().connect();
    submit({message_for(1, qos::at_least_once), message_for(2, qos::at_least_once)});
    submit({message_for(3, qos::at_most_once)});
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(fwd().stats().direct, 0u);
    EXPECT_EQ(committed().count(3), 1u);
    deliver_all_acks();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(forwarder_test, a_direct_qos0_message_not_written_when_the_link_drops_is_lost_and_counted) {
    qos0_route = config::qos0_route::direct;
    start();
    link().connect();
    submit({message_for(1, qos::at_most_once), message_for(2, qos::at_most_once)});
    link().drop();  // before the client's write
    EXPECT_TRUE(wire.empty());
    EXPECT_EQ(fwd().stats().qos0_lost, 2u);
    EXPECT_EQ(fwd().stats().delivered, 0u);
    EXPECT_EQ(fwd().direct_unsent(), 0u);
    EXPECT_EQ(fwd().handed(), 0u);
    EXPECT_TRUE(committed().empty());
    link().connect();
    link().write();
    EXPECT_TRUE(wire.empty()) << "at most once: a lost direct message is not sent later";
}

TEST_F(forwarder_test, with_qos0_stored_a_qos0_message_not_written_when_the_link_drops_goes_on_the_next_link) {
    start();
    link().connect();
    submit({message_for(1, qos::at_most_once), message_for(2, qos::at_most_once)});
    link().drop();
    EXPECT_EQ(fwd().stats().qos0_lost, 0u);
    EXPECT_EQ(fwd().stats().direct, 0u);
    link().connect();
    link().write();
    EXPECT_EQ(wire_keys(), (std::vector<std::uint64_t>{1, 2}));
}

}  // namespace
}  // namespace fieldbridge::gateway
