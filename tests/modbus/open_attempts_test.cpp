// open_attempts: when a link may be opened again and which outcomes are told.
#include "drivers/modbus/open_attempts.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;

TEST(open_attempts, failures_wait_from_100_ms_doubling_to_5_s_and_an_opening_starts_over) {
    open_attempts a;
    const open_attempts::clock::time_point t0{};
    EXPECT_TRUE(a.due(t0));
    const auto first = a.opened();
    EXPECT_FALSE(first.reopened);
    EXPECT_TRUE(first.tell);  // the first opening is told

    // The link broke: the first failure is told, the rest are not.
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

    const auto again = a.opened();
    EXPECT_TRUE(again.reopened);
    EXPECT_TRUE(again.tell);  // ends failures that were told
    EXPECT_TRUE(a.failed(t + 5s));
    EXPECT_TRUE(a.due(t + 5s + 100ms));  // back to 100 ms

    // Reopened without a failure in between: a reconnect, not worth a line.
    open_attempts quiet;
    quiet.opened();
    const auto reopened = quiet.opened();
    EXPECT_TRUE(reopened.reopened);
    EXPECT_FALSE(reopened.tell);

    // back_off alone waits without counting as a told failure.
    open_attempts silent;
    silent.back_off(t0);
    EXPECT_FALSE(silent.due(t0 + 50ms));
    EXPECT_TRUE(silent.opened().tell);  // the first opening
}

}  // namespace
}  // namespace fieldbridge::modbus
