// The durable store-and-forward store, one SQLite file (WAL mode): every
// message the gateway publishes lives in it from the moment it is produced
// until the broker acknowledged it, together with its MQTT flow state, so
// that a restarted gateway resumes each flow exactly where it stopped; and
// the reads devices refused. A façade over the parts, each of which keeps
// one thing:
//   database        SQLite plumbing: pragmas, statements, the transaction
//   schema          numbered migrations (user_version)
//   message_queue   the rows, limits, drop policy, expiry, protect
//   session_ledger  flow states and the incoming QoS 2 ids
//   device_memory   reads devices refused with exception 2
//   lane_table      how store.order: fresh_first split a backlog
//   file_lock       one process per file
//
// Writes are grouped by the caller: append() and apply() each take a batch
// and commit it as one transaction. The queue is bounded by rows, bytes and
// age; what does not fit is dropped by the configured policy and counted.
//
// Not thread-safe: one owner (the core thread) calls it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/device_memory.hpp"
#include "gateway/store/file_lock.hpp"
#include "gateway/store/flow.hpp"
#include "gateway/store/lane_table.hpp"
#include "gateway/store/message_queue.hpp"
#include "gateway/store/options.hpp"
#include "gateway/store/queue_stats.hpp"
#include "gateway/store/refused_read.hpp"
#include "gateway/store/session_ledger.hpp"
#include "gateway/store/store_error.hpp"
#include "gateway/store/stored_message.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::store {

class message_store {
public:
    // Opens (creating if needed) the store at o.path and brings its schema up
    // to this build's version, one numbered step at a time (schema.hpp).
    // Refused, the file left untouched: a schema newer than this build
    // (newer_schema), a database of another program (not_a_queue), a file
    // that cannot be opened (open_failed). A file that is not a database or
    // fails the integrity check is renamed to "<path>.corrupt-<unix time>"
    // (with its -wal/-shm; moved_aside() says where), logged as an error,
    // and a fresh store is created. One process per file: a file another
    // store holds open is refused (in_use, file_lock.hpp).
    static result<std::unique_ptr<message_store>> open(const options& o);
    ~message_store();
    message_store(const message_store&) = delete;
    message_store& operator=(const message_store&) = delete;

    // Stores a batch in one transaction, after making room by the policy.
    // Returns one entry per message: its id, or why it was not stored
    // (queue_full, disk_full); a message too big for max_bytes on its own is
    // refused. The ids are durable when this returns.
    std::vector<result<std::int64_t>> append(std::span<const mqtt::message> batch,
                                             std::chrono::system_clock::time_point now);
    // The same, left in the open transaction: durable only with the next
    // commit (apply(), set_incoming_qos2(), add_refused_read(),
    // forget_refused_reads(), flush(), or an append without this). Lets a
    // caller carry a poll's messages and the flow state of the writes that
    // follow in one commit; it must flush within a few ms.
    std::vector<result<std::int64_t>> append_uncommitted(std::span<const mqtt::message> batch,
                                                         std::chrono::system_clock::time_point now);
    // Commits what append_uncommitted() left open; nothing to do otherwise.
    result<void> flush();
    bool uncommitted() const noexcept;

    // Applies state changes in one transaction (all or nothing).
    result<void> apply(std::span<const change> changes);

    // Up to `limit` messages with id > after, in id order.
    result<std::vector<stored_message>> load(std::int64_t after, std::size_t limit);

    // Every message in flight (state sent or pubrec), in id order: what the
    // MQTT session resumes after a restart.
    result<std::vector<stored_message>> load_in_flight();

    // Drops messages older than max_age; returns how many went.
    result<std::uint64_t> expire(std::chrono::system_clock::time_point now);

    // The incoming QoS 2 packet ids delivered but not yet released.
    result<std::vector<std::uint16_t>> incoming_qos2();
    result<void> set_incoming_qos2(std::span<const std::uint16_t> ids);

    // Merged reads devices refused with exception 2 (a span over registers
    // they lack), so that a restart reads them in parts from the first poll
    // instead of being refused again. Committed when add_refused_read returns.
    result<std::vector<refused_read>> refused_reads();
    result<void> add_refused_read(const refused_read& r);
    // Drops what is kept for a device (one no longer configured).
    result<void> forget_refused_reads(const std::string& device);

    // A number kept across restarts under `name` (the Sparkplug bdSeq), or
    // nullopt when none was kept; set_counter commits it.
    result<std::optional<std::int64_t>> counter(const std::string& name);
    result<void> set_counter(const std::string& name, std::int64_t value);

    // store.order: fresh_first (lane_table.hpp): the last split of a backlog,
    // replacing it (committed with everything open), the rows it looks at
    // again, and each lane in id order.
    result<lane_state> lanes() { return lanes_.load(); }
    result<void> set_lanes(const lane_state& lanes) { return lanes_.save(lanes); }
    result<std::vector<lane_row>> fresh_rows() { return lanes_.fresh_rows(); }
    result<bool> all_stored(std::span<const std::int64_t> ids) { return lanes_.all_stored(ids); }
    result<std::vector<std::pair<std::string, std::int64_t>>> latest_by_topic(std::int64_t after) {
        return lanes_.latest_by_topic(after);
    }
    result<std::vector<stored_message>> load_live(const lane_state& lanes, std::int64_t after, std::size_t limit) {
        return lanes_.load_live(lanes, after, limit);
    }
    result<std::vector<stored_message>> load_historical(const lane_state& lanes, std::int64_t after,
                                                        std::size_t limit) {
        return lanes_.load_historical(lanes, after, limit);
    }

    // Messages the caller still needs (with the MQTT client, or acknowledged
    // and about to be deleted): the drop policy never evicts them.
    void protect(std::function<bool(std::int64_t)> keep) { queue_.protect(std::move(keep)); }
    // The highest id ever committed: ids above it, if a caller saw them, were
    // rolled back and will be given again.
    result<std::int64_t> last_id();

    // The connection's page cache in KiB (options::cache_kib, as SQLite holds it).
    result<std::int64_t> cache_kib() { return db_->cache_kib(); }
    queue_stats stats() const { return queue_.stats(); }
    const store::counters& counters() const { return queue_.counters(); }
    std::optional<std::chrono::system_clock::time_point> oldest() const { return queue_.stats().oldest; }
    const std::filesystem::path& path() const { return options_.path; }
    // Where an unreadable file found at open was moved; empty when none was.
    const std::filesystem::path& moved_aside() const { return moved_aside_; }

private:
    message_store(file_lock lock, std::unique_ptr<database> db, options o);

    file_lock lock_;                // first: let go once the database is closed
    std::unique_ptr<database> db_;  // before the parts: they go before it
    options options_;
    message_queue queue_;
    session_ledger ledger_;
    device_memory devices_;
    lane_table lanes_;
    std::filesystem::path moved_aside_;
};

}  // namespace fieldbridge::store
