// SQLite plumbing for the store's parts: one connection opened with the
// store's pragmas, statements prepared once and kept, the one open
// transaction (savepoints inside it, grouped commits), and SQLite result
// codes mapped to store_errc. Knows nothing of the tables but `counters`
// (named integers, read_counter/write_counter).
//
// Not thread-safe: one owner (the store) uses it. A statement belongs to the
// database that prepared it and must go before it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/options.hpp"
#include "gateway/store/store_error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fieldbridge::store {

// An SQLite result code (extended or primary) as a store error.
std::error_code sqlite_error(int rc);

// A prepared statement, finalized when it goes.
class statement {
public:
    statement(sqlite3* db, const char* sql);
    ~statement();
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int i, std::int64_t v);
    statement& bind(int i, const std::string& v);
    statement& bind_blob(int i, const std::string& v);
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step();
    // Steps once: true with a row to read, false when there are no more.
    result<bool> next();
    // Steps a statement that returns no rows (or whose rows do not matter).
    result<void> run();
    void reset();
    std::int64_t integer(int col) const;
    std::string text(int col) const;

private:
    sqlite3_stmt* stmt_ = nullptr;
    int prepared_rc_ = 0;  // SQLITE_OK, or why it did not prepare
};

// Told when the outer transaction begins, commits or rolls back, so that a
// part can keep figures that follow it (counts undone with a rollback).
class transaction_observer {
public:
    virtual void transaction_began() = 0;
    virtual void transaction_committed() = 0;
    // The whole transaction is gone (a failed COMMIT, or a failure in the
    // operation that began it); the database is as at its BEGIN.
    virtual void transaction_rolled_back(std::error_code why) = 0;

protected:
    ~transaction_observer() = default;
};

class database {
public:
    // Opens (creating if needed) the file. Reads nothing yet: a file that is
    // not a database shows with the first statement.
    // `gather_log_writes`: through wal_batching_vfs (else SQLite's default VFS).
    static result<std::unique_ptr<database>> open(const std::filesystem::path& path, bool gather_log_writes = true);
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

    // PRAGMA user_version (the schema version); corrupt for a file that is
    // not a database.
    result<std::int64_t> user_version();
    // True when the file holds no table, index, view or trigger.
    result<bool> holds_nothing();
    // PRAGMA quick_check; corrupt when it finds a fault.
    result<void> check_integrity();
    // WAL journal and the synchronous level for d; the WAL file is cut back
    // to wal_size_limit bytes when a checkpoint lets it start again.
    result<void> use_wal(durability d);
    static constexpr std::int64_t wal_size_limit = 4 * 1024 * 1024;
    // Bytes of sub-journal (the pages a savepoint's changes touch) SQLite
    // keeps in memory before it writes them to a temporary file; one
    // setting for the process, made on the first open. Not more than
    // 128 KiB: SQLite 3.40 (Debian 12's) fails a statement with "database
    // or disk is full" (SQLITE_FULL, no system call failing) when a
    // sub-journal set to stay in memory past that size moves to its file;
    // a ledger commit deleting a few hundred delivered 3 KB messages got
    // there, and the uplink stopped
    // (message_store_test.a_commit_whose_sub_journal_moves_to_a_file_succeeds).
    // SQLite's own default is 64 KiB; twice that keeps a ledger commit of a
    // few hundred short messages in memory.
    static constexpr int sub_journal_in_memory = 128 * 1024;
    // PRAGMA cache_size, in KiB: set and read back.
    result<void> set_cache_kib(std::uint32_t kib);
    result<std::int64_t> cache_kib();

    // SQL text, one or more statements, not kept prepared.
    result<void> exec(const char* sql);

    class prepared_statement;
    // A statement prepared once and kept; reset and unbound when the
    // returned handle goes.
    prepared_statement prepared(const char* sql);
    // A statement for this call only.
    statement once(const char* sql) { return {db_, sql}; }
    std::int64_t last_insert_rowid() const;
    std::uint64_t changes() const;

    // Runs `body` in the open transaction (BEGIN IMMEDIATE if none is open)
    // as a savepoint: a failing body leaves nothing of its own behind. Then
    // commits everything open, unless commit is false.
    result<void> in_transaction(bool commit, const std::function<result<void>()>& body);
    // Commits the open transaction; nothing to do when none is. A failed
    // COMMIT rolls the whole transaction back.
    result<void> commit();
    bool transaction_open() const noexcept { return open_; }
    // Outer transactions rolled back so far.
    std::uint64_t rollbacks() const noexcept { return rollbacks_; }

    void observe(transaction_observer* o) noexcept { observer_ = o; }
    // Fault injection (options::fail_commit): a COMMIT for which it returns
    // true fails as an I/O error would.
    void fail_commit_when(std::function<bool()> f) { fail_commit_ = std::move(f); }

private:
    database(sqlite3* db, std::filesystem::path path);
    result<void> step_sql(const char* sql);
    void rolled_back(std::error_code why);
    // The open transaction ended without us (SQLite rolled it back after a
    // failed statement): reported as a rollback for `why`; true then.
    bool ended_unseen(std::error_code why = make_error_code(store_errc::io_error));

    sqlite3* db_;
    std::filesystem::path path_;
    std::map<std::string, std::unique_ptr<statement>, std::less<>> statements_;
    bool open_ = false;
    std::uint64_t rollbacks_ = 0;
    transaction_observer* observer_ = nullptr;
    std::function<bool()> fail_commit_;
};

class database::prepared_statement {
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

// Steps `s` to its last row; `row` makes one element of each.
template <typename Row>
auto collect(statement& s, Row&& row) -> result<std::vector<decltype(row(s))>> {
    std::vector<decltype(row(s))> out;
    for (;;) {
        auto next = s.next();
        if (!next) return fail(next.error());
        if (!*next) return out;
        out.push_back(row(s));
    }
}

// The `counters` table: a named integer kept across restarts (nullopt when
// none was kept). write_counter writes in the open transaction: call it
// from a database::in_transaction body.
result<std::optional<std::int64_t>> read_counter(database& db, const std::string& name);
result<void> write_counter(database& db, const std::string& name, std::int64_t value);

// Renames an unreadable store file, with its -wal and -shm, to
// "<path>.corrupt-<unix time>" (".1", ".2", ... added when that name is
// taken: an earlier copy is never overwritten), so that it can be inspected.
// Returns the new name of the main file, or empty when nothing was moved.
std::filesystem::path move_aside(const std::filesystem::path& path);

}  // namespace fieldbridge::store
