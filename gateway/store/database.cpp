#include "gateway/store/database.hpp"

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "gateway/store/wal_batching_vfs.hpp"

namespace fieldbridge::store {

std::error_code sqlite_error(int rc) {
    switch (rc & 0xff) {
        case SQLITE_FULL:
            return make_error_code(store_errc::disk_full);
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return make_error_code(store_errc::corrupt);
        case SQLITE_BUSY:  // SQLITE_LOCKED is a conflict within one connection: io_error
            return make_error_code(store_errc::locked);
        default:
            return make_error_code(store_errc::io_error);
    }
}

statement::statement(sqlite3* db, const char* sql) {
    prepared_rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (prepared_rc_ != SQLITE_OK) {
        spdlog::error("queue: cannot prepare '{}': {}", sql, sqlite3_errmsg(db));
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
    }
}

statement::~statement() { sqlite3_finalize(stmt_); }

statement& statement::bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
}

statement& statement::bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

statement& statement::bind_blob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

int statement::step() {
    // A statement that did not prepare says why with each step.
    return stmt_ ? sqlite3_step(stmt_) : prepared_rc_;
}

result<bool> statement::next() {
    const int rc = step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(sqlite_error(rc));
}

result<void> statement::run() {
    const int rc = step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(sqlite_error(rc));
    return {};
}

void statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string statement::text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

namespace {

// Process-wide SQLite settings, made once before SQLite initializes itself
// (the first open or VFS registration). If something else in the process
// started SQLite first, they are refused (logged once) and SQLite keeps its
// defaults, which changes nothing but the time the store takes.
// - No allocation counts: SQLite would count every allocation it makes
//   under one process-wide mutex, and nothing here reads the counts (no
//   sqlite3_memory_used, no heap limits).
// - The sub-journal (a copy of each page a savepoint's changes touch, so
//   that in_transaction() can undo its body alone) kept in memory up to
//   database::sub_journal_in_memory (128 KiB, the most SQLite 3.40 takes:
//   see there), not the default 64 KiB: past it SQLite writes it to a
//   temporary file, a write per page. A ledger commit of a few hundred
//   short messages over uncommitted ones fits (message_store_test's
//   temporary-file test); larger ones go to the file.
void configure_sqlite() {
    static std::once_flag once;
    std::call_once(once, [] {
        const bool counts = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
        const bool spill = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, database::sub_journal_in_memory) == SQLITE_OK;
        if (!counts || !spill) {
            spdlog::warn("queue: SQLite was started before the store: it keeps the settings it was started with "
                         "(by default allocation counts on, sub-journal to a file past 64 KiB), which costs time, "
                         "not correctness");
        }
    });
}

}  // namespace

result<std::unique_ptr<database>> database::open(const std::filesystem::path& path, bool gather_log_writes) {
    configure_sqlite();
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   gather_log_writes ? wal_batching_vfs() : nullptr);
    if (rc != SQLITE_OK) {
        spdlog::error("queue: cannot open {}: {}", path.string(), db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return fail(store_errc::open_failed);
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    return std::unique_ptr<database>(new database(db, path));
}

database::database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

database::~database() {
    statements_.clear();  // finalized before the connection closes
    sqlite3_close(db_);
}

result<std::int64_t> database::user_version() {
    statement s(db_, "PRAGMA user_version");
    const int rc = s.step();
    if (rc != SQLITE_ROW) return fail(sqlite_error(rc));
    return s.integer(0);
}

result<bool> database::holds_nothing() {
    statement s(db_, "SELECT count(*) FROM sqlite_master");
    const int rc = s.step();
    if (rc != SQLITE_ROW) return fail(sqlite_error(rc));
    return s.integer(0) == 0;
}

result<void> database::check_integrity() {
    statement s(db_, "PRAGMA quick_check");
    const int rc = s.step();
    if (rc == SQLITE_ROW && s.text(0) == "ok") return {};
    // Only a damaged or unreadable file (a bad block) is corrupt, and moved
    // aside by the caller so that the gateway runs on with an empty queue: a
    // check that could not run (busy, no memory) says nothing about the
    // queue the file holds.
    const bool unreadable = rc != SQLITE_ROW && (rc & 0xff) == SQLITE_IOERR;
    const auto why = rc == SQLITE_ROW || unreadable ? make_error_code(store_errc::corrupt) : sqlite_error(rc);
    if (why == make_error_code(store_errc::corrupt)) {
        spdlog::error("queue: {} fails the integrity check: {}", path_.string(),
                      rc == SQLITE_ROW ? s.text(0) : std::string(sqlite3_errstr(rc)));
    } else {
        spdlog::error("queue: cannot check the integrity of {}: {}", path_.string(), sqlite3_errstr(rc));
    }
    return fail(why);
}

result<void> database::use_wal(durability d) {
    if (auto r = exec("PRAGMA journal_mode=WAL"); !r) return r;
    // A transaction larger than a checkpoint's worth (an expiry of a large
    // backlog) grows the WAL; without a limit the file keeps that size.
    if (auto r = exec(("PRAGMA journal_size_limit=" + std::to_string(wal_size_limit)).c_str()); !r) return r;
    return exec(d == durability::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

result<void> database::set_cache_kib(std::uint32_t kib) {
    // PRAGMA takes no bound parameters; the number is ours. Negative: KiB.
    const auto sql = "PRAGMA cache_size = -" + std::to_string(kib);
    return exec(sql.c_str());
}

result<std::int64_t> database::cache_kib() {
    statement s(db_, "PRAGMA cache_size");
    const int rc = s.step();
    if (rc != SQLITE_ROW) return fail(sqlite_error(rc));
    const auto v = s.integer(0);
    // Positive: pages (of the database's page size).
    if (v >= 0) {
        statement p(db_, "PRAGMA page_size");
        if (p.step() != SQLITE_ROW) return fail(store_errc::corrupt);
        return v * p.integer(0) / 1024;
    }
    return -v;
}

result<void> database::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        spdlog::error("queue: '{}' failed: {}", sql, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return fail(sqlite_error(rc));
    }
    return {};
}

database::prepared_statement database::prepared(const char* sql) {
    auto it = statements_.find(std::string_view(sql));
    if (it == statements_.end()) it = statements_.emplace(sql, std::make_unique<statement>(db_, sql)).first;
    it->second->reset();
    return prepared_statement(*it->second);
}

std::int64_t database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

std::uint64_t database::changes() const { return static_cast<std::uint64_t>(sqlite3_changes(db_)); }

result<void> database::step_sql(const char* sql) {
    auto s = prepared(sql);
    const int rc = s->step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        spdlog::error("queue: '{}' failed: {}", sql, sqlite3_errmsg(db_));
        return fail(sqlite_error(rc));
    }
    return {};
}

void database::rolled_back(std::error_code why) {
    open_ = false;
    ++rollbacks_;
    if (observer_) observer_->transaction_rolled_back(why);
}

bool database::ended_unseen(std::error_code why) {
    if (!open_ || sqlite3_get_autocommit(db_) == 0) return false;
    // SQLite rolled the open transaction back when a statement failed (a
    // full disk, an I/O error, no memory; also one run outside
    // in_transaction()): what was appended in it is gone.
    rolled_back(why);
    return true;
}

result<void> database::commit() {
    if (ended_unseen()) return fail(store_errc::io_error);
    if (!open_) return {};
    auto committed = fail_commit_ && fail_commit_() ? fail(store_errc::io_error) : step_sql("COMMIT");
    if (!committed) {
        // SQLite may have rolled back already (a full disk, an I/O error).
        if (sqlite3_get_autocommit(db_) == 0) (void)step_sql("ROLLBACK");
        rolled_back(committed.error());
        return committed;
    }
    open_ = false;
    if (observer_) observer_->transaction_committed();
    return {};
}

result<void> database::in_transaction(bool commit, const std::function<result<void>()>& body) {
    (void)ended_unseen();  // then a transaction of its own is begun below
    bool began = false;
    if (!open_) {
        if (auto r = step_sql("BEGIN IMMEDIATE"); !r) return r;
        open_ = true;
        began = true;
        if (observer_) observer_->transaction_began();
    }
    if (auto r = step_sql("SAVEPOINT op"); !r) {
        if (!ended_unseen(r.error()) && began) {
            (void)step_sql("ROLLBACK");
            rolled_back(r.error());
        }
        return r;
    }
    auto r = body();
    // SQLite may have rolled the whole transaction back, what was open
    // before the body as well.
    if (!r && ended_unseen(r.error())) return r;
    if (!r) {
        (void)step_sql("ROLLBACK TO op");
        (void)step_sql("RELEASE op");
        if (began) {
            (void)step_sql("ROLLBACK");
            rolled_back(r.error());
        } else if (commit) {
            (void)this->commit();  // what was open before is still good
        }
        return r;
    }
    (void)step_sql("RELEASE op");
    if (!commit) return {};
    return this->commit();
}

std::filesystem::path move_aside(const std::filesystem::path& path) {
    const auto stamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    std::string base = path.string() + ".corrupt-" + stamp;
    std::error_code ec;
    for (int n = 1; std::filesystem::exists(base, ec) || std::filesystem::exists(base + "-wal", ec); ++n) {
        base = path.string() + ".corrupt-" + stamp + "." + std::to_string(n);
    }
    std::filesystem::path moved;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::filesystem::path from = path.string() + suffix;
        if (!std::filesystem::exists(from, ec)) continue;
        const std::filesystem::path to = base + suffix;
        std::filesystem::rename(from, to, ec);
        if (ec) {
            spdlog::error("queue: cannot move {} aside: {}", from.string(), ec.message());
        } else {
            spdlog::error("queue: moved the unreadable queue {} to {}; starting with an empty queue", from.string(),
                          to.string());
            if (*suffix == '\0') moved = to;
        }
    }
    return moved;
}

result<std::optional<std::int64_t>> read_counter(database& db, const std::string& name) {
    auto s = db.prepared("SELECT value FROM counters WHERE name = ?");
    s->bind(1, name);
    auto row = s->next();
    if (!row) return fail(row.error());
    if (!*row) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{s->integer(0)};
}

result<void> write_counter(database& db, const std::string& name, std::int64_t value) {
    auto upsert = db.prepared("INSERT INTO counters(name, value) VALUES(?, ?) "
                              "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    upsert->bind(1, name).bind(2, value);
    return upsert->run();
}

}  // namespace fieldbridge::store
