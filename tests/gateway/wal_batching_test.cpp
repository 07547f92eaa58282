// The write-ahead log's frames gathered per transaction: the pure batch
// (wal_batch) and the VFS that writes it out (wal_batching_vfs), against a
// real SQLite file read by a second connection on the default VFS and by a
// process that opens it after the writer died.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/store/wal_batch.hpp"
#include "gateway/store/wal_batching_vfs.hpp"
#include "tests/gateway/small_disk.hpp"

using fieldbridge::store::wal_batch;
using fieldbridge::store::wal_batching_vfs;
using fieldbridge::testing::small_disk;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> bytes(std::size_t n, std::uint8_t fill = 0x11) {
    return std::vector<std::byte>(n, std::byte{fill});
}

// A frame header as the log file format lays it out: page number, then the
// database size in pages after a commit (zero for other frames).
std::vector<std::byte> frame_header(std::uint32_t commit_size) {
    auto h = bytes(wal_batch::frame_header_size, 0);
    h[3] = std::byte{1};
    h[4] = std::byte(static_cast<std::uint8_t>(commit_size >> 24));
    h[5] = std::byte(static_cast<std::uint8_t>(commit_size >> 16));
    h[6] = std::byte(static_cast<std::uint8_t>(commit_size >> 8));
    h[7] = std::byte(static_cast<std::uint8_t>(commit_size));
    return h;
}

TEST(wal_batch, gathers_contiguous_writes_and_stops_at_a_gap) {
    wal_batch b(1 << 20);
    EXPECT_TRUE(b.empty());
    EXPECT_TRUE(b.continues(4096));
    b.add(bytes(32), 0);
    EXPECT_TRUE(b.continues(32));
    EXPECT_FALSE(b.continues(0));
    EXPECT_FALSE(b.continues(33));
    b.add(frame_header(0), 32);
    b.add(bytes(4096), 56);
    EXPECT_EQ(b.offset(), 0);
    EXPECT_EQ(b.bytes().size(), 32u + 24u + 4096u);
    EXPECT_FALSE(b.commit_complete());
    b.clear();
    EXPECT_TRUE(b.empty());
    EXPECT_TRUE(b.continues(12345));
}

TEST(wal_batch, is_complete_with_the_page_after_a_commit_frames_header_only) {
    for (const std::uint32_t size : {1u, 255u, 256u, 65536u, 1u << 24, 0xffffffffu}) {
        wal_batch b(1 << 20);
        b.add(frame_header(0), 32);
        b.add(bytes(4096), 56);
        EXPECT_FALSE(b.commit_complete()) << "an ordinary frame";
        b.add(frame_header(size), 4152);
        EXPECT_FALSE(b.commit_complete()) << "the commit frame's page is not there yet (size " << size << ")";
        b.add(bytes(4096), 4176);
        EXPECT_TRUE(b.commit_complete()) << "size " << size;
        b.clear();
        EXPECT_FALSE(b.commit_complete());
    }
    // A page whose first bytes look like a commit header is a page (a
    // header is a write of its own, of 24 bytes).
    wal_batch b(1 << 20);
    b.add(frame_header(0), 32);
    b.add(bytes(4096, 0xff), 56);
    b.add(bytes(4096), 4152);
    EXPECT_FALSE(b.commit_complete());
}

TEST(wal_batch, is_full_at_its_limit_and_knows_what_it_overlaps) {
    wal_batch b(8192);
    b.add(bytes(4096), 1000);
    EXPECT_FALSE(b.full());
    b.add(bytes(4096), 5096);
    EXPECT_TRUE(b.full());
    EXPECT_FALSE(b.overlaps(0, 1000));
    EXPECT_TRUE(b.overlaps(0, 1001));
    EXPECT_TRUE(b.overlaps(9191, 1));
    EXPECT_FALSE(b.overlaps(9192, 100));
    EXPECT_FALSE(b.overlaps(5000, 0));
    b.clear();
    EXPECT_FALSE(b.overlaps(1000, 100));
}

// A write below what the transaction appended rewrites its own frames (its
// owner writes it through); the log's header at offset 0 starts the log
// again, and a transaction's end forgets where the last one stopped.
TEST(wal_batch, tells_a_rewrite_of_the_transactions_frames_from_an_append) {
    wal_batch b(1 << 20);
    EXPECT_FALSE(b.in_place(4152)) << "nothing appended yet";
    b.add(frame_header(0), 4152);
    b.add(bytes(4096), 4176);
    b.add(frame_header(0), 8272);
    b.add(bytes(4096), 8296);
    b.clear();  // written out: where the transaction stands is kept
    EXPECT_TRUE(b.in_place(4152));
    EXPECT_TRUE(b.in_place(8296));
    EXPECT_FALSE(b.in_place(12392)) << "the next append";
    EXPECT_FALSE(b.in_place(0)) << "the log's header: the log starts again";
    b.add(bytes(32), 0);
    EXPECT_FALSE(b.in_place(32));
    EXPECT_TRUE(b.in_place(8));
    b.transaction_ended();
    EXPECT_FALSE(b.in_place(8)) << "a new transaction appends where it is told";
}

// A commit frame's header that fills the batch is written out with it; its
// page, the next write, still completes the commit.
TEST(wal_batch, a_commit_header_that_fills_the_batch_still_waits_for_its_page) {
    wal_batch b(32 + 24);
    b.add(bytes(32), 0);
    b.add(frame_header(7), 32);
    ASSERT_TRUE(b.full());
    b.clear();  // written out by its owner
    b.add(bytes(4096), 56);
    EXPECT_TRUE(b.commit_complete());
    b.clear();
    b.transaction_ended();
    b.add(bytes(4096), 4152);
    EXPECT_FALSE(b.commit_complete());
}

// Gathering allocates nothing: the memory of a full batch (its limit and a
// page of the largest size past it) is taken when the batch is made, so that
// the heap does not grow and shrink with every transaction.
TEST(wal_batch, gathers_a_full_batch_without_allocating) {
    wal_batch b(64 * 1024);
    b.add(bytes(32), 0);
    const auto* first = b.bytes().data();
    std::int64_t at = 32;
    while (b.bytes().size() + 24 + 512 < 64 * 1024) {
        b.add(frame_header(0), at);
        b.add(bytes(512), at + 24);
        at += 24 + 512;
    }
    // Just under the limit (its owner writes a full batch out at once), the
    // largest page's frame takes it past.
    EXPECT_FALSE(b.full());
    b.add(frame_header(0), at);
    b.add(bytes(65536), at + 24);
    EXPECT_TRUE(b.full());
    EXPECT_EQ(b.bytes().data(), first);
    b.clear();
    b.add(bytes(32), 0);
    EXPECT_EQ(b.bytes().data(), first);
}

// Write system calls this process made so far (/proc/self/io `syscw`).
long long write_calls() {
    std::ifstream in("/proc/self/io");
    std::string key;
    long long value = -1;
    while (in >> key >> value) {
        if (key == "syscw:")
            return value;
    }
    return -1;
}

class wal_batching_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fb-wal-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = dir_ / "q.db";
    }
    void TearDown() override {
        close_all();
        fs::remove_all(dir_);
    }

    // A connection; `batching`: through the VFS under test, else SQLite's
    // default one (another program reading the file).
    sqlite3* open(bool batching) {
        sqlite3* db = nullptr;
        const int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                       batching ? wal_batching_vfs() : nullptr);
        EXPECT_EQ(rc, SQLITE_OK);
        open_.push_back(db);
        return db;
    }

    static void exec(sqlite3* db, const std::string& sql) {
        char* error = nullptr;
        ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
        sqlite3_free(error);
    }

    static long long integer(sqlite3* db, const char* sql) {
        sqlite3_stmt* st = nullptr;
        long long n = -1;
        if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        return n;
    }

    static std::string text(sqlite3* db, const char* sql) {
        sqlite3_stmt* st = nullptr;
        std::string s;
        if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            s = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return s;
    }

    // What `db` sees of the table: `rows` rows, and a file that passes the
    // integrity check.
    static void expect_whole(sqlite3* db, long long rows) {
        EXPECT_EQ(integer(db, "SELECT count(*) FROM m"), rows);
        EXPECT_EQ(text(db, "PRAGMA integrity_check"), "ok");
    }

    // Closes every connection the test opened.
    void close_all() {
        for (auto* db : open_)
            sqlite3_close(db);
        open_.clear();
    }

    // The writer: WAL, `synchronous` as given, one table.
    sqlite3* writer(const char* synchronous) {
        auto* db = open(true);
        exec(db, "PRAGMA journal_mode=WAL");
        exec(db, std::string("PRAGMA synchronous=") + synchronous);
        exec(db, "CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, body BLOB)");
        return db;
    }

    // One transaction of `rows` rows of `size` bytes.
    static void insert(sqlite3* db, int rows, int size) {
        exec(db, "BEGIN");
        for (int i = 0; i < rows; ++i)
            exec(db, "INSERT INTO m(body) VALUES(randomblob(" + std::to_string(size) + "))");
        exec(db, "COMMIT");
    }

    // A child writes one transaction that spills and rewrites frames in
    // place, then dies; every row is there after (`first`: pragmas before
    // the log is opened).
    void spilled_transaction_survives(const std::string& first);

    fs::path dir_;
    fs::path path_;
    std::vector<sqlite3*> open_;
};

TEST_F(wal_batching_test, the_vfs_is_available) {
    ASSERT_NE(wal_batching_vfs(), nullptr);
}

// The point of it: a transaction of several pages reaches the log with one
// write, where SQLite writes two per page (header, page).
TEST_F(wal_batching_test, each_commit_of_several_pages_reaches_the_log_with_one_write) {
    auto* db = writer("NORMAL");
    exec(db, "PRAGMA wal_autocheckpoint=0");  // no checkpoint writes in the count
    insert(db, 1, 10);
    const int commits = 200;
    const auto before = write_calls();
    ASSERT_GE(before, 0) << "no /proc/self/io";
    for (int i = 0; i < commits; ++i)
        insert(db, 12, 700);  // about three pages each
    const auto writes = write_calls() - before;
    EXPECT_LE(writes, commits + commits / 10) << writes << " writes for " << commits << " commits";
    EXPECT_EQ(integer(db, "SELECT count(*) FROM m"), 1 + 12 * commits);
}

// A log on a device without powersafe overwrite (`psow=0`) is padded around
// syncs in the middle of a frame: written as SQLite writes it, two writes a
// page, and every commit is whole.
TEST_F(wal_batching_test, a_log_without_powersafe_overwrite_is_written_as_sqlite_writes_it) {
    sqlite3* db = nullptr;
    const auto uri = "file:" + path_.string() + "?psow=0";
    ASSERT_EQ(sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                              wal_batching_vfs()),
              SQLITE_OK);
    open_.push_back(db);
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=FULL");
    exec(db, "PRAGMA wal_autocheckpoint=0");
    exec(db, "CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB)");
    const int commits = 50;
    const auto before = write_calls();
    for (int i = 0; i < commits; ++i)
        insert(db, 12, 700);
    EXPECT_GE(write_calls() - before, 2 * 2 * commits)
        << "two writes for each of at least two pages a commit";
    expect_whole(open(false), 12 * commits);
}

// Another connection (the default VFS, as the `sqlite3` tool) sees every
// commit as soon as it returns, with and without syncs, with transactions
// small and larger than a batch, and across checkpoints that restart the log.
TEST_F(wal_batching_test, another_connection_sees_each_commit_when_it_returns) {
    for (const char* synchronous : {"OFF", "NORMAL", "FULL"}) {
        SCOPED_TRACE(synchronous);
        fs::remove(path_);
        fs::remove(fs::path(path_.string() + "-wal"));
        fs::remove(fs::path(path_.string() + "-shm"));
        auto* w = writer(synchronous);
        exec(w, "PRAGMA wal_autocheckpoint=100");
        exec(w, "PRAGMA journal_size_limit=65536");
        auto* r = open(false);
        long long rows = 0;
        for (int i = 0; i < 120; ++i) {
            const int n = i % 17 == 0 ? 400 : 1 + i % 5;  // a few of 400 rows of 1 KB: past a batch
            insert(w, n, 1000);
            rows += n;
            ASSERT_EQ(integer(r, "SELECT count(*) FROM m"), rows) << "after commit " << i;
            ASSERT_EQ(integer(r, "SELECT sum(length(body)) FROM m"), rows * 1000);
        }
        EXPECT_EQ(text(r, "PRAGMA integrity_check"), "ok");
        close_all();
    }
}

// A writer that runs `sql` after `setup` in a child process and dies
// without closing (a kill, a crash): no checkpoint, nothing flushed at exit.
// Returns the child's exit status (0: every statement succeeded).
int run_and_die(const fs::path& path, const std::string& setup, const std::string& sql, int times) {
    const pid_t child = ::fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            wal_batching_vfs()) != SQLITE_OK) {
            ::_exit(2);
        }
        if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
            ::_exit(3);
        for (int i = 0; i < times; ++i) {
            if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
                ::_exit(4);
        }
        ::_exit(0);
    }
    int status = 0;
    if (::waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

// Every commit of a writer that dies is in the file, even with no sync at
// all: the bytes were written before each commit returned.
TEST_F(wal_batching_test, every_commit_of_a_writer_that_dies_is_in_the_file) {
    for (const char* synchronous : {"OFF", "NORMAL"}) {
        SCOPED_TRACE(synchronous);
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        const auto setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + synchronous +
                           "; CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB);";
        ASSERT_EQ(run_and_die(path_, setup,
                              "BEGIN; INSERT INTO m(body) VALUES(randomblob(3000)); "
                              "INSERT INTO m(body) VALUES(randomblob(3000)); COMMIT;",
                              50),
                  0);
        expect_whole(open(false), 100);
        close_all();
    }
}

// A transaction larger than the page cache spills frames into the log
// before its commit; pages it changes again are then overwritten in place,
// and SQLite rewrites the checksums of those frames after the commit frame,
// the last of them the commit frame's own header. Those writes go through
// at once (an error is the commit's), or recovery after a crash would stop
// at a stale checksum and lose the transaction.
TEST_F(wal_batching_test, a_spilled_transaction_rewritten_in_place_survives_the_writer_dying) {
    // Both with the shared WAL index and without one (exclusive locking:
    // no barrier, no lock calls), where the rewrites written through are
    // all that keeps the transaction.
    for (const char* locking : {"NORMAL", "EXCLUSIVE"}) {
        SCOPED_TRACE(locking);
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        spilled_transaction_survives(std::string("PRAGMA locking_mode=") + locking + "; ");
    }
}

void wal_batching_test::spilled_transaction_survives(const std::string& first) {
    const std::string setup = first +
                              "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=5; "
                              "CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB);";
    ASSERT_EQ(
        run_and_die(path_, setup,
                    "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
                    "INSERT INTO m(body) SELECT randomblob(1000) FROM n; "
                    "UPDATE m SET body = zeroblob(1000) WHERE id <= 60; COMMIT;",
                    1),
        0);
    auto* r = open(false);
    expect_whole(r, 200);
    EXPECT_EQ(integer(r, "SELECT count(*) FROM m WHERE body = zeroblob(1000)"), 60);
    close_all();
}

// A disk that fills up fails the commit whose frames do not fit, with no
// sync asked for too (the frames are written when the commit frame is, and
// the error is the commit's); space back, the next commit is whole.
TEST_F(wal_batching_test, a_full_disk_fails_the_commit_that_does_not_fit) {
    const small_disk disk(dir_ / "small-disk");
    if (!disk.mounted())
        GTEST_SKIP() << disk.why();
    path_ = disk.path() / "q.db";
    auto* w = writer("NORMAL");
    insert(w, 10, 1000);
    auto* r = open(false);
    disk.fill();
    char* error = nullptr;
    // A few pages: less than a batch, so that only the commit writes them.
    int rc = sqlite3_exec(w, "BEGIN; INSERT INTO m(body) VALUES(randomblob(3000)); COMMIT;", nullptr, nullptr,
                          &error);
    sqlite3_free(error);
    EXPECT_EQ(rc & 0xff, SQLITE_FULL) << sqlite3_errstr(rc);
    sqlite3_exec(w, "ROLLBACK", nullptr, nullptr, nullptr);
    EXPECT_EQ(integer(r, "SELECT count(*) FROM m"), 10);
    disk.free_space();
    insert(w, 5, 1000);
    expect_whole(r, 15);
    close_all();
}

// A transaction reads back the pages it spilled into the log (its batch
// written out first), and commits them whole.
TEST_F(wal_batching_test, a_transaction_reads_back_the_pages_it_spilled) {
    auto* w = writer("FULL");
    exec(w, "PRAGMA cache_size=5");
    auto* r = open(false);
    exec(w, "BEGIN");
    for (int i = 1; i <= 40; ++i) {
        exec(w, "INSERT INTO m(body) VALUES(zeroblob(1000))");
        ASSERT_EQ(integer(w, "SELECT sum(length(body)) FROM m WHERE body = zeroblob(1000)"), i * 1000);
    }
    exec(w, "COMMIT");
    EXPECT_EQ(integer(r, "SELECT count(*) FROM m WHERE body = zeroblob(1000)"), 40);
    EXPECT_EQ(text(r, "PRAGMA integrity_check"), "ok");
}

// A transaction rolled back after it spilled frames into the log leaves
// none of them to be written later: another process that commits next (the
// `sqlite3` tool) writes its frames where they were, and the gateway's next
// read (whose WAL index barrier writes out what is pending) must not
// overwrite them.
TEST_F(wal_batching_test, frames_of_a_rolled_back_transaction_never_overwrite_another_writers_commit) {
    auto* w = writer("FULL");
    exec(w, "PRAGMA cache_size=10");  // the rolled back transaction spills frames into the log
    auto* other = open(false);
    insert(w, 3, 500);
    exec(w, "BEGIN");
    for (int i = 0; i < 30; ++i)
        exec(w, "INSERT INTO m(body) VALUES(randomblob(1000))");  // less than a batch
    exec(w, "ROLLBACK");
    insert(other, 40, 1000);  // frames where the rolled back ones were, and past them
    EXPECT_EQ(integer(w, "SELECT count(*) FROM m"), 43);
    insert(w, 2, 500);
    expect_whole(other, 45);
    close_all();
    expect_whole(open(false), 45);  // recovery from the log alone
}

}  // namespace
