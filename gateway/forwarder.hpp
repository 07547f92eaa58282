// forwarder: the store-and-forward path between the point mapper and the
// MQTT client. Every message is appended to the durable store first (one
// transaction per batch), then handed to the client in store order, a
// bounded number at a time; the MQTT flow state of each message (packet id,
// PUBLISH sent, PUBREC received, DUP) is committed to the store right before
// the bytes that change it leave for the broker, and a message is deleted
// only when the broker acknowledged it. After a restart, resume() gives the
// client back the flows in progress and the queue continues where it was.
//
// Order: strictly the order messages were produced in (the store's id
// order), across all topics, so per-topic order holds while a backlog drains;
// live data queues behind the backlog (command replies and the birth
// message go to the client directly).
//
// Not thread-safe: lives on the core thread with the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "common/log_limiter.hpp"
#include "common/result.hpp"
#include "gateway/store/message_store.hpp"
#include "mqtt/client.hpp"

namespace fieldbridge::gateway {

struct forwarder_stats {
    std::uint64_t submitted = 0;
    std::uint64_t stored = 0;
    std::uint64_t refused = 0;       // not stored (queue full by policy, disk full)
    std::uint64_t delivered = 0;     // acknowledged by the broker
    std::uint64_t refused_by_broker = 0;  // answered with a refusal (MQTT 5.0), deleted
    std::uint64_t ledger_errors = 0; // flow-state commits that failed
};

class forwarder {
public:
    // window: messages handed to the client and not yet acknowledged, at most.
    forwarder(store::message_store& store, mqtt::client& client, std::size_t window = 1000);
    ~forwarder();
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;

    // Before client.start(): restores the in-flight flows and the incoming
    // QoS 2 ids from the store, then queues what is stored.
    result<void> resume();

    // Stores a batch (one transaction) and hands what fits to the client.
    void submit(const std::vector<mqtt::message>& batch, std::chrono::system_clock::time_point now);

    // Drops stored messages older than the age limit.
    void expire(std::chrono::system_clock::time_point now);

    const forwarder_stats& stats() const { return stats_; }

private:
    void refill();
    void on_completed(std::uint64_t token, std::error_code error);
    void commit_ledger();
    void schedule_flush();

    struct flow {
        store::flow_state state = store::flow_state::queued;
        std::uint16_t packet_id = 0;
        bool dup = false;
        bool operator==(const flow&) const = default;
    };

    store::message_store& store_;
    mqtt::client& client_;
    std::size_t window_;
    std::int64_t cursor_ = 0;            // highest id handed to the client
    std::set<std::int64_t> handed_;      // ids with the client, not yet acknowledged
    std::set<std::int64_t> restored_;    // in-flight ids resumed from the store (beyond the cursor)
    std::map<std::int64_t, flow> committed_;  // flow state as the store has it
    std::vector<std::int64_t> completed_;     // acknowledged, to delete with the next commit
    std::vector<std::uint16_t> committed_incoming_;
    std::vector<mqtt::flow_status> flows_;   // reused by every commit_ledger()
    std::vector<store::change> changes_;     // reused by every commit_ledger()
    forwarder_stats stats_;
    log_limiter log_limit_;  // broker refusals, once a minute per reason
    boost::asio::steady_timer flush_timer_;  // bounds how long appended messages stay uncommitted
    bool flush_armed_ = false;
};

}  // namespace fieldbridge::gateway
