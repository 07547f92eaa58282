#include "gateway/store/message_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace fieldbridge::store {
namespace {

constexpr int schema_version = 1;

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    packet_id  INTEGER NOT NULL DEFAULT 0,
    dup        INTEGER NOT NULL DEFAULT 0,
    size       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_queued_qos ON messages(qos, id) WHERE state = 0;
CREATE TABLE IF NOT EXISTS incoming_qos2 (packet_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS refused_reads (
    device   TEXT    NOT NULL,
    function INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (device, function, start, count)
) WITHOUT ROWID;
)sql";

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "store"; }
    std::string message(int c) const override {
        switch (static_cast<store_errc>(c)) {
            case store_errc::open_failed:
                return "the queue database cannot be opened";
            case store_errc::newer_schema:
                return "the queue database was written by a newer fieldbridge";
            case store_errc::corrupt:
                return "the queue database is corrupt";
            case store_errc::disk_full:
                return "the disk holding the queue is full";
            case store_errc::io_error:
                return "queue database error";
            case store_errc::queue_full:
                return "the queue is full and its policy refuses new messages";
        }
        return "unknown store error";
    }
};

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

namespace detail {

// A prepared statement, finalized when it goes.
class statement {
public:
    statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
            spdlog::error("queue: cannot prepare '{}': {}", sql, sqlite3_errmsg(db));
            stmt_ = nullptr;
        }
    }
    ~statement() { sqlite3_finalize(stmt_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    bool ok() const { return stmt_ != nullptr; }
    statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    statement& bind(int i, const std::string& v) {
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    statement& bind_blob(int i, const std::string& v) {
        sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::string text(int col) const {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
        const int n = sqlite3_column_bytes(stmt_, col);
        return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace detail

namespace {

using detail::statement;

std::error_code sqlite_error(int rc) {
    switch (rc & 0xff) {
        case SQLITE_FULL:
            return make_error_code(store_errc::disk_full);
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return make_error_code(store_errc::corrupt);
        default:
            return make_error_code(store_errc::io_error);
    }
}

result<void> exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        spdlog::error("queue: '{}' failed: {}", sql, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return fail(sqlite_error(rc));
    }
    return {};
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class transaction {
public:
    explicit transaction(sqlite3* db) : db_(db) { begun_ = exec(db, "BEGIN IMMEDIATE").has_value(); }
    ~transaction() {
        if (begun_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    bool begun() const { return begun_; }
    result<void> commit() {
        char* err = nullptr;
        const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &err);
        sqlite3_free(err);
        if (rc != SQLITE_OK) return fail(sqlite_error(rc));
        done_ = true;
        return {};
    }

private:
    sqlite3* db_;
    bool begun_ = false;
    bool done_ = false;
};

// Opens the file and checks it: schema version, integrity. Leaves *out null
// on failure and says why.
std::error_code open_checked(const std::filesystem::path& path, sqlite3** out) {
    *out = nullptr;
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        spdlog::error("queue: cannot open {}: {}", path.string(), db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return make_error_code(store_errc::open_failed);
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    std::int64_t version = -1;
    {
        statement s(db, "PRAGMA user_version");
        rc = s.step();
        if (rc == SQLITE_ROW) version = s.integer(0);
    }
    if (version < 0) {
        sqlite3_close(db);
        return sqlite_error(rc);
    }
    if (version > schema_version) {
        spdlog::error("queue: {} has schema version {}, this build knows up to {}; refusing to touch it",
                      path.string(), version, schema_version);
        sqlite3_close(db);
        return make_error_code(store_errc::newer_schema);
    }
    {
        statement s(db, "PRAGMA quick_check");
        rc = s.step();
        if (rc != SQLITE_ROW || s.text(0) != "ok") {
            spdlog::error("queue: {} fails the integrity check: {}", path.string(),
                          rc == SQLITE_ROW ? s.text(0) : std::string(sqlite3_errstr(rc)));
            sqlite3_close(db);
            return make_error_code(store_errc::corrupt);
        }
    }
    *out = db;
    return {};
}

void move_aside(const std::filesystem::path& path) {
    const auto stamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::filesystem::path from = path.string() + suffix;
        std::error_code ec;
        if (!std::filesystem::exists(from, ec)) continue;
        const std::filesystem::path to = path.string() + ".corrupt-" + stamp + suffix;
        std::filesystem::rename(from, to, ec);
        if (ec) {
            spdlog::error("queue: cannot move {} aside: {}", from.string(), ec.message());
        } else {
            spdlog::warn("queue: moved the unreadable queue {} to {}; starting with an empty queue", from.string(),
                         to.string());
        }
    }
}

}  // namespace

const std::error_category& store_category() noexcept {
    static const category c;
    return c;
}

result<std::unique_ptr<message_store>> message_store::open(const options& o) {
    if (o.path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(o.path.parent_path(), ec);
    }
    sqlite3* db = nullptr;
    auto ec = open_checked(o.path, &db);
    if (ec == make_error_code(store_errc::corrupt)) {
        move_aside(o.path);
        ec = open_checked(o.path, &db);
    }
    if (ec) return fail(ec);

    std::unique_ptr<message_store> s(new message_store(db, o));
    if (auto r = exec(db, "PRAGMA journal_mode=WAL"); !r) return fail(r.error());
    if (auto r = exec(db, o.durability == durability::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        !r) {
        return fail(r.error());
    }
    {
        transaction t(db);
        if (!t.begun()) return fail(store_errc::io_error);
        if (auto r = exec(db, schema); !r) return fail(r.error());
        if (auto r = exec(db, "PRAGMA user_version=1"); !r) return fail(r.error());
        if (auto r = t.commit(); !r) return fail(r.error());
    }
    if (auto r = s->refresh_stats(); !r) return fail(r.error());
    return s;
}

message_store::message_store(sqlite3* db, options o) : db_(db), options_(std::move(o)) {}

message_store::~message_store() {
    if (open_) (void)flush();
    statements_.clear();  // finalized before the connection closes
    sqlite3_close(db_);
}

class message_store::prepared_statement {
public:
    explicit prepared_statement(statement& s) : s_(&s) {}
    ~prepared_statement() { s_->reset(); }
    prepared_statement(const prepared_statement&) = delete;
    prepared_statement& operator=(const prepared_statement&) = delete;
    statement* operator->() const { return s_; }
    statement& operator*() const { return *s_; }

private:
    statement* s_;
};

message_store::prepared_statement message_store::prepared(const char* sql) {
    auto it = statements_.find(std::string_view(sql));
    if (it == statements_.end()) it = statements_.emplace(sql, std::make_unique<statement>(db_, sql)).first;
    it->second->reset();
    return prepared_statement(*it->second);
}

result<void> message_store::step_sql(const char* sql) {
    auto s = prepared(sql);
    const int rc = s->step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        spdlog::error("queue: '{}' failed: {}", sql, sqlite3_errmsg(db_));
        return fail(sqlite_error(rc));
    }
    return {};
}

result<void> message_store::flush() {
    if (!open_) return {};
    auto committed = options_.fail_commit && options_.fail_commit() ? fail(store_errc::io_error) : step_sql("COMMIT");
    if (auto r = committed; !r) {
        (void)step_sql("ROLLBACK");
        open_ = false;
        // What the transaction evicted is back: not dropped after all.
        ++rollbacks_;
        counters_.dropped_by_rows = at_begin_.dropped_by_rows;
        counters_.dropped_by_bytes = at_begin_.dropped_by_bytes;
        if (uncommitted_rows_ > 0) {
            counters_.lost_uncommitted += uncommitted_rows_;
            spdlog::error("queue: {} message(s) not yet committed are lost: {}", uncommitted_rows_,
                          r.error().message());
        }
        uncommitted_rows_ = 0;
        (void)refresh_stats();
        return r;
    }
    open_ = false;
    uncommitted_rows_ = 0;
    ++counters_.commits;
    return {};
}

result<void> message_store::in_transaction(bool commit, const std::function<result<void>()>& body) {
    bool began = false;
    if (!open_) {
        if (auto r = step_sql("BEGIN IMMEDIATE"); !r) return r;
        open_ = true;
        began = true;
        at_begin_ = counters_;
    }
    if (auto r = step_sql("SAVEPOINT op"); !r) {
        if (began) {
            (void)step_sql("ROLLBACK");
            open_ = false;
        }
        return r;
    }
    auto r = body();
    if (!r) {
        (void)step_sql("ROLLBACK TO op");
        (void)step_sql("RELEASE op");
        if (began) {
            (void)step_sql("ROLLBACK");
            open_ = false;
        } else if (commit) {
            (void)flush();  // what was open before is still good
        }
        return r;
    }
    (void)step_sql("RELEASE op");
    if (!commit) return {};
    return flush();
}

result<void> message_store::refresh_oldest() {
    auto s = prepared("SELECT created_ms FROM messages ORDER BY id LIMIT 1");
    const int rc = s->step();
    if (rc == SQLITE_ROW) {
        stats_.oldest = from_ms(s->integer(0));
    } else if (rc == SQLITE_DONE) {
        stats_.oldest.reset();
    } else {
        return fail(sqlite_error(rc));
    }
    return {};
}

result<void> message_store::refresh_stats() {
    statement s(db_, "SELECT count(*), coalesce(sum(size), 0), (SELECT created_ms FROM messages ORDER BY id LIMIT 1) "
                     "FROM messages");
    if (s.step() != SQLITE_ROW) return fail(store_errc::io_error);
    stats_.rows = static_cast<std::uint64_t>(s.integer(0));
    stats_.bytes = static_cast<std::uint64_t>(s.integer(1));
    if (stats_.rows > 0) {
        stats_.oldest = from_ms(s.integer(2));
    } else {
        stats_.oldest.reset();
    }
    return {};
}

result<bool> message_store::make_room(std::uint64_t rows, std::uint64_t bytes) {
    const auto& l = options_.limits;
    const auto over = [&] { return stats_.rows + rows > l.max_rows || stats_.bytes + bytes > l.max_bytes; };
    if (!over()) return true;
    if (options_.policy == drop_policy::refuse_new) return false;
    // Only messages not yet handed to the broker are evicted: an in-flight
    // one belongs to the session until it is acknowledged.
    statement pick_qos0(db_,
                        "SELECT id, size FROM messages WHERE state = 0 AND qos = 0 AND id > ? ORDER BY id LIMIT 64");
    statement pick_any(db_, "SELECT id, size FROM messages WHERE state = 0 AND id > ? ORDER BY id LIMIT 64");
    statement remove(db_, "DELETE FROM messages WHERE id = ?");
    bool qos0_left = options_.policy == drop_policy::drop_qos0_first;
    std::int64_t after = 0;  // protected messages are stepped over, page by page
    while (over()) {
        auto& pick = qos0_left ? pick_qos0 : pick_any;
        pick.reset();
        pick.bind(1, after);
        bool any = false;
        int rc = SQLITE_OK;
        while (over() && (rc = pick.step()) == SQLITE_ROW) {
            any = true;
            const auto id = pick.integer(0);
            after = id;
            if (protect_ && protect_(id)) continue;
            const auto size = static_cast<std::uint64_t>(pick.integer(1));
            const bool by_rows = stats_.rows + rows > l.max_rows;
            remove.reset();
            remove.bind(1, id);
            if (const int d = remove.step(); d != SQLITE_DONE) return fail(sqlite_error(d));
            --stats_.rows;
            stats_.bytes -= size;
            ++(by_rows ? counters_.dropped_by_rows : counters_.dropped_by_bytes);
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != SQLITE_OK) return fail(sqlite_error(rc));
        if (!any) {
            if (!qos0_left) return false;  // everything left is in flight or protected
            qos0_left = false;
            after = 0;
        }
    }
    return true;
}

std::vector<result<std::int64_t>> message_store::append(std::span<const mqtt::message> batch,
                                                        std::chrono::system_clock::time_point now) {
    return append_impl(batch, now, true);
}

std::vector<result<std::int64_t>> message_store::append_uncommitted(std::span<const mqtt::message> batch,
                                                                    std::chrono::system_clock::time_point now) {
    return append_impl(batch, now, false);
}

std::vector<result<std::int64_t>> message_store::append_impl(std::span<const mqtt::message> batch,
                                                             std::chrono::system_clock::time_point now,
                                                             bool commit) {
    std::vector<result<std::int64_t>> out;
    out.reserve(batch.size());
    const auto refuse_all = [&](std::error_code ec) {
        out.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) out.emplace_back(fail(ec));
        counters_.refused += batch.size();
    };
    if (batch.empty()) return out;

    const auto stats_before = stats_;
    const auto rollbacks_before = rollbacks_;
    const auto counters_before = counters_;
    std::uint64_t appended = 0;
    const auto outcome = in_transaction(commit, [&]() -> result<void> {
        auto insert_stmt =
            prepared("INSERT INTO messages(topic, payload, qos, retain, created_ms, size) VALUES(?, ?, ?, ?, ?, ?)");
        auto& insert = *insert_stmt;
        const auto created = to_ms(now);
        for (const auto& m : batch) {
            const auto size = static_cast<std::uint64_t>(m.topic.size() + m.payload.size());
            if (size > options_.limits.max_bytes) {
                out.emplace_back(fail(store_errc::queue_full));
                ++counters_.refused;
                continue;
            }
            auto room = make_room(1, size);
            if (!room) return fail(room.error());
            if (!*room) {
                out.emplace_back(fail(store_errc::queue_full));
                ++counters_.refused;
                continue;
            }
            insert.reset();
            insert.bind(1, m.topic)
                .bind_blob(2, m.payload)
                .bind(3, static_cast<std::int64_t>(m.qos))
                .bind(4, m.retain ? 1 : 0)
                .bind(5, created)
                .bind(6, static_cast<std::int64_t>(size));
            if (const int rc = insert.step(); rc != SQLITE_DONE) return fail(sqlite_error(rc));
            out.emplace_back(sqlite3_last_insert_rowid(db_));
            ++appended;
            ++stats_.rows;
            stats_.bytes += size;
            if (!stats_.oldest) stats_.oldest = now;
        }
        return {};
    });
    if (!commit && outcome) uncommitted_rows_ += appended;
    if (!outcome) {
        const auto failed = outcome.error();
        // Nothing of the batch is stored: the transaction rolls back.
        stats_ = stats_before;
        const auto after = counters_;
        const auto lost = counters_.lost_uncommitted;
        counters_ = counters_before;
        counters_.commits = after.commits;
        counters_.lost_uncommitted = lost;
        if (rollbacks_ != rollbacks_before) {
            // The whole transaction went: flush() counted from its start.
            counters_.dropped_by_rows = after.dropped_by_rows;
            counters_.dropped_by_bytes = after.dropped_by_bytes;
        }
        if (lost != counters_before.lost_uncommitted) (void)refresh_stats();
        if (failed == make_error_code(store_errc::disk_full)) ++counters_.disk_full;
        refuse_all(failed);
        return out;
    }
    for (const auto& r : out) {
        if (r) ++counters_.appended;
    }
    if (counters_.dropped_by_rows != counters_before.dropped_by_rows ||
        counters_.dropped_by_bytes != counters_before.dropped_by_bytes) {
        (void)refresh_oldest();  // the oldest message may have gone
    }
    return out;
}

result<void> message_store::apply(std::span<const change> changes) {
    if (changes.empty()) return flush();
    std::uint64_t removed_rows = 0;
    std::uint64_t removed_bytes = 0;
    auto outcome = in_transaction(true, [&]() -> result<void> {
        auto sent_stmt = prepared("UPDATE messages SET state = 1, packet_id = ?, dup = ? WHERE id = ?");
        auto pubrec_stmt = prepared("UPDATE messages SET state = 2 WHERE id = ?");
        auto requeue_stmt = prepared("UPDATE messages SET state = 0, packet_id = 0, dup = 0 WHERE id = ?");
        auto done_stmt = prepared("DELETE FROM messages WHERE id = ? RETURNING size");
        auto& sent = *sent_stmt;
        auto& pubrec = *pubrec_stmt;
        auto& requeue = *requeue_stmt;
        auto& done = *done_stmt;
        for (const auto& c : changes) {
            int rc = SQLITE_DONE;
            switch (c.what) {
                case change::kind::sent:
                    sent.reset();
                    sent.bind(1, c.packet_id).bind(2, c.dup ? 1 : 0).bind(3, c.id);
                    rc = sent.step();
                    break;
                case change::kind::pubrec:
                    pubrec.reset();
                    pubrec.bind(1, c.id);
                    rc = pubrec.step();
                    break;
                case change::kind::requeue:
                    requeue.reset();
                    requeue.bind(1, c.id);
                    rc = requeue.step();
                    break;
                case change::kind::done:
                    done.reset();
                    done.bind(1, c.id);
                    rc = done.step();
                    if (rc == SQLITE_ROW) {
                        ++removed_rows;
                        removed_bytes += static_cast<std::uint64_t>(done.integer(0));
                        rc = done.step();
                    }
                    break;
            }
            if (rc != SQLITE_DONE) return fail(sqlite_error(rc));
        }
        return {};
    });
    if (!outcome) return outcome;
    counters_.completed += removed_rows;
    if (removed_rows > 0) {
        stats_.rows -= removed_rows;
        stats_.bytes -= removed_bytes;
        (void)refresh_oldest();
    }
    return {};
}

namespace {

result<std::vector<stored_message>> read_rows(statement& s) {
    std::vector<stored_message> out;
    int rc = SQLITE_OK;
    while ((rc = s.step()) == SQLITE_ROW) {
        stored_message m;
        m.id = s.integer(0);
        m.message.topic = s.text(1);
        m.message.payload = s.text(2);
        m.message.qos = static_cast<mqtt::qos>(std::clamp<std::int64_t>(s.integer(3), 0, 2));
        m.message.retain = s.integer(4) != 0;
        m.created = from_ms(s.integer(5));
        m.state = static_cast<flow_state>(std::clamp<std::int64_t>(s.integer(6), 0, 2));
        m.packet_id = static_cast<std::uint16_t>(s.integer(7));
        m.dup = s.integer(8) != 0;
        out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return fail(sqlite_error(rc));
    return out;
}

}  // namespace

result<std::vector<stored_message>> message_store::load(std::int64_t after, std::size_t limit) {
    auto s = prepared(
        "SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup FROM messages "
        "WHERE id > ? ORDER BY id LIMIT ?");
    s->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    return read_rows(*s);
}

result<std::vector<stored_message>> message_store::load_in_flight() {
    statement s(db_,
                "SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup FROM messages "
                "WHERE state != 0 ORDER BY id");
    return read_rows(s);
}

result<std::int64_t> message_store::last_id() {
    statement s(db_, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)");
    const int rc = s.step();
    if (rc != SQLITE_ROW) return fail(sqlite_error(rc));
    return s.integer(0);
}

result<std::uint64_t> message_store::expire(std::chrono::system_clock::time_point now) {
    if (options_.limits.max_age.count() <= 0) return std::uint64_t{0};
    statement s(db_, "DELETE FROM messages WHERE state = 0 AND created_ms < ?");
    s.bind(1, to_ms(now - options_.limits.max_age));
    if (const int rc = s.step(); rc != SQLITE_DONE) return fail(sqlite_error(rc));
    const auto n = static_cast<std::uint64_t>(sqlite3_changes(db_));
    if (n > 0) {
        counters_.dropped_by_age += n;
        if (auto r = refresh_stats(); !r) return fail(r.error());
    }
    return n;
}

result<std::vector<std::uint16_t>> message_store::incoming_qos2() {
    statement s(db_, "SELECT packet_id FROM incoming_qos2 ORDER BY packet_id");
    std::vector<std::uint16_t> out;
    int rc = SQLITE_OK;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(static_cast<std::uint16_t>(s.integer(0)));
    if (rc != SQLITE_DONE) return fail(sqlite_error(rc));
    return out;
}

result<void> message_store::set_incoming_qos2(std::span<const std::uint16_t> ids) {
    return in_transaction(true, [&]() -> result<void> {
        if (auto r = step_sql("DELETE FROM incoming_qos2"); !r) return r;
        auto insert = prepared("INSERT OR IGNORE INTO incoming_qos2(packet_id) VALUES(?)");
        for (const auto id : ids) {
            insert->reset();
            insert->bind(1, id);
            if (const int rc = insert->step(); rc != SQLITE_DONE) return fail(sqlite_error(rc));
        }
        return {};
    });
}

result<std::vector<refused_read>> message_store::refused_reads() {
    statement s(db_, "SELECT device, function, start, count FROM refused_reads ORDER BY device, function, start, count");
    std::vector<refused_read> out;
    int rc = SQLITE_OK;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back({s.text(0), static_cast<int>(s.integer(1)), static_cast<std::uint16_t>(s.integer(2)),
                       static_cast<std::uint16_t>(s.integer(3))});
    }
    if (rc != SQLITE_DONE) return fail(sqlite_error(rc));
    return out;
}

result<void> message_store::add_refused_read(const refused_read& r) {
    return in_transaction(true, [&]() -> result<void> {
        auto insert =
            prepared("INSERT OR IGNORE INTO refused_reads(device, function, start, count) VALUES(?, ?, ?, ?)");
        insert->bind(1, r.device);
        insert->bind(2, r.function);
        insert->bind(3, r.start);
        insert->bind(4, r.count);
        if (const int rc = insert->step(); rc != SQLITE_DONE) return fail(sqlite_error(rc));
        return {};
    });
}

result<void> message_store::forget_refused_reads(const std::string& device) {
    return in_transaction(true, [&]() -> result<void> {
        auto remove = prepared("DELETE FROM refused_reads WHERE device = ?");
        remove->bind(1, device);
        if (const int rc = remove->step(); rc != SQLITE_DONE) return fail(sqlite_error(rc));
        return {};
    });
}

}  // namespace fieldbridge::store
