// The durable queue on a real SQLite file in a temporary directory: order,
// flow state across a reopen, limits and drop policies, expiry, corrupt and
// newer files.
#include "gateway/store/message_store.hpp"
#include "gateway/store/database.hpp"
#include "tests/gateway/small_disk.hpp"
#include "tests/support/captured_log.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace fieldbridge::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock = std::chrono::system_clock;
using fieldbridge::testing::small_disk;

class message_store_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "fieldbridge-store-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        opts_.path = dir_ / "queue.db";
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A store at `path` holding one committed message, "before".
    std::unique_ptr<message_store> open_holding_before(const fs::path& path) {
        opts_.path = path;
        auto s = open();
        if (s) ids(s->append(std::vector{msg("before", "1")}, t0_));
        return s;
    }
    std::unique_ptr<message_store> open() {
        auto s = message_store::open(opts_);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }

    static mqtt::message msg(std::string topic, std::string payload, mqtt::qos q = mqtt::qos::at_least_once) {
        return mqtt::message{std::move(topic), std::move(payload), q, false};
    }

    static std::vector<std::int64_t> ids(const std::vector<result<std::int64_t>>& r) {
        std::vector<std::int64_t> out;
        for (const auto& x : r) {
            EXPECT_TRUE(x) << x.error().message();
            if (x) out.push_back(*x);
        }
        return out;
    }

    static std::vector<std::string> topics(message_store& s) {
        auto all = s.load(0, 1000);
        EXPECT_TRUE(all);
        std::vector<std::string> out;
        for (const auto& m : *all) out.push_back(m.message.topic);
        return out;
    }

    fs::path dir_;
    options opts_;
    clock::time_point t0_ = clock::time_point(1'700'000'000'000ms);
};

// Rows committed, as another connection (a reader after a crash) sees them.
long long committed_rows(const fs::path& db) {
    sqlite3* c = nullptr;
    if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return -1;
    sqlite3_stmt* st = nullptr;
    long long n = -1;
    if (sqlite3_prepare_v2(c, "SELECT count(*) FROM messages", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

TEST_F(message_store_test, the_page_cache_is_the_configured_size_not_the_library_default) {
    for (const std::uint32_t kib : {64u, 2048u, 65536u}) {
        opts_.cache_kib = kib;
        auto s = open();
        ASSERT_TRUE(s);
        const auto held = s->cache_kib();
        ASSERT_TRUE(held) << held.error().message();
        EXPECT_EQ(*held, kib);
    }
}

// Counting each allocation takes a process-wide mutex on every SQLite
// malloc and free; the store opens SQLite with the counts off (ctest runs
// each test in a process of its own, so this open is the process's first).
TEST_F(message_store_test, sqlite_counts_no_allocations_in_a_process_that_opened_a_store) {
    auto s = open();
    ASSERT_TRUE(s);
    ids(s->append(std::vector{msg("t", std::string(4096, 'x'))}, t0_));
    EXPECT_EQ(sqlite3_memory_used(), 0);
    EXPECT_EQ(sqlite3_memory_highwater(0), 0);
}

// Something else in the process started SQLite before the first store:
// the settings are refused, SQLite keeps its defaults (here: it counts
// allocations), the store works as before and says so once, however many
// stores open. Like the test above, it needs a process of its own (ctest
// runs each test so): in one process with other tests, whichever opens a
// store first decides.
TEST_F(message_store_test, a_store_opened_after_sqlite_started_works_and_says_once_that_its_settings_were_refused) {
    ASSERT_EQ(sqlite3_initialize(), SQLITE_OK);
    const testing::captured_log log;
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(ids(s->append(std::vector{msg("t", "1")}, t0_)), std::vector<std::int64_t>{1});
    opts_.path = dir_ / "other.db";
    auto other = open();
    ASSERT_TRUE(other);
    EXPECT_GT(sqlite3_memory_used(), 0) << "SQLite's defaults: it counts its allocations";
    EXPECT_EQ(log.count("SQLite was started before the store"), 1U);
}

// The names of the files this process holds open, from /proc/self/fd (a
// file unlinked while open, as SQLite's temporary files are at once, keeps
// its name with " (deleted)" after it).
std::vector<std::string> open_file_names() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator("/proc/self/fd", ec)) {
        const auto target = fs::read_symlink(fd.path(), ec);
        if (!ec) names.push_back(target.filename().string());
    }
    return names;
}

// A ledger commit of several hundred messages inside the transaction of
// uncommitted appends (the every-value path; in_transaction() undoes its
// body alone through a savepoint, whose copy of each page it touches is the
// sub-journal) keeps that copy in memory: no temporary file, no write per
// page. The check runs just before COMMIT, while SQLite would still hold
// the file.
TEST_F(message_store_test, a_ledger_commit_of_hundreds_of_messages_over_uncommitted_ones_writes_no_temporary_file) {
    constexpr int messages = 400;
    bool temporary_file = false;
    bool database_seen = true;  // the scan sees the store's own file each time: it could see a temporary one
    opts_.fail_commit = [&] {
        const auto names = open_file_names();
        const auto has = [&](auto&& match) { return std::any_of(names.begin(), names.end(), match); };
        temporary_file = temporary_file || has([](const std::string& n) { return n.starts_with("etilqs_"); });
        database_seen = database_seen && has([](const std::string& n) { return n == "queue.db"; });
        return false;
    };
    auto s = open();
    ASSERT_TRUE(s);
    std::vector<mqtt::message> batch;
    batch.reserve(messages);
    for (int i = 0; i < messages; ++i) batch.push_back(msg("plant/hall/device" + std::to_string(i) + "/power", std::string(120, 'v')));
    const auto sent_ids = ids(s->append(batch, t0_));
    ASSERT_EQ(sent_ids.size(), static_cast<std::size_t>(messages));
    ids(s->append_uncommitted(batch, t0_));
    std::vector<change> sent, done;
    sent.reserve(sent_ids.size());
    done.reserve(sent_ids.size());
    for (std::size_t i = 0; i < sent_ids.size(); ++i) {
        sent.push_back(change{change::kind::sent, sent_ids[i], static_cast<std::uint16_t>(i + 1), false});
        done.push_back(change{change::kind::done, sent_ids[i]});
    }
    ASSERT_TRUE(s->apply(sent));
    ids(s->append_uncommitted(batch, t0_));
    ASSERT_TRUE(s->apply(done));
    EXPECT_TRUE(database_seen);
    EXPECT_FALSE(temporary_file);
    EXPECT_EQ(committed_rows(opts_.path), 2 * messages);
}

// A commit whose sub-journal passes what SQLite keeps in memory moves it
// to a temporary file and succeeds: the delivered messages of a drained
// backlog of 3 KB messages deleted in one ledger commit, over uncommitted
// appends. With the sub-journal set to stay in memory up to 1 MiB (as it
// was), SQLite 3.40 failed the DELETE with "database or disk is full" on a
// disk with room, the forwarder dropped the link, and the next commit failed
// the same way: nothing more was sent.
TEST_F(message_store_test, a_commit_whose_sub_journal_moves_to_a_file_succeeds) {
    auto s = open();
    ASSERT_TRUE(s);
    long long live = 0;  // one uncommitted message a round, committed with it and kept
    for (const int n : {100, 400, 1000, 3000}) {
        std::vector<mqtt::message> batch;
        for (int i = 0; i < n; ++i) batch.push_back(msg("spBv1.0/plant1/DDATA/gw1/m1", std::string(3000, 'v')));
        const auto all = ids(s->append(batch, t0_));
        ASSERT_EQ(all.size(), static_cast<std::size_t>(n));
        ids(s->append_uncommitted(std::vector{msg("live", "1")}, t0_));
        std::vector<change> sent, done;
        for (std::size_t i = 0; i < all.size(); ++i) {
            sent.push_back(change{change::kind::sent, all[i], static_cast<std::uint16_t>(i % 65000 + 1), false});
            done.push_back(change{change::kind::done, all[i]});
        }
        const auto recorded = s->apply(sent);
        ASSERT_TRUE(recorded) << n << ": " << recorded.error().message();
        const auto deleted = s->apply(done);
        ASSERT_TRUE(deleted) << n << ": " << deleted.error().message();
        EXPECT_EQ(committed_rows(opts_.path), ++live) << n;
    }
}

TEST_F(message_store_test, uncommitted_appends_become_durable_with_the_next_commit) {
    auto s = open();
    ids(s->append_uncommitted(std::vector{msg("a", "1"), msg("b", "2")}, t0_));
    EXPECT_TRUE(s->uncommitted());
    EXPECT_EQ(committed_rows(opts_.path), 0) << "not durable before a commit";
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"a", "b"}));  // but readable and handed on

    // A ledger commit carries them.
    const auto c = ids(s->append_uncommitted(std::vector{msg("c", "3")}, t0_));
    const std::vector<change> sent{change{change::kind::sent, c.at(0), 7, false}};
    ASSERT_TRUE(s->apply(sent));
    EXPECT_FALSE(s->uncommitted());
    EXPECT_EQ(committed_rows(opts_.path), 3);

    // flush() commits what is open.
    ids(s->append_uncommitted(std::vector{msg("d", "4")}, t0_));
    ASSERT_TRUE(s->flush());
    EXPECT_EQ(committed_rows(opts_.path), 4);
    EXPECT_EQ(s->stats().rows, 4u);
    EXPECT_TRUE(s->flush());  // nothing open: nothing to do
}

TEST_F(message_store_test, keeps_messages_in_order_with_every_field) {
    auto s = open();
    const std::string binary("a\0b\xff", 4);
    std::vector<mqtt::message> batch = {msg("p/a", "1"), mqtt::message{"p/b", binary, mqtt::qos::exactly_once, true},
                                        msg("p/c", "", mqtt::qos::at_most_once)};
    const auto id = ids(s->append(batch, t0_));
    ASSERT_EQ(id.size(), 3u);
    EXPECT_LT(id[0], id[1]);
    EXPECT_LT(id[1], id[2]);

    auto loaded = s->load(0, 10);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 3u);
    EXPECT_EQ((*loaded)[1].message, batch[1]);
    EXPECT_EQ((*loaded)[1].created, t0_);
    EXPECT_EQ((*loaded)[1].state, flow_state::queued);
    EXPECT_EQ((*loaded)[2].message.qos, mqtt::qos::at_most_once);

    auto after_first = s->load(id[0], 1);
    ASSERT_TRUE(after_first);
    ASSERT_EQ(after_first->size(), 1u);
    EXPECT_EQ(after_first->front().id, id[1]);

    EXPECT_EQ(s->stats().rows, 3u);
    EXPECT_EQ(s->stats().bytes, 3u + 1 + 3 + 4 + 3);
    EXPECT_EQ(s->oldest(), t0_);
}

TEST_F(message_store_test, flow_state_survives_a_reopen) {
    std::vector<std::int64_t> id;
    {
        auto s = open();
        id = ids(s->append(std::vector{msg("a", "1"), msg("b", "2"), msg("c", "3")}, t0_));
        const std::vector<change> changes = {{change::kind::sent, id[0], 7, false},
                                             {change::kind::sent, id[1], 8, true},
                                             {change::kind::pubrec, id[1]},
                                             {change::kind::done, id[2]}};
        ASSERT_TRUE(s->apply(changes));
        const std::vector<std::uint16_t> incoming = {3, 9};
        ASSERT_TRUE(s->set_incoming_qos2(incoming));
    }
    auto s = open();
    auto loaded = s->load(0, 10);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 2u);
    EXPECT_EQ((*loaded)[0].state, flow_state::sent);
    EXPECT_EQ((*loaded)[0].packet_id, 7);
    EXPECT_FALSE((*loaded)[0].dup);
    EXPECT_EQ((*loaded)[1].state, flow_state::pubrec);
    EXPECT_EQ((*loaded)[1].packet_id, 8);
    EXPECT_TRUE((*loaded)[1].dup);
    EXPECT_EQ(s->stats().rows, 2u);
    auto incoming = s->incoming_qos2();
    ASSERT_TRUE(incoming);
    EXPECT_EQ(*incoming, (std::vector<std::uint16_t>{3, 9}));

    // New ids keep increasing after a restart, even past deleted rows.
    const auto next = ids(s->append(std::vector{msg("d", "4")}, t0_));
    EXPECT_GT(next.front(), id[2]);
}

// Acknowledged messages are deleted a run of consecutive ids at a time: a
// run over ids already gone, or with others still waiting between runs,
// deletes exactly the acknowledged ones and counts their bytes.
TEST_F(message_store_test, acknowledged_runs_delete_exactly_the_acknowledged_messages) {
    auto s = open();
    std::vector<mqtt::message> batch;
    for (int i = 0; i < 8; ++i) batch.push_back(msg("t" + std::to_string(i), std::string(static_cast<std::size_t>(i + 1), 'x')));
    const auto id = ids(s->append(batch, t0_));
    ASSERT_EQ(id.size(), 8u);
    const auto bytes_of = [&](std::initializer_list<int> which) {
        std::uint64_t b = 0;
        for (const int i : which) b += batch[static_cast<std::size_t>(i)].topic.size() + batch[static_cast<std::size_t>(i)].payload.size();
        return b;
    };
    const auto before = s->stats().bytes;
    // 0..2 in a run, then 5 alone, then 6 and 7 preceded by a change of 4.
    const std::vector<change> changes = {{change::kind::done, id[0]}, {change::kind::done, id[1]},
                                         {change::kind::done, id[2]}, {change::kind::done, id[5]},
                                         {change::kind::sent, id[4], 1, false}, {change::kind::done, id[6]},
                                         {change::kind::done, id[7]}};
    ASSERT_TRUE(s->apply(changes));
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"t3", "t4"}));
    EXPECT_EQ(s->stats().rows, 2u);
    EXPECT_EQ(s->stats().bytes, before - bytes_of({0, 1, 2, 5, 6, 7}));
    // Acknowledging again what is gone, next to what is not: only that one goes.
    const std::vector<change> again = {{change::kind::done, id[2]}, {change::kind::done, id[3]},
                                       {change::kind::done, id[5]}};
    ASSERT_TRUE(s->apply(again));
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"t4"}));
    EXPECT_EQ(s->stats().rows, 1u);
    EXPECT_EQ(s->stats().bytes, bytes_of({4}));
}

// Flow changes are applied a run at a time too: every message keeps its own
// packet id, DUP and state across a packet id wrap, a DUP change, runs of
// PUBREC and requeue, and a reopen.
TEST_F(message_store_test, flow_changes_in_runs_keep_every_message_its_own_state) {
    std::vector<std::int64_t> id;
    {
        auto s = open();
        std::vector<mqtt::message> batch;
        for (int i = 0; i < 7; ++i) batch.push_back(msg("t" + std::to_string(i), "p"));
        id = ids(s->append(batch, t0_));
        ASSERT_EQ(id.size(), 7u);
        const std::vector<change> sent = {{change::kind::sent, id[0], 65534, false}, {change::kind::sent, id[1], 65535, false},
                                          {change::kind::sent, id[2], 1, false},     {change::kind::sent, id[3], 2, true},
                                          {change::kind::sent, id[4], 3, true},      {change::kind::sent, id[5], 4, false},
                                          {change::kind::sent, id[6], 5, false}};
        ASSERT_TRUE(s->apply(sent));
        const std::vector<change> later = {{change::kind::pubrec, id[1]}, {change::kind::pubrec, id[2]},
                                           {change::kind::pubrec, id[3]}, {change::kind::requeue, id[5]},
                                           {change::kind::requeue, id[6]}};
        ASSERT_TRUE(s->apply(later));
    }
    auto s = open();
    auto loaded = s->load(0, 10);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 7u);
    const std::vector<flow_state> states = {flow_state::sent,   flow_state::pubrec, flow_state::pubrec, flow_state::pubrec,
                                            flow_state::sent,   flow_state::queued, flow_state::queued};
    const std::vector<std::uint16_t> packet_ids = {65534, 65535, 1, 2, 3, 0, 0};
    const std::vector<bool> dups = {false, false, false, true, true, false, false};
    for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_EQ((*loaded)[i].id, id[i]);
        EXPECT_EQ((*loaded)[i].state, states[i]) << i;
        EXPECT_EQ((*loaded)[i].packet_id, packet_ids[i]) << i;
        EXPECT_EQ((*loaded)[i].dup, dups[i]) << i;
    }
}

TEST_F(message_store_test, refused_reads_survive_a_reopen_once_each_and_with_uncommitted_messages) {
    {
        auto s = open();
        auto none = s->refused_reads();
        ASSERT_TRUE(none);
        EXPECT_TRUE(none->empty());
        // Kept while a poll's messages wait for their commit: both become durable.
        ids(s->append_uncommitted(std::vector{msg("a", "1")}, t0_));
        ASSERT_TRUE(s->add_refused_read({"meter2", 3, 0, 21}));
        EXPECT_FALSE(s->uncommitted());
        ASSERT_TRUE(s->add_refused_read({"meter1", 4, 100, 10}));
        ASSERT_TRUE(s->add_refused_read({"meter2", 3, 0, 21}));  // learned again: kept once
    }
    auto s = open();
    auto reads = s->refused_reads();
    ASSERT_TRUE(reads);
    EXPECT_EQ(*reads, (std::vector<refused_read>{{"meter1", 4, 100, 10}, {"meter2", 3, 0, 21}}));
    EXPECT_EQ(s->stats().rows, 1u);

    // A device taken out of the configuration: what was kept for it goes, alone.
    ASSERT_TRUE(s->forget_refused_reads("meter2"));
    reads = s->refused_reads();
    ASSERT_TRUE(reads);
    EXPECT_EQ(*reads, (std::vector<refused_read>{{"meter1", 4, 100, 10}}));
}

TEST_F(message_store_test, counters_survive_a_reopen_and_commit_pending_messages_with_them) {
    {
        auto s = open();
        auto none = s->counter("sparkplug_bd_seq");
        ASSERT_TRUE(none);
        EXPECT_FALSE(*none);
        ids(s->append_uncommitted(std::vector{msg("a", "1")}, t0_));
        ASSERT_TRUE(s->set_counter("sparkplug_bd_seq", 7));
        EXPECT_FALSE(s->uncommitted());
        ASSERT_TRUE(s->set_counter("sparkplug_bd_seq", 8));  // replaced, not added
        ASSERT_TRUE(s->set_counter("other", -1));
    }
    auto s = open();
    EXPECT_EQ(s->counter("sparkplug_bd_seq").value(), std::optional<std::int64_t>{8});
    EXPECT_EQ(s->counter("other").value(), std::optional<std::int64_t>{-1});
    EXPECT_EQ(s->stats().rows, 1u);
}

TEST_F(message_store_test, a_split_backlog_survives_a_reopen_and_each_lane_reads_in_id_order) {
    std::vector<std::int64_t> id;
    {
        auto s = open();
        // a1 a2 b3 a4 b5 c6, then the split: 4 5 6 live, 1 2 3 historical.
        id = ids(s->append(std::vector{msg("a", "1"), msg("a", "2"), msg("b", "3"), msg("a", "4"), msg("b", "5"),
                                       msg("c", "6")},
                           t0_));
        auto latest = s->latest_by_topic(0);
        ASSERT_TRUE(latest);
        std::sort(latest->begin(), latest->end());
        EXPECT_EQ(*latest, (std::vector<std::pair<std::string, std::int64_t>>{{"a", id[3]}, {"b", id[4]}, {"c", id[5]}}));
        ASSERT_TRUE(s->set_lanes(lane_state{id[5], {id[3], id[4], id[5]}}));
        ids(s->append_uncommitted(std::vector{msg("b", "7")}, t0_));  // live: above the boundary
        ASSERT_TRUE(s->flush());
    }
    auto s = open();
    const auto lanes = s->lanes();
    ASSERT_TRUE(lanes);
    EXPECT_EQ(*lanes, (lane_state{id[5], {id[3], id[4], id[5]}}));
    auto payloads = [](const result<std::vector<stored_message>>& rows) {
        std::vector<std::string> out;
        for (const auto& m : rows.value()) out.push_back(m.message.payload);
        return out;
    };
    EXPECT_EQ(payloads(s->load_live(*lanes, 0, 100)), (std::vector<std::string>{"4", "5", "6", "7"}));
    EXPECT_EQ(payloads(s->load_live(*lanes, 0, 2)), (std::vector<std::string>{"4", "5"}));
    EXPECT_EQ(payloads(s->load_live(*lanes, id[4], 2)), (std::vector<std::string>{"6", "7"}));
    EXPECT_EQ(payloads(s->load_live(*lanes, id[5], 100)), (std::vector<std::string>{"7"}));
    EXPECT_EQ(payloads(s->load_historical(*lanes, 0, 100)), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(payloads(s->load_historical(*lanes, id[0], 1)), (std::vector<std::string>{"2"}));
    EXPECT_TRUE(s->load_historical(*lanes, id[2], 100).value().empty());
    // The fresh rows still stored, with their topics, for the next split.
    const std::vector<change> sent = {{change::kind::sent, id[4], 3, false}, {change::kind::done, id[5]}};
    ASSERT_TRUE(s->apply(sent));
    const auto rows = s->fresh_rows();
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2U);
    EXPECT_EQ((*rows)[0].id, id[3]);
    EXPECT_EQ((*rows)[0].topic, "a");
    EXPECT_FALSE((*rows)[0].in_flight);
    EXPECT_EQ((*rows)[1].id, id[4]);
    EXPECT_TRUE((*rows)[1].in_flight);
}

TEST_F(message_store_test, requeue_forgets_the_packet_id) {
    auto s = open();
    const auto id = ids(s->append(std::vector{msg("a", "1")}, t0_));
    const std::vector<change> sent = {{change::kind::sent, id[0], 5, false}};
    ASSERT_TRUE(s->apply(sent));
    const std::vector<change> requeue = {{change::kind::requeue, id[0]}};
    ASSERT_TRUE(s->apply(requeue));
    auto loaded = s->load(0, 1);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->front().state, flow_state::queued);
    EXPECT_EQ(loaded->front().packet_id, 0);
}

TEST_F(message_store_test, row_limit_drops_the_oldest_and_counts_it) {
    opts_.limits.max_rows = 3;
    opts_.policy = drop_policy::drop_oldest;
    auto s = open();
    for (const char* t : {"1", "2", "3", "4", "5"}) ids(s->append(std::vector{msg(t, "x")}, t0_));
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"3", "4", "5"}));
    EXPECT_EQ(s->counters().dropped_by_rows, 2u);
    EXPECT_EQ(s->stats().rows, 3u);
}

TEST_F(message_store_test, byte_limit_drops_qos0_first) {
    opts_.limits.max_bytes = 40;  // four messages of 10 bytes
    opts_.policy = drop_policy::drop_qos0_first;
    auto s = open();
    ids(s->append(std::vector{msg("q1/aaaaa", "11"), msg("q0/aaaaa", "00", mqtt::qos::at_most_once),
                              msg("q1/bbbbb", "11"), msg("q0/bbbbb", "00", mqtt::qos::at_most_once)},
                  t0_));
    ids(s->append(std::vector{msg("q2/ccccc", "22", mqtt::qos::exactly_once)}, t0_));
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"q1/aaaaa", "q1/bbbbb", "q0/bbbbb", "q2/ccccc"}));
    ids(s->append(std::vector{msg("q2/ddddd", "22"), msg("q2/eeeee", "22")}, t0_));
    // No QoS 0 left after the second one went: then the oldest of the rest.
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"q1/bbbbb", "q2/ccccc", "q2/ddddd", "q2/eeeee"}));
    EXPECT_EQ(s->counters().dropped_by_bytes, 3u);
    EXPECT_EQ(s->stats().bytes, 40u);
}

TEST_F(message_store_test, refuse_new_keeps_what_is_stored) {
    opts_.limits.max_rows = 2;
    opts_.policy = drop_policy::refuse_new;
    auto s = open();
    const auto r = s->append(std::vector{msg("a", "1"), msg("b", "2"), msg("c", "3")}, t0_);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_TRUE(r[0]);
    EXPECT_TRUE(r[1]);
    ASSERT_FALSE(r[2]);
    EXPECT_EQ(r[2].error(), make_error_code(store_errc::queue_full));
    EXPECT_EQ(s->counters().refused, 1u);
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"a", "b"}));
}

TEST_F(message_store_test, messages_in_flight_are_never_evicted) {
    opts_.limits.max_rows = 2;
    opts_.policy = drop_policy::drop_oldest;
    auto s = open();
    const auto id = ids(s->append(std::vector{msg("a", "1"), msg("b", "2")}, t0_));
    const std::vector<change> sent = {{change::kind::sent, id[0], 1, false}, {change::kind::sent, id[1], 2, false}};
    ASSERT_TRUE(s->apply(sent));
    const auto r = s->append(std::vector{msg("c", "3")}, t0_);
    ASSERT_FALSE(r[0]);
    EXPECT_EQ(r[0].error(), make_error_code(store_errc::queue_full));
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"a", "b"}));
}

TEST_F(message_store_test, a_message_bigger_than_the_byte_limit_is_refused_alone) {
    opts_.limits.max_bytes = 10;
    auto s = open();
    const auto r = s->append(std::vector{msg("a", std::string(20, 'x')), msg("b", "1")}, t0_);
    EXPECT_FALSE(r[0]);
    EXPECT_TRUE(r[1]);
}

TEST_F(message_store_test, expire_drops_queued_messages_older_than_max_age) {
    opts_.limits.max_age = 60s;
    auto s = open();
    const auto id = ids(s->append(std::vector{msg("old", "1"), msg("old-in-flight", "1")}, t0_));
    const std::vector<change> sent = {{change::kind::sent, id[1], 1, false}};
    ASSERT_TRUE(s->apply(sent));
    ids(s->append(std::vector{msg("new", "2")}, t0_ + 50s));
    auto n = s->expire(t0_ + 90s);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 1u);
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"old-in-flight", "new"}));
    EXPECT_EQ(s->counters().dropped_by_age, 1u);
}

// What the client holds to send is not dropped by age either: a message
// counted as dropped must never be delivered after all.
TEST_F(message_store_test, expire_keeps_protected_messages) {
    opts_.limits.max_age = 60s;
    auto s = open();
    const auto id = ids(s->append(std::vector{msg("a", "1"), msg("b", "1"), msg("c", "1"), msg("d", "1")}, t0_));
    s->protect([&](std::int64_t x) { return x == id[1]; });
    auto n = s->expire(t0_ + 90s);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 3u);
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"b"}));
    EXPECT_EQ(s->counters().dropped_by_age, 3u);
    EXPECT_EQ(s->stats().rows, 1u);
}

TEST_F(message_store_test, a_file_that_is_not_a_database_is_moved_aside) {
    std::ofstream(opts_.path) << std::string(8192, 'G');
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().rows, 0u);
    bool moved = false;
    for (const auto& e : fs::directory_iterator(dir_)) {
        if (e.path().filename().string().starts_with("queue.db.corrupt-")) moved = true;
    }
    EXPECT_TRUE(moved);
    EXPECT_TRUE(ids(s->append(std::vector{msg("a", "1")}, t0_)).size() == 1);
}

// A queue file cut short (a copy interrupted, a disk that lost its tail)
// fails the integrity check. No row of it is trusted: the file is moved
// aside whole for inspection, the store starts empty, and it works as a
// store (appends, reads, keeps them across a reopen).
TEST_F(message_store_test, a_truncated_database_is_moved_aside_and_the_store_starts_empty_and_usable) {
    {
        auto s = open();
        std::vector<mqtt::message> batch(500, msg("some/topic", std::string(200, 'p')));
        ASSERT_EQ(ids(s->append(batch, t0_)).size(), 500u);
        ASSERT_EQ(s->stats().rows, 500u);
    }
    // Checkpointed on close: the data is in the main file. Cut it in half.
    const auto size = fs::file_size(opts_.path);
    ASSERT_GT(size, 8192u);
    fs::resize_file(opts_.path, size / 2);

    auto s = message_store::open(opts_);
    ASSERT_TRUE(s) << s.error().message();
    auto& store = **s;
    EXPECT_EQ(store.stats().rows, 0u);
    EXPECT_EQ(topics(store), std::vector<std::string>{});
    std::vector<fs::path> aside;
    for (const auto& e : fs::directory_iterator(dir_)) {
        const auto name = e.path().filename().string();
        if (name.starts_with("queue.db.corrupt-") && !name.ends_with("-wal") && !name.ends_with("-shm")) {
            aside.push_back(e.path());
        }
    }
    ASSERT_EQ(aside.size(), 1u);
    EXPECT_EQ(fs::file_size(aside[0]), size / 2);  // the cut file itself, untouched

    const auto id = ids(store.append(std::vector{msg("after/1", "a"), msg("after/2", "b")}, t0_ + 1s));
    ASSERT_EQ(id.size(), 2u);
    EXPECT_LT(id[0], id[1]);
    EXPECT_EQ(store.stats().rows, 2u);
    const auto loaded = store.load(0, 1000);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 2u);
    EXPECT_EQ((*loaded)[0].id, id[0]);
    EXPECT_EQ((*loaded)[0].message.payload, "a");
    EXPECT_EQ((*loaded)[1].message.payload, "b");
    s->reset();
    EXPECT_EQ(topics(*open()), (std::vector<std::string>{"after/1", "after/2"}));
}

TEST_F(message_store_test, a_newer_schema_is_refused_and_left_alone) {
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(opts_.path.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
    }
    auto s = message_store::open(opts_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(store_errc::newer_schema));
    EXPECT_TRUE(fs::exists(opts_.path));
}

// One process per queue file: a second store on the file is refused while
// the first has it open (two gateways would send the same rows and delete
// each other's), and opens once it closed. A reader (sqlite3) is not kept out.
TEST_F(message_store_test, a_file_another_store_has_open_is_refused_until_it_closes) {
    auto first = open();
    ASSERT_TRUE(first);
    ids(first->append(std::vector{msg("a", "1")}, t0_));
    auto second = message_store::open(opts_);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), make_error_code(store_errc::in_use));
    EXPECT_EQ(committed_rows(opts_.path), 1);
    first.reset();
    auto third = message_store::open(opts_);
    ASSERT_TRUE(third);
    EXPECT_EQ((*third)->stats().rows, 1u);
}

// One transaction larger than a checkpoint's worth (here 20 MB of rows
// expired at once) grows the WAL; the file is cut back once a checkpoint lets
// it start again, rather than keeping that size for good.
TEST_F(message_store_test, the_wal_is_cut_back_after_a_transaction_larger_than_a_checkpoint) {
    auto s = open();
    ASSERT_TRUE(s);
    const auto wal = fs::path(opts_.path.string() + "-wal");
    for (int n = 0; n < 4; ++n) {
        ids(s->append(std::vector<mqtt::message>(5000, msg("bulk", std::string(1000, 'p'))), t0_));
    }
    auto expired = s->expire(t0_ + 365 * 24h);
    ASSERT_TRUE(expired);
    EXPECT_EQ(*expired, 20000u);
    const auto grown = fs::file_size(wal);
    EXPECT_GT(grown, 2u * static_cast<std::uintmax_t>(database::wal_size_limit)) << "the test needs a larger transaction";
    // Commits until the checkpoint that lets the WAL start again.
    for (int n = 0; n < 3000 && fs::file_size(wal) >= grown; ++n) ids(s->append(std::vector{msg("after", "1")}, t0_));
    EXPECT_LE(fs::file_size(wal), static_cast<std::uintmax_t>(database::wal_size_limit));
}

// A file damaged while the store has it open (a disk fault): reading rows
// that are not in the page cache answers `corrupt`, for the owner to act on.
TEST_F(message_store_test, a_file_damaged_while_open_reads_as_corrupt) {
    opts_.cache_kib = 64;
    {
        auto s = open();
        ASSERT_TRUE(s);
        ids(s->append(std::vector<mqtt::message>(2000, msg("bulk", std::string(1000, 'p'))), t0_));
    }  // closed: the WAL is checkpointed into the file
    auto s = open();
    ASSERT_TRUE(s);
    {
        std::fstream f(opts_.path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(64 * 1024);
        const std::string garbage(1024 * 1024, '\xa5');
        f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    auto rows = s->load(0, 2000);
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error(), make_error_code(store_errc::corrupt)) << rows.error().message();
}

TEST_F(message_store_test, an_unwritable_location_is_a_clear_error) {
    opts_.path = "/proc/fieldbridge/queue.db";
    auto s = message_store::open(opts_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), make_error_code(store_errc::open_failed));
}

// A real full disk refuses the batch; space back, the queue takes messages again.
TEST_F(message_store_test, a_full_disk_refuses_the_batch_and_recovers_when_space_returns) {
    const small_disk disk(dir_ / "small-disk");
    if (!disk.mounted()) GTEST_SKIP() << disk.why();
    auto s = open_holding_before(disk.path() / "queue.db");
    ASSERT_TRUE(s);
    disk.fill();
    std::vector<mqtt::message> batch(200, msg("during/full/disk", std::string(1000, 'p')));
    const auto r = s->append(batch, t0_);
    ASSERT_EQ(r.size(), batch.size());
    for (const auto& x : r) {
        ASSERT_FALSE(x);
        EXPECT_EQ(x.error(), make_error_code(store_errc::disk_full));
    }
    EXPECT_EQ(s->counters().disk_full, 1u);
    EXPECT_EQ(s->counters().refused, batch.size());
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"before"}));

    disk.free_space();
    EXPECT_EQ(ids(s->append(std::vector{msg("after", "2")}, t0_)).size(), 1u);
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"before", "after"}));
}

// A full disk while appended messages wait for their commit: SQLite rolls
// the whole transaction back, and the store says so (the messages appended
// before are counted lost, nothing stays open), so that the next append
// starts a transaction of its own instead of taking their place in a
// transaction that no longer exists.
TEST_F(message_store_test, a_full_disk_under_uncommitted_messages_counts_them_lost_and_starts_afresh) {
    const small_disk disk(dir_ / "small-disk");
    if (!disk.mounted()) GTEST_SKIP() << disk.why();
    auto s = open_holding_before(disk.path() / "queue.db");
    ASSERT_TRUE(s);
    const auto waiting = s->append_uncommitted(std::vector{msg("waiting", "2"), msg("waiting", "3")}, t0_);
    ASSERT_TRUE(waiting[0] && waiting[1]);
    ASSERT_TRUE(s->uncommitted());
    disk.fill();
    // More than the page cache holds: SQLite must write pages before the commit.
    std::vector<mqtt::message> batch(6000, msg("during/full/disk", std::string(1000, 'p')));
    const auto r = s->append_uncommitted(batch, t0_);
    ASSERT_EQ(r.size(), batch.size());
    for (const auto& x : r) ASSERT_FALSE(x);
    EXPECT_EQ(s->counters().lost_uncommitted, 2u) << "the messages waiting for their commit went with it";
    EXPECT_FALSE(s->uncommitted());
    EXPECT_EQ(s->stats().rows, 1u);

    disk.free_space();
    const auto after = s->append_uncommitted(std::vector{msg("after", "4")}, t0_);
    ASSERT_TRUE(after[0]);
    ASSERT_TRUE(s->flush());
    EXPECT_EQ(s->counters().lost_uncommitted, 2u);
    EXPECT_EQ(topics(*s), (std::vector<std::string>{"before", "after"}));
}

// The same from a statement run in the open transaction outside an append:
// an expiry's delete that meets a full disk. The next append notices that
// the transaction is gone, counts the waiting messages lost once, and begins
// its own.
TEST_F(message_store_test, a_full_disk_under_an_expiry_counts_the_uncommitted_messages_lost_once) {
    const small_disk disk(dir_ / "small-disk");
    if (!disk.mounted()) GTEST_SKIP() << disk.why();
    opts_.cache_kib = 64;  // the delete writes pages before its commit
    opts_.limits.max_age = 24h;
    auto s = open_holding_before(disk.path() / "queue.db");
    ASSERT_TRUE(s);
    ids(s->append(std::vector<mqtt::message>(300, msg("old", std::string(1000, 'p'))), t0_));
    const auto later = t0_ + 48h;
    const auto waiting = s->append_uncommitted(std::vector{msg("waiting", "2"), msg("waiting", "3")}, later);
    ASSERT_TRUE(waiting[0] && waiting[1]);
    disk.fill();
    ASSERT_FALSE(s->expire(later));
    disk.free_space();
    const auto after = s->append_uncommitted(std::vector{msg("after", "4")}, later);
    ASSERT_TRUE(after[0]);
    EXPECT_EQ(s->counters().lost_uncommitted, 2u);
    ASSERT_TRUE(s->flush());
    EXPECT_EQ(s->counters().lost_uncommitted, 2u);
    EXPECT_EQ(committed_rows(opts_.path), 302);  // before, the 300 old ones, after
}

}  // namespace
}  // namespace fieldbridge::store

