// The store's schema steps over the fixture files in fixtures/store (made by
// make_fixtures.sh from the SQL scripts beside them): a queue of every
// schema the store has written migrates with its rows intact; a file from a
// newer build or of another program is refused and left byte for byte; a
// truncated or garbage file is moved aside whole and the store starts empty.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <gtest/gtest.h>

#include "gateway/store/message_store.hpp"
#include "gateway/store/schema.hpp"
#include "tests/support/captured_log.hpp"

namespace fieldbridge::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;

const fs::path fixtures = FIELDBRIDGE_STORE_FIXTURES;

std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

clock::time_point at_ms(std::int64_t ms) { return clock::time_point(std::chrono::milliseconds(ms)); }

// What another connection sees in the file: one integer.
long long read_integer(const fs::path& db, const char* sql) {
    sqlite3* c = nullptr;
    long long n = -1;
    if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(c, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(c);
    return n;
}

long long user_version(const fs::path& db) { return read_integer(db, "PRAGMA user_version"); }

class store_schema_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "fieldbridge-schema-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        opts_.path = dir_ / "queue.db";
        opts_.durability = durability::normal;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The fixture as the queue file; the committed one is never opened.
    std::string use_fixture(const char* name) {
        fs::copy_file(fixtures / name, opts_.path);
        return bytes_of(opts_.path);
    }

    std::unique_ptr<message_store> open() {
        auto s = message_store::open(opts_);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }

    std::vector<fs::path> moved_aside_files() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(dir_)) {
            const auto name = e.path().filename().string();
            if (name.starts_with("queue.db.corrupt-") && !name.ends_with("-wal") && !name.ends_with("-shm")) {
                out.push_back(e.path());
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    static stored_message row(std::int64_t id, std::string topic, std::string payload, mqtt::qos q, bool retain,
                              std::int64_t created_ms, flow_state state, std::uint16_t packet_id, bool dup) {
        return stored_message{id, mqtt::message{std::move(topic), std::move(payload), q, retain},
                              state, packet_id, dup, at_ms(created_ms)};
    }

    fs::path dir_;
    options opts_;
};

TEST_F(store_schema_test, steps_are_numbered_from_zero_without_gaps) {
    const auto steps = schema::steps();
    ASSERT_FALSE(steps.empty());
    for (std::size_t n = 0; n < steps.size(); ++n) EXPECT_EQ(steps[n].from, static_cast<std::int64_t>(n));
    EXPECT_EQ(schema::latest_version(), static_cast<std::int64_t>(steps.size()));
}

TEST_F(store_schema_test, a_new_file_takes_every_step) {
    open().reset();
    EXPECT_EQ(user_version(opts_.path), schema::latest_version());
    for (const char* table : {"messages", "incoming_qos2", "refused_reads"}) {
        const auto sql = std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") + table +
                         "'";
        EXPECT_EQ(read_integer(opts_.path, sql.c_str()), 1) << table;
    }
}

TEST_F(store_schema_test, an_empty_file_becomes_a_new_queue) {
    std::ofstream(opts_.path).close();
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->moved_aside().empty());
    EXPECT_EQ(s->append(std::vector{mqtt::message{"a", "1", mqtt::qos::at_least_once, false}}, at_ms(0)).size(), 1u);
    s.reset();
    EXPECT_EQ(user_version(opts_.path), schema::latest_version());
}

// Another program (the sqlite3 shell, say) holding the write lock of a
// current queue: the store cannot begin, and says so, not that an upgrade of
// a file it never read failed.
TEST_F(store_schema_test, a_current_queue_locked_by_another_program_is_reported_as_locked_not_as_an_upgrade) {
    open().reset();
    const auto before = bytes_of(opts_.path);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(opts_.path.c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    {
        testing::captured_log log;
        auto s = message_store::open(opts_);
        EXPECT_FALSE(s);
        EXPECT_EQ(log.count("upgrading the schema"), 0u);
        EXPECT_EQ(log.count("cannot begin the schema check: the queue database is locked by another program"), 1u);
    }
    ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(other);
    EXPECT_EQ(bytes_of(opts_.path), before);
    EXPECT_TRUE(moved_aside_files().empty());
    EXPECT_TRUE(open());
}

// Schema version 1 as the first store wrote it: queue and session ledger.
TEST_F(store_schema_test, a_version_1_queue_migrates_with_every_row_and_flow_intact) {
    use_fixture("v1-queue-ledger.db");
    ASSERT_EQ(user_version(opts_.path), 1);
    const std::vector<stored_message> expected = {
        row(3, "plant/line1/temp", "21.5", mqtt::qos::at_least_once, false, 1700000000000, flow_state::sent, 11,
            false),
        row(4, "plant/line1/pressure", std::string("\x00\xff\x10", 3), mqtt::qos::exactly_once, true, 1700000001000,
            flow_state::pubrec, 12, true),
        row(5, "plant/line1/state", "running", mqtt::qos::at_most_once, false, 1700000002000, flow_state::queued, 0,
            false),
        row(6, "plant/line2/count", "1234", mqtt::qos::exactly_once, false, 1700000003000, flow_state::sent, 13, true),
        row(7, "plant/line2/alarm", "", mqtt::qos::at_least_once, true, 1700000004000, flow_state::queued, 0, false),
    };
    {
        auto s = open();
        ASSERT_TRUE(s);
        EXPECT_TRUE(s->moved_aside().empty());
        auto all = s->load(0, 100);
        ASSERT_TRUE(all);
        EXPECT_EQ(*all, expected);
        auto in_flight = s->load_in_flight();
        ASSERT_TRUE(in_flight);
        EXPECT_EQ(*in_flight, (std::vector<stored_message>{expected[0], expected[1], expected[3]}));
        auto incoming = s->incoming_qos2();
        ASSERT_TRUE(incoming);
        EXPECT_EQ(*incoming, (std::vector<std::uint16_t>{5, 300, 65535}));
        EXPECT_EQ(s->stats().rows, 5u);
        EXPECT_EQ(s->stats().bytes, 20u + 23 + 24 + 21 + 17);
        EXPECT_EQ(s->oldest(), at_ms(1700000000000));
        auto last = s->last_id();
        ASSERT_TRUE(last);
        EXPECT_EQ(*last, 9);

        // The table the step added works, and ids go on after the old ones.
        auto reads = s->refused_reads();
        ASSERT_TRUE(reads);
        EXPECT_TRUE(reads->empty());
        ASSERT_TRUE(s->add_refused_read({"meter9", 3, 10, 4}));
        const auto next = s->append(std::vector{mqtt::message{"plant/new", "x", mqtt::qos::at_least_once, false}},
                                    at_ms(1700000005000));
        ASSERT_TRUE(next.at(0));
        EXPECT_EQ(*next[0], 10);
        const std::vector<change> acked{{change::kind::done, 3}, {change::kind::pubrec, 6}};
        ASSERT_TRUE(s->apply(acked));
    }
    EXPECT_EQ(user_version(opts_.path), schema::latest_version());

    // Opened again: nothing to migrate, everything as left.
    auto s = open();
    ASSERT_TRUE(s);
    auto all = s->load(0, 100);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 5u);
    EXPECT_EQ(all->front(), expected[1]);
    EXPECT_EQ((*all)[2].state, flow_state::pubrec);
    EXPECT_EQ(all->back().message.topic, "plant/new");
    auto reads = s->refused_reads();
    ASSERT_TRUE(reads);
    EXPECT_EQ(*reads, (std::vector<refused_read>{{"meter9", 3, 10, 4}}));
}

// Still schema version 1, but written by the builds that kept refused reads:
// the step that adds their table keeps the table and its rows.
TEST_F(store_schema_test, a_version_1_queue_with_refused_reads_keeps_them) {
    use_fixture("v1-refused-reads.db");
    ASSERT_EQ(user_version(opts_.path), 1);
    auto s = open();
    ASSERT_TRUE(s);
    auto reads = s->refused_reads();
    ASSERT_TRUE(reads);
    EXPECT_EQ(*reads, (std::vector<refused_read>{{"boiler", 1, 16, 8}, {"meter1", 3, 0, 21}, {"meter1", 4, 100, 10}}));
    auto all = s->load(0, 100);
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, (std::vector<stored_message>{
                        row(1, "site/meter1/energy", "1520.25", mqtt::qos::at_least_once, false, 1700000100000,
                            flow_state::queued, 0, false),
                        row(2, "site/meter1/power", "3.5", mqtt::qos::exactly_once, false, 1700000100500,
                            flow_state::sent, 40, false),
                        row(3, "site/boiler/on", std::string("\x01", 1), mqtt::qos::at_most_once, true, 1700000101000,
                            flow_state::queued, 0, false),
                    }));
    auto incoming = s->incoming_qos2();
    ASSERT_TRUE(incoming);
    EXPECT_EQ(*incoming, (std::vector<std::uint16_t>{17}));
    EXPECT_EQ(s->stats().bytes, 25u + 20 + 15);
    s.reset();
    EXPECT_EQ(user_version(opts_.path), schema::latest_version());
}

// A step that fails (here: the name of the table it adds is taken by an
// index) is rolled back whole: the file keeps its version and its rows, and
// the store does not open.
TEST_F(store_schema_test, a_failing_step_leaves_the_file_at_its_version) {
    use_fixture("v1-queue-ledger.db");
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(opts_.path.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "CREATE INDEX refused_reads ON incoming_qos2(packet_id)", nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    auto s = message_store::open(opts_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(store_errc::io_error));
    EXPECT_EQ(user_version(opts_.path), 1);
    EXPECT_EQ(read_integer(opts_.path, "SELECT count(*) FROM messages"), 5);
    EXPECT_TRUE(moved_aside_files().empty());
}

TEST_F(store_schema_test, a_queue_from_a_newer_build_is_refused_and_left_byte_for_byte) {
    ASSERT_GT(100, schema::latest_version());
    const auto before = use_fixture("future-v100.db");
    auto s = message_store::open(opts_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(store_errc::newer_schema));
    EXPECT_EQ(s.error().message(), "the queue database was written by a newer fieldbridge");
    EXPECT_EQ(bytes_of(opts_.path), before);
    EXPECT_TRUE(moved_aside_files().empty());
}

TEST_F(store_schema_test, a_database_of_another_program_is_refused_and_left_byte_for_byte) {
    const auto before = use_fixture("foreign.db");
    auto s = message_store::open(opts_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(store_errc::not_a_queue));
    EXPECT_EQ(bytes_of(opts_.path), before);
    EXPECT_TRUE(moved_aside_files().empty());
}

// Unreadable files are never deleted: moved aside whole, for inspection.
TEST_F(store_schema_test, a_truncated_file_is_moved_aside_whole_and_the_store_starts_empty) {
    const auto before = use_fixture("truncated.db");
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_FALSE(s->moved_aside().empty());
    EXPECT_EQ(moved_aside_files(), std::vector<fs::path>{s->moved_aside()});
    EXPECT_EQ(bytes_of(s->moved_aside()), before);
    EXPECT_EQ(s->stats().rows, 0u);
    const auto r = s->append(std::vector{mqtt::message{"after", "1", mqtt::qos::at_least_once, false}}, at_ms(0));
    ASSERT_TRUE(r.at(0));
    EXPECT_EQ(*r[0], 1);
    s.reset();
    EXPECT_EQ(user_version(opts_.path), schema::latest_version());
}

TEST_F(store_schema_test, a_garbage_file_is_moved_aside_whole_and_the_store_starts_empty) {
    const auto before = use_fixture("garbage.db");
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_FALSE(s->moved_aside().empty());
    EXPECT_EQ(bytes_of(s->moved_aside()), before);
    EXPECT_EQ(s->stats().rows, 0u);
}

// Two unreadable files in the same second: the second gets a name of its
// own instead of replacing the first.
TEST_F(store_schema_test, a_second_unreadable_file_never_replaces_the_first_moved_aside) {
    const auto garbage = use_fixture("garbage.db");
    ASSERT_TRUE(open());
    fs::remove(opts_.path);
    fs::remove(opts_.path.string() + "-wal");
    fs::remove(opts_.path.string() + "-shm");
    const auto truncated = use_fixture("truncated.db");
    auto s = open();
    ASSERT_TRUE(s);
    const auto aside = moved_aside_files();
    ASSERT_EQ(aside.size(), 2u);
    std::vector<std::string> contents{bytes_of(aside[0]), bytes_of(aside[1])};
    std::sort(contents.begin(), contents.end());
    std::vector<std::string> expected{garbage, truncated};
    std::sort(expected.begin(), expected.end());
    EXPECT_TRUE(contents == expected);
}

}  // namespace
}  // namespace fieldbridge::store
