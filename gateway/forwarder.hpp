// forwarder: the store-and-forward path between the point mapper and the
// MQTT client. Every message is appended to the durable store first, then
// handed to the client in store order while the link is up, a bounded
// number at a time; the MQTT flow state of each message (packet id,
// PUBLISH sent, PUBREC received, DUP) is committed to the store right before
// the bytes that change it leave for the broker (before_write()), and a
// message is deleted only when the broker acknowledged it. After a restart,
// resume() gives the client back the flows in progress and the queue
// continues where it was.
//
// Durable before sent: when a commit fails, before_write() refuses the
// write, the link is dropped, and once it is down the session is rebuilt
// from what the store holds, as after a restart (resync).
//
// Bounds: while the link is up the client holds at most `window` of the
// forwarder's messages not yet acknowledged (handed()) and 64 windows (of
// default_window at most) of QoS 0 messages in its write buffer
// (unwritten()); while the link is down it holds only flows already sent
// (at most its in-flight window); queued messages stay in the store alone,
// whose limits (rows, bytes, age) therefore bound everything held. The store
// never evicts a message the client holds or the broker acknowledged.
//
// Order, store.order: strict: strictly the order messages were produced in
// (the store's id order), across all topics, so per-topic order holds while
// a backlog drains. store.order: fresh_first: when the link comes back, the
// stored rows are split (backlog_split.hpp): the latest of each topic and
// everything produced after go first, in id order (the live lane); the
// older rows follow when the live lane is empty, in id order, each marked
// as historical (the historical lane). The split is kept in the store, so
// that a restart mid-drain marks every row as before; a row in flight keeps
// the marking it was first sent with.
//
// QoS 0, direct route (config::qos0_route::direct): while the link is up and
// every stored message has been handed to the client, a QoS 0 message goes
// to the client without the store (order holds: nothing older waits). Such a
// message is at most once, as QoS 0 is: if the link drops before the client
// wrote it, it is lost and counted (forwarder_stats::qos0_lost); a crash
// loses it uncounted. While the link is down or a backlog drains, QoS 0
// messages are stored as on the stored route, which stores every message.
//
// Pure of I/O of its own: the store and the uplink are given, and the owner
// runs flush_due() when asked through arm_flush. Not thread-safe: one thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log_limiter.hpp"
#include "common/result.hpp"
#include "config/model.hpp"
#include "gateway/forwarder_stats.hpp"
#include "gateway/ledger.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/uplink.hpp"

namespace fieldbridge::gateway {

class forwarder {
public:
    // window: messages handed to the client and not yet acknowledged, at most.
    // arm_flush: the owner calls flush_due() within a few milliseconds.
    static constexpr std::size_t default_window = 1000;
    forwarder(store::message_store& store, uplink& link, std::function<void()> arm_flush,
              std::size_t window = default_window,
              config::qos0_route qos0 = config::qos0_route::stored);
    ~forwarder();
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;

    // Before resume(): store.order, and how a historical message is marked
    // (historical_mark.hpp). Without it: strict, unmarked.
    void set_order(config::store_order order, std::function<void(mqtt::message&)> mark);

    // Before the client starts: restores the in-flight flows and the
    // incoming QoS 2 ids from the store.
    result<void> resume();

    // Stores a batch and hands what fits to the client.
    void submit(const std::vector<mqtt::message>& batch, std::chrono::system_clock::time_point now);

    // Drops stored messages older than the age limit.
    void expire(std::chrono::system_clock::time_point now);

    // Events from the client.
    void on_completed(std::uint64_t token, std::error_code error);
    // Commits the ledger; false: the write must not happen.
    bool before_write();
    void on_link_up();
    void on_link_down();
    // The timer asked for with arm_flush fired.
    void flush_due();
    // A message answered 0x97 Quota exceeded goes again after
    // quota_retry_delay(): clock says the time now, and wake(t) asks the
    // owner to call quota_due() at t or later. Without it such a message
    // goes again after the next commit.
    using quota_clock = std::chrono::steady_clock;
    void set_quota_wait(std::function<quota_clock::time_point()> clock,
                        std::function<void(quota_clock::time_point)> wake);
    void quota_due();
    // Messages waiting for their 0x97 retry.
    std::size_t quota_waiting() const { return quota_wait_.size(); }
    // Whether the stored message `id` of `topic` waits on a 0x97 retry: its
    // own, or that of an older message of its topic (with fresh_first a
    // live message does not wait for a historical one).
    bool quota_holds(std::int64_t id, const std::string& topic) const {
        return quota_holds(quota_index(), id, topic);
    }
    // Stored messages the uplink was not ready() for may go now: the queue
    // is read again from its start.
    void rewind();

    // Called once when the store answers `corrupt` (the file was damaged
    // while open): that does not mend itself, and the owner restarts the
    // process, whose store moves the file aside at open.
    void on_damaged(std::function<void()> f) { on_damaged_ = std::move(f); }
    bool damaged() const { return damaged_; }

    const forwarder_stats& stats() const { return stats_; }
    // The last split of a backlog (store.order: fresh_first).
    const store::lane_state& lanes() const { return lanes_; }
    // Messages with the client and not yet acknowledged: queued there or in
    // flight; stored or sent directly. At most the window.
    std::size_t handed() const { return handed_.size() + direct_handed_.size(); }
    // QoS 0 messages the client completed into its write buffer and has not
    // written yet: at most max_unwritten(), so that a socket the broker
    // reads slowly does not make the buffer grow without bound. 64 windows
    // (64 000 messages by default, about 8 MB of 130-byte messages) take a
    // second of 500 devices x 100 points all polled at the same instant
    // (docs/performance.md, "Every value changing"); past it, QoS 0 messages
    // wait in the store. A window above default_window (a large
    // mqtt.max_inflight) does not raise it: that is for QoS 1/2 messages in
    // flight.
    std::size_t unwritten() const { return unwritten_.size() + direct_unwritten_; }
    std::size_t max_unwritten() const { return std::min(window_, default_window) * unwritten_windows; }
    static constexpr std::size_t unwritten_windows = 64;
    // Rows one refill reads at most, counting those the uplink is not
    // ready() for (the rest follows at the next flush): a long run of
    // waiting rows costs a few slices, not the whole table at once.
    std::size_t max_examined() const { return window_ * 16; }
    // QoS 0 messages sent directly that the client has not written yet (in
    // its queue or its write buffer): what a crash now would lose.
    std::size_t direct_unsent() const { return direct_handed_.size() + direct_unwritten_; }
    // 0x97 Quota exceeded (MQTT 5.0) in PUBACK/PUBREC is taken as "not
    // now": the message is sent again, at most this many times in this run,
    // then it is refused like any other refusing reason code.
    static constexpr std::uint32_t quota_retries = 8;
    static constexpr int quota_exceeded = 0x97;

private:
    void refill();
    // Up to `want` rows to hand over: of one lane (fresh_first), or in id order.
    result<std::vector<store::stored_message>> load_lane(bool historical, std::size_t want);
    // fresh_first: a link back with rows stored since the last split.
    void split_backlog();
    // The highest id of each topic above the split's boundary, from the store.
    result<void> reload_latest();
    void mark_if_historical(mqtt::message& m, std::int64_t id);
    // A stored message the broker took (QoS 0: in the client's write
    // buffer): counted once, however often it was handed over.
    void count_delivered(std::int64_t id) {
        ++stats_.delivered;
        if (lanes_.historical(id)) ++stats_.historical;
    }
    bool fresh_first() const { return order_ == config::store_order::fresh_first; }
    void rewind(std::int64_t id) {
        cursor_ = std::min(cursor_, id - 1);
        historical_cursor_ = std::min(historical_cursor_, id - 1);
    }
    // Room for one more message with the client.
    bool room() const { return handed() < window_ && unwritten() < max_unwritten(); }
    // The direct route is open: link up, nothing stored waits, room in the window.
    bool direct_open() const;
    void send_direct(const mqtt::message& m);
    void direct_completed(std::uint64_t token, std::error_code error, bool refused);
    // Direct QoS 0 messages the client still holds or has not written: lost
    // with the link.
    void lose_direct();
    void broker_refused(std::error_code error);
    void log_quota(std::error_code error);
    // Moves the session's restarted flows (uplink::take_restarted) to requeued_.
    void take_restarted();
    // writing: the commit right before a write (QoS 0 messages in it go too).
    bool commit_ledger(bool writing);
    void requeue_unwritten();
    // Asks for flush_due(): something to commit, or more to hand over.
    void request_flush(bool more_to_hand = false);
    void store_failed(const char* what, std::error_code why);
    void check_damage(std::error_code why);
    // The store counted messages lost with a rolled back transaction since
    // the forwarder last looked (then it resyncs).
    bool lost_unseen();
    // The topic of stored row `id`; empty when it is not stored.
    std::string stored_topic(std::int64_t id);
    void resync();
    void report_drops(const store::counters& before);
    // A flow whose broker session is gone, recorded as sent without a
    // packet id (ledger_changes): not resumed but sent again as a new
    // message, when refill() comes to it in its lane and there is room in
    // the window. Resumed with the flows that have a packet id, a restart or
    // a resync would hand over more than the window, and old rows ahead of
    // live ones.
    static bool given_up(const store::stored_message& m) {
        return m.state == store::flow_state::sent && m.packet_id == 0;
    }
    bool held(std::int64_t id) const {
        return handed_.count(id) > 0 || acknowledged_.count(id) > 0 || unwritten_.count(id) > 0;
    }

    store::message_store& store_;
    uplink& link_;
    std::function<void()> arm_flush_;
    std::size_t window_;
    config::qos0_route qos0_;
    std::int64_t cursor_ = 0;             // highest id read from the store for handing over (the live lane)
    std::int64_t historical_cursor_ = 0;  // the same in the historical lane
    config::store_order order_ = config::store_order::strict;
    std::function<void(mqtt::message&)> mark_;
    store::lane_state lanes_;             // the last split, as the store has it
    // fresh_first: the highest id of each topic stored since the last
    // split; at most one entry per topic.
    std::unordered_map<std::string, std::int64_t> latest_;
    std::uint64_t dropped_seen_ = 0;  // rows the store dropped when latest_ was last exact
    // fresh_first: the link came up (or the forwarder started) since the
    // last split: the first refill splits before it hands anything over.
    bool split_due_ = true;
    std::map<std::int64_t, mqtt::qos> handed_;  // ids with the client, not yet acknowledged
    std::set<std::int64_t> acknowledged_; // acknowledged, deleted with the next commit
    // QoS 0 messages the client completed into its write buffer: deleted
    // with the commit before that write, back in the queue if it never happens.
    std::set<std::int64_t> unwritten_;
    ledger committed_;                    // flow state as the store has it
    // Messages whose flow ended without an acknowledgement (a broker
    // without our session, 0x97 Quota exceeded) that the store may still
    // have in flight as it was: recorded with the next commit as to be sent
    // again as new messages (ledger_changes).
    std::set<std::int64_t> requeued_;
    // 0x97 Quota exceeded answers per message; an entry lives until the
    // message is acknowledged or refused for good.
    std::map<std::int64_t, std::uint32_t> quota_tries_;
    // Messages answered 0x97 and when they may go again (set_quota_wait);
    // refill() passes over them, and the later messages of their topic,
    // until then.
    struct quota_wait {
        quota_clock::time_point due;
        std::string topic;  // empty when the row was not found
    };
    std::map<std::int64_t, quota_wait> quota_wait_;
    // quota_wait_ by topic, built once per refill(): the oldest waiting id
    // of each topic, and its oldest waiting live one (fresh_first).
    struct quota_topics {
        std::map<std::string, std::int64_t, std::less<>> oldest;
        std::map<std::string, std::int64_t, std::less<>> oldest_live;
    };
    quota_topics quota_index() const;
    bool quota_holds(const quota_topics& waiting, std::int64_t id, const std::string& topic) const;
    std::function<quota_clock::time_point()> quota_clock_;
    std::function<void(quota_clock::time_point)> quota_wake_;
    // Direct QoS 0 messages with the client, by token (from direct_token_base
    // up, below mqtt::client_token_base), and how many the client completed
    // into its write buffer since the last write.
    std::set<std::uint64_t> direct_handed_;
    std::uint64_t next_direct_;
    std::size_t direct_unwritten_ = 0;
    // refill() reached the store's end: every stored message is with the
    // client (or acknowledged); cleared by anything that stores or requeues.
    bool caught_up_ = false;
    std::vector<std::uint16_t> committed_incoming_;
    std::vector<mqtt::flow_status> flows_;  // reused by every commit
    forwarder_stats stats_;
    log_limiter log_limit_;  // broker refusals and drops, once a minute per reason
    bool refilling_ = false;       // refill() is on the stack: completions do not re-enter it
    bool flush_armed_ = false;
    bool resync_needed_ = false;   // a commit failed: nothing more is sent until the session is rebuilt
    std::uint64_t lost_seen_ = 0;  // store counters' lost_uncommitted, as last acted on
    bool damaged_ = false;         // the store answered `corrupt`; on_damaged_ was called
    std::function<void()> on_damaged_;
};

}  // namespace fieldbridge::gateway
