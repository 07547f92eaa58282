// The queue's tail in memory on its own (queue_tail.hpp): what it answers,
// what it gives up, and its bounds. The store's model test
// (store_queue_model_test.cpp) checks it against the table.
#include <gtest/gtest.h>

#include "gateway/store/queue_tail.hpp"

namespace fieldbridge::store {
namespace {

stored_message row(std::int64_t id, std::size_t payload = 4) {
    stored_message m;
    m.id = id;
    m.message.topic = "t/" + std::to_string(id);
    m.message.payload.assign(payload, 'x');
    return m;
}

std::vector<std::int64_t> ids(const std::optional<std::vector<stored_message>>& rows) {
    std::vector<std::int64_t> out;
    if (rows) {
        for (const auto& m : *rows) out.push_back(m.id);
    }
    return out;
}

TEST(queue_tail, answers_nothing_until_a_row_is_appended_then_from_just_below_it) {
    queue_tail t(16, 1024);
    EXPECT_FALSE(t.take(0, 10));
    t.appended(row(41));
    t.appended(row(42));
    EXPECT_TRUE(t.anchored());
    EXPECT_EQ(t.from(), 40);
    EXPECT_FALSE(t.take(39, 10)) << "row 40 and below may be in the table: not the tail's to say";
    EXPECT_EQ(ids(t.take(40, 1)), std::vector<std::int64_t>{41});
    EXPECT_EQ(ids(t.take(41, 10)), std::vector<std::int64_t>{42});
    EXPECT_EQ(ids(t.take(42, 10)), std::vector<std::int64_t>{}) << "anchored and empty: nothing after 42";
}

TEST(queue_tail, gives_each_row_once_and_skips_the_rows_at_or_below_after) {
    queue_tail t(16, 1024);
    for (std::int64_t id = 1; id <= 6; ++id) t.appended(row(id));
    EXPECT_EQ(ids(t.take(3, 2)), (std::vector<std::int64_t>{4, 5}));
    EXPECT_EQ(t.from(), 5);
    EXPECT_FALSE(t.take(3, 2)) << "rows 4 and 5 were given: only the table has them now";
    EXPECT_EQ(ids(t.take(5, 2)), std::vector<std::int64_t>{6});
    EXPECT_EQ(t.rows(), 0U);
    EXPECT_EQ(t.bytes(), 0U);
}

TEST(queue_tail, keeps_at_most_its_rows_and_bytes_and_rises_past_what_it_lets_go) {
    queue_tail by_rows(3, 1024);
    for (std::int64_t id = 1; id <= 10; ++id) by_rows.appended(row(id));
    EXPECT_EQ(by_rows.rows(), 3U);
    EXPECT_EQ(by_rows.from(), 7);
    EXPECT_FALSE(by_rows.take(6, 10));
    EXPECT_EQ(ids(by_rows.take(7, 10)), (std::vector<std::int64_t>{8, 9, 10}));

    queue_tail by_bytes(100, 30);  // rows of 9 bytes ("t/" + id + 6 of payload)
    for (std::int64_t id = 1; id <= 9; ++id) by_bytes.appended(row(id, 6));
    EXPECT_LE(by_bytes.bytes(), 30U);
    EXPECT_EQ(by_bytes.rows(), 3U);
    EXPECT_EQ(ids(by_bytes.take(by_bytes.from(), 10)), (std::vector<std::int64_t>{7, 8, 9}));
}

TEST(queue_tail, a_row_bigger_than_its_bytes_is_not_kept_and_the_tail_starts_above_it) {
    queue_tail t(100, 20);
    t.appended(row(1));
    t.appended(row(2, 50));
    EXPECT_EQ(t.from(), 2);
    EXPECT_EQ(t.rows(), 0U);
    t.appended(row(3));
    EXPECT_EQ(ids(t.take(2, 10)), std::vector<std::int64_t>{3});
}

TEST(queue_tail, an_evicted_row_leaves_and_the_others_stay) {
    queue_tail t(16, 1024);
    for (std::int64_t id = 1; id <= 4; ++id) t.appended(row(id));
    t.erased(2);
    t.erased(99);  // not held: nothing
    EXPECT_EQ(ids(t.take(0, 10)), (std::vector<std::int64_t>{1, 3, 4}));
}

TEST(queue_tail, a_flow_change_of_a_row_it_holds_forgets_everything_and_one_of_a_row_given_does_not) {
    queue_tail t(16, 1024);
    for (std::int64_t id = 1; id <= 4; ++id) t.appended(row(id));
    EXPECT_EQ(ids(t.take(0, 2)), (std::vector<std::int64_t>{1, 2}));
    t.touched(1, 2);  // rows the reader has: their flow changes are the ledger's
    t.touched(9, 9);  // above every row: no row of the table
    EXPECT_EQ(t.rows(), 2U);
    t.touched(3, 3);
    EXPECT_FALSE(t.anchored());
    EXPECT_FALSE(t.take(2, 10));
    t.appended(row(5));
    EXPECT_EQ(t.from(), 4) << "anchored again by the next append";
}

TEST(queue_tail, rows_out_of_id_order_forget_everything) {
    queue_tail t(16, 1024);
    t.appended(row(5));
    t.appended(row(5));
    EXPECT_FALSE(t.anchored());
}

TEST(queue_tail, no_rows_means_off) {
    queue_tail t(0, 1024);
    t.appended(row(1));
    EXPECT_FALSE(t.anchored());
    EXPECT_FALSE(t.take(0, 10));
}

}  // namespace
}  // namespace fieldbridge::store
