#include "gateway/store/message_store.hpp"

#include <utility>

#include "gateway/store/database.hpp"
#include "gateway/store/schema.hpp"

namespace fieldbridge::store {
namespace {

// Opens the file and checks that this build may use it: schema version
// first (a newer or foreign file is refused before anything else reads it),
// then integrity.
result<std::unique_ptr<database>> open_checked(const std::filesystem::path& path, bool gather_log_writes) {
    auto db = database::open(path, gather_log_writes);
    if (!db) return db;
    if (auto r = schema::check(**db); !r) return fail(r.error());
    if (auto r = (*db)->check_integrity(); !r) return fail(r.error());
    return db;
}

}  // namespace

result<std::unique_ptr<message_store>> message_store::open(const options& o) {
    if (o.path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(o.path.parent_path(), ec);
    }
    file_lock lock;
    if (const auto ec = lock.take(o.path)) return fail(ec);
    std::filesystem::path moved;
    auto db = open_checked(o.path, o.gather_log_writes);
    if (!db && db.error() == make_error_code(store_errc::corrupt)) {
        // Kept for inspection, never deleted; the queue starts empty (and
        // the lock goes with the file that takes its place).
        moved = move_aside(o.path);
        if (const auto ec = lock.take(o.path)) return fail(ec);
        db = open_checked(o.path, o.gather_log_writes);
    }
    if (!db) return fail(db.error());
    if (auto r = (*db)->use_wal(o.durability); !r) return fail(r.error());
    if (auto r = (*db)->set_cache_kib(o.cache_kib); !r) return fail(r.error());
    if (auto r = schema::migrate(**db); !r) return fail(r.error());

    std::unique_ptr<message_store> s(new message_store(std::move(lock), std::move(*db), o));
    s->moved_aside_ = std::move(moved);
    if (auto r = s->queue_.refresh_stats(); !r) return fail(r.error());
    return s;
}

message_store::message_store(file_lock lock, std::unique_ptr<database> db, options o)
    : lock_(std::move(lock)),
      db_(std::move(db)),
      options_(std::move(o)),
      queue_(*db_, options_.limits, options_.policy),
      ledger_(*db_),
      devices_(*db_),
      lanes_(*db_) {
    db_->observe(&queue_);
    db_->fail_commit_when(options_.fail_commit);
}

message_store::~message_store() {
    if (db_->transaction_open()) (void)db_->commit();
    db_->observe(nullptr);
}

std::vector<result<std::int64_t>> message_store::append(std::span<const mqtt::message> batch,
                                                        std::chrono::system_clock::time_point now) {
    return queue_.append(batch, now, true);
}

std::vector<result<std::int64_t>> message_store::append_uncommitted(std::span<const mqtt::message> batch,
                                                                    std::chrono::system_clock::time_point now) {
    return queue_.append(batch, now, false);
}

result<void> message_store::flush() { return db_->commit(); }

bool message_store::uncommitted() const noexcept { return db_->transaction_open(); }

result<void> message_store::apply(std::span<const change> changes) {
    if (changes.empty()) return flush();
    auto done = ledger_.apply(changes);
    if (!done) return fail(done.error());
    queue_.completed(done->rows, done->bytes, done->oldest_read, done->oldest_ms);
    return {};
}

result<std::vector<stored_message>> message_store::load(std::int64_t after, std::size_t limit) {
    return queue_.load(after, limit);
}

result<std::vector<stored_message>> message_store::load_in_flight() { return ledger_.load_in_flight(); }

result<std::uint64_t> message_store::expire(std::chrono::system_clock::time_point now) { return queue_.expire(now); }

result<std::vector<std::uint16_t>> message_store::incoming_qos2() { return ledger_.incoming_qos2(); }

result<void> message_store::set_incoming_qos2(std::span<const std::uint16_t> ids) {
    return ledger_.set_incoming_qos2(ids);
}

result<std::vector<refused_read>> message_store::refused_reads() { return devices_.refused_reads(); }

result<void> message_store::add_refused_read(const refused_read& r) { return devices_.add(r); }

result<void> message_store::forget_refused_reads(const std::string& device) { return devices_.forget(device); }

result<std::optional<std::int64_t>> message_store::counter(const std::string& name) {
    return read_counter(*db_, name);
}

result<void> message_store::set_counter(const std::string& name, std::int64_t value) {
    return db_->in_transaction(true, [&]() { return write_counter(*db_, name, value); });
}

result<std::int64_t> message_store::last_id() { return queue_.last_id(); }

}  // namespace fieldbridge::store
