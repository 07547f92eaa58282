// The message queue: the rows of `messages` in production order, bounded by
// rows, bytes and age, with the drop policy that makes room and the counters
// of what was stored, refused and dropped. Its figures follow the database's
// transactions: what a rollback undoes is not counted as dropped, and what
// it takes of rows appended without a commit is counted as lost.
//
// Not thread-safe: one owner (the store). Keeps a reference to the database,
// which must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store/options.hpp"
#include "gateway/store/queue_stats.hpp"
#include "gateway/store/stored_message.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::store {

// Every row s yields, as stored messages; s selects, in this order:
// id, topic, payload, qos, retain, created_ms, state, packet_id, dup.
result<std::vector<stored_message>> read_messages(statement& s);

// The creation time (ms) of the oldest message, none when the table is
// empty; read in whatever transaction is open.
result<std::optional<std::int64_t>> oldest_created_ms(database& db);

class message_queue final : public transaction_observer {
public:
    message_queue(database& db, const limits& l, drop_policy p);

    // Rows, bytes and the oldest message, counted again from the table.
    result<void> refresh_stats();

    // Stores a batch as a savepoint of the open transaction, after making
    // room by the policy; commits everything open unless commit is false.
    // One entry per message: its id, or why it was not stored.
    std::vector<result<std::int64_t>> append(std::span<const mqtt::message> batch,
                                             std::chrono::system_clock::time_point now, bool commit);
    // Up to `limit` messages with id > after, in id order.
    result<std::vector<stored_message>> load(std::int64_t after, std::size_t limit);
    // Drops queued messages older than max_age, but not those protect() keeps;
    // returns how many went.
    result<std::uint64_t> expire(std::chrono::system_clock::time_point now);
    // The highest id given out (ids above it come again after a rollback).
    result<std::int64_t> last_id();

    // Messages the caller still needs: neither the drop policy nor expiry
    // removes them.
    void protect(std::function<bool(std::int64_t)> keep) { protect_ = std::move(keep); }
    // Rows the session ledger deleted once acknowledged, committed, and the
    // creation time (ms) of the oldest message left after them (read again
    // here unless `oldest_read`).
    void completed(std::uint64_t rows, std::uint64_t bytes, bool oldest_read, std::optional<std::int64_t> oldest_ms);

    const queue_stats& stats() const noexcept { return stats_; }
    const store::counters& counters() const noexcept { return counters_; }

    void transaction_began() override;
    void transaction_committed() override;
    void transaction_rolled_back(std::error_code why) override;

private:
    // Only the oldest message's time: after deletes, which keep rows and
    // bytes up to date themselves (a count over the table would cost a scan
    // per commit with a long backlog).
    result<void> refresh_oldest();
    void set_oldest(std::optional<std::int64_t> created_ms);
    // Evicts by policy until `rows` more rows and `bytes` more bytes fit;
    // false when the policy refuses.
    result<bool> make_room(std::uint64_t rows, std::uint64_t bytes);

    database& db_;
    store::limits limits_;
    drop_policy policy_;
    queue_stats stats_;
    store::counters counters_;
    std::function<bool(std::int64_t)> protect_;
    std::uint64_t uncommitted_rows_ = 0;  // appended in the open transaction
    store::counters at_begin_;            // when it began: a rollback restores the drop counts
    // No row was created (ms) before this: the least creation time left by
    // expiry's last whole pass, lowered by every append since; none before
    // the first pass and after a rollback. Lets expiry skip its pass.
    std::optional<std::int64_t> earliest_;
};

}  // namespace fieldbridge::store
