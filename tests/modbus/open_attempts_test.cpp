// open_attempts: when a link may be opened again and which outcomes are told.
#include "drivers/modbus/open_attempts.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;

TEST(open_attempts, failures_wait_from_100_ms_doubling_to_5_s_and_a_proven_connection_starts_over) {
    open_attempts a;
    const open_attempts::clock::time_point t0{};
    EXPECT_TRUE(a.due(t0));
    const auto first = a.opened(t0);
    EXPECT_FALSE(first.reopened);
    EXPECT_TRUE(first.tell);  // the first opening is told
    a.proven();

    // The link broke after it answered: reopened at once, and told.
    EXPECT_TRUE(a.broke(t0));
    EXPECT_TRUE(a.due(t0));
    // The reopening fails: the first failure is told, the rest are not.
    EXPECT_TRUE(a.failed(t0));
    EXPECT_FALSE(a.due(t0 + 99ms));
    EXPECT_TRUE(a.due(t0 + 100ms));
    EXPECT_FALSE(a.failed(t0 + 100ms));
    EXPECT_FALSE(a.due(t0 + 299ms));
    EXPECT_TRUE(a.due(t0 + 300ms));
    auto t = t0 + 300ms;
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(a.failed(t));
    EXPECT_FALSE(a.due(t + 4999ms));
    EXPECT_TRUE(a.due(t + 5s));  // never longer than 5 s

    t += 5s;
    const auto again = a.opened(t);
    EXPECT_TRUE(again.reopened);
    EXPECT_TRUE(again.tell);  // ends failures that were told
    a.proven();
    EXPECT_TRUE(a.failed(t));  // told: a connection proved itself since the last told failure
    EXPECT_TRUE(a.due(t + 100ms));  // back to 100 ms

    // Reopened without a failure in between: a reconnect, not worth a line.
    open_attempts quiet;
    quiet.opened(t0);
    const auto reopened = quiet.opened(t0);
    EXPECT_TRUE(reopened.reopened);
    EXPECT_FALSE(reopened.tell);

    // back_off alone waits without counting as a told failure.
    open_attempts silent;
    silent.back_off(t0);
    EXPECT_FALSE(silent.due(t0 + 50ms));
    EXPECT_TRUE(silent.opened(t0 + 100ms).tell);  // the first opening
}

// A serial server or PLC that accepts the connection and closes it at once:
// each such connection is a failed attempt. The back-off grows as for a
// refused connect, and only the first is worth a warning.
TEST(open_attempts, a_connection_closed_before_it_answered_does_not_end_the_back_off) {
    open_attempts a;
    auto t = open_attempts::clock::time_point{} + 1h;
    const std::chrono::milliseconds expected[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 5000ms, 5000ms};
    int told = 0;
    int openings_told = 0;
    for (const auto wait : expected) {
        ASSERT_TRUE(a.due(t));
        if (a.opened(t).tell) ++openings_told;
        if (a.broke(t + 1ms)) ++told;
        EXPECT_FALSE(a.due(t + 1ms + wait - 1ms)) << wait.count();
        EXPECT_TRUE(a.due(t + 1ms + wait)) << wait.count();
        t += 1ms + wait;
    }
    EXPECT_EQ(told, 1);
    EXPECT_EQ(openings_told, 2) << "the first opening, and the first after the told failure";

    // An answer proves the connection: the back-off starts over.
    a.opened(t);
    EXPECT_FALSE(a.answered());
    a.proven();
    EXPECT_TRUE(a.answered());
    EXPECT_TRUE(a.broke(t + 1ms)) << "a good connection breaking is told";
    EXPECT_TRUE(a.due(t + 1ms)) << "and reopened at once";
}

TEST(open_attempts, a_connection_up_for_stable_after_counts_as_good_without_an_answer) {
    open_attempts a;
    const open_attempts::clock::time_point t0{};
    a.opened(t0);
    a.broke(t0 + 1ms);  // backs off
    a.opened(t0 + 1s);
    EXPECT_TRUE(a.broke(t0 + 1s + open_attempts::stable_after));
    EXPECT_TRUE(a.due(t0 + 1s + open_attempts::stable_after));
    a.opened(t0 + 20s);
    EXPECT_TRUE(a.broke(t0 + 20s + 1ms)) << "the first failure since the stable connection is told";
    EXPECT_FALSE(a.due(t0 + 20s + 100ms));
    EXPECT_TRUE(a.due(t0 + 20s + 101ms));
}

TEST(open_attempts, a_close_on_purpose_is_neither_failure_nor_proof) {
    open_attempts a;
    const open_attempts::clock::time_point t0{};
    a.opened(t0);
    a.closed();
    EXPECT_FALSE(a.broke(t0 + 1ms)) << "nothing open to break";
    EXPECT_TRUE(a.due(t0 + 1ms));
    EXPECT_FALSE(a.answered());
}

}  // namespace
}  // namespace fieldbridge::modbus
