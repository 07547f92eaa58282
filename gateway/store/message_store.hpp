// The durable store-and-forward queue: every message the gateway publishes
// lives in one SQLite table (WAL mode) from the moment it is produced until
// the broker acknowledged it, together with its MQTT flow state (packet id,
// PUBLISH sent / PUBREC received, DUP), so that a restarted gateway resumes
// each flow exactly where it stopped. The incoming QoS 2 ids of the session
// live here too.
//
// Writes are grouped by the caller: append() and apply() each take a batch
// and commit it as one transaction. The queue is bounded by rows, bytes and
// age; what does not fit is dropped by the configured policy and counted.
//
// Not thread-safe: one owner (the core thread) calls it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/flow.hpp"
#include "mqtt/message.hpp"

struct sqlite3;

namespace fieldbridge::store {

enum class store_errc {
    open_failed = 1,     // the file cannot be opened or created
    newer_schema,        // written by a newer fieldbridge; refused, left untouched
    corrupt,             // failed the integrity check (moved aside on open)
    disk_full,           // SQLITE_FULL: the batch was not stored
    io_error,            // any other SQLite failure
    queue_full,          // limits reached and the policy refuses new messages
};

const std::error_category& store_category() noexcept;
inline std::error_code make_error_code(store_errc e) noexcept { return {static_cast<int>(e), store_category()}; }

// PRAGMA synchronous: FULL survives a power cut at any instant; NORMAL in WAL
// mode survives a process crash but may lose the last commits on power loss.
enum class durability { full, normal };

enum class drop_policy {
    drop_oldest,      // evict the oldest messages, whatever their QoS
    drop_qos0_first,  // evict the oldest QoS 0 messages first, then the oldest others
    refuse_new,       // keep what is stored; new messages are refused (counted)
};

struct limits {
    std::uint64_t max_rows = 1'000'000;
    std::uint64_t max_bytes = 256ull * 1024 * 1024;  // topic + payload bytes
    std::chrono::seconds max_age{7 * 24 * 3600};     // 0 = no age limit
};

struct options {
    std::filesystem::path path;
    store::durability durability = durability::full;
    store::limits limits;
    store::drop_policy policy = drop_policy::drop_qos0_first;
    // Fault injection for tests of the callers' failure paths: when set and
    // it returns true, a COMMIT fails as an I/O error would (rolled back).
    std::function<bool()> fail_commit;
};

struct stored_message {
    std::int64_t id = 0;  // increasing: the order messages were produced in
    mqtt::message message;
    flow_state state = flow_state::queued;
    std::uint16_t packet_id = 0;
    bool dup = false;
    std::chrono::system_clock::time_point created;

    bool operator==(const stored_message&) const = default;
};

struct counters {
    std::uint64_t appended = 0;
    std::uint64_t completed = 0;
    std::uint64_t dropped_by_rows = 0;
    std::uint64_t dropped_by_bytes = 0;
    std::uint64_t dropped_by_age = 0;
    std::uint64_t refused = 0;     // refuse_new policy or a full disk
    std::uint64_t disk_full = 0;   // batches that hit SQLITE_FULL
    std::uint64_t commits = 0;
    // Appended with commit_later, then lost because the commit that was to
    // carry them failed (disk full, I/O error).
    std::uint64_t lost_uncommitted = 0;
};

struct queue_stats {
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;
    std::optional<std::chrono::system_clock::time_point> oldest;
};

// A read a device refused (see message_store::refused_reads).
struct refused_read {
    std::string device;
    int function = 3;  // Modbus read function: 1 coils, 2 discrete inputs, 3 holding, 4 input registers
    std::uint16_t start = 0;
    std::uint16_t count = 0;
    bool operator==(const refused_read&) const = default;
};

namespace detail {
class statement;

}

class message_store {
public:
    // Opens (creating if needed) the store at o.path. A file that is not a
    // database or fails the integrity check is renamed to
    // "<path>.corrupt-<unix time>" (with its -wal/-shm), logged, and a fresh
    // store is created; a schema newer than this build is refused.
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
    // commit (apply(), set_incoming_qos2(), flush(), or an append without
    // this). Lets a caller carry a poll's messages and the flow state of the
    // writes that follow in one commit; it must flush within a few ms.
    std::vector<result<std::int64_t>> append_uncommitted(std::span<const mqtt::message> batch,
                                                         std::chrono::system_clock::time_point now);
    // Commits what append_uncommitted() left open; nothing to do otherwise.
    result<void> flush();
    bool uncommitted() const noexcept { return open_; }

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

    // Messages the caller still needs (with the MQTT client, or acknowledged
    // and about to be deleted): the drop policy never evicts them.
    void protect(std::function<bool(std::int64_t)> keep) { protect_ = std::move(keep); }
    // The highest id ever committed: ids above it, if a caller saw them, were
    // rolled back and will be given again.
    result<std::int64_t> last_id();

    queue_stats stats() const { return stats_; }
    const store::counters& counters() const { return counters_; }
    std::optional<std::chrono::system_clock::time_point> oldest() const { return stats_.oldest; }
    const std::filesystem::path& path() const { return options_.path; }

private:
    message_store(sqlite3* db, options o);
    result<void> refresh_stats();
    // Only the oldest message's time: after deletes, which keep rows and
    // bytes up to date themselves (a count over the table would cost a scan
    // per commit with a long backlog).
    result<void> refresh_oldest();
    // A statement prepared once and kept; reset and unbound when the
    // returned handle goes.
    class prepared_statement;
    prepared_statement prepared(const char* sql);
    // Evicts by policy until `rows` more rows and `bytes` more bytes fit;
    // false when the policy refuses.
    result<bool> make_room(std::uint64_t rows, std::uint64_t bytes);
    std::vector<result<std::int64_t>> append_impl(std::span<const mqtt::message> batch,
                                                  std::chrono::system_clock::time_point now, bool commit);
    // Runs `body` in the open transaction (a new one if none is open) as a
    // savepoint: a failing body leaves nothing of its own behind. Then
    // commits everything open, unless commit is false.
    result<void> in_transaction(bool commit, const std::function<result<void>()>& body);
    result<void> step_sql(const char* sql);

    sqlite3* db_;
    options options_;
    queue_stats stats_;
    store::counters counters_;
    std::map<std::string, std::unique_ptr<detail::statement>, std::less<>> statements_;
    std::function<bool(std::int64_t)> protect_;
    bool open_ = false;                // a transaction is open (append_uncommitted)
    std::uint64_t uncommitted_rows_ = 0;  // appended in it
    store::counters at_begin_;            // when it began: a rollback restores the drop counts
    std::uint64_t rollbacks_ = 0;         // failed commits
};

}  // namespace fieldbridge::store

template <>
struct std::is_error_code_enum<fieldbridge::store::store_errc> : std::true_type {};
