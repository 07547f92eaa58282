// poll_schedule on a simulated clock: no sleeps.
#include "drivers/modbus/poll_schedule.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using clock_type = poll_schedule::clock;

const clock_type::time_point t0{std::chrono::hours(1)};

TEST(poll_schedule, all_devices_are_due_at_start_lowest_index_first) {
    poll_schedule s({100ms, 50ms}, t0);
    EXPECT_EQ(s.next().device, 0u);
    EXPECT_EQ(s.next().at, t0);
    s.completed(0, t0 + 5ms);
    EXPECT_EQ(s.next().device, 1u);
    EXPECT_EQ(s.next().at, t0);
}

TEST(poll_schedule, polls_stay_on_the_interval_grid_without_drift) {
    poll_schedule s({100ms}, t0);
    auto now = t0;
    for (int k = 1; k <= 1000; ++k) {
        now = s.next().at + 37ms;  // every poll takes 37 ms
        s.completed(0, now);
        ASSERT_EQ(s.next().at, t0 + k * 100ms);
    }
    EXPECT_EQ(s.missed(0), 0u);
}

TEST(poll_schedule, an_overrun_skips_missed_slots_instead_of_bursting) {
    poll_schedule s({100ms}, t0);
    s.completed(0, t0 + 350ms);  // one poll took 3.5 intervals
    EXPECT_EQ(s.next().at, t0 + 400ms);
    EXPECT_EQ(s.missed(0), 3u);
    s.completed(0, t0 + 410ms);
    EXPECT_EQ(s.next().at, t0 + 500ms);

    poll_schedule exact({100ms}, t0);
    exact.completed(0, t0 + 200ms);  // ended exactly on a grid point: due now, one slot missed
    EXPECT_EQ(exact.next().at, t0 + 200ms);
    EXPECT_EQ(exact.missed(0), 1u);
}

TEST(poll_schedule, devices_keep_their_own_rates_on_a_shared_bus) {
    poll_schedule s({100ms, 250ms}, t0);
    std::vector<int> polls(2, 0);
    auto now = t0;
    while (now < t0 + 1000ms) {
        const auto d = s.next();
        now = std::max(now, d.at);
        if (now >= t0 + 1000ms) break;
        ++polls[d.device];
        now += 2ms;
        s.completed(d.device, now);
    }
    EXPECT_EQ(polls[0], 10);
    EXPECT_EQ(polls[1], 4);  // 0, 250, 500, 750
}

TEST(poll_schedule, a_slow_device_does_not_starve_a_fast_one) {
    // Device 1 takes 300 ms per poll (timeouts); device 0 wants 100 ms.
    poll_schedule s({100ms, 100ms}, t0);
    auto now = t0;
    int fast = 0;
    while (now < t0 + 3000ms) {
        const auto d = s.next();
        now = std::max(now, d.at);
        if (d.device == 0) ++fast;
        now += d.device == 0 ? 1ms : 300ms;
        s.completed(d.device, now);
    }
    // Each round: fast poll, slow poll (300 ms): both alternate.
    EXPECT_GE(fast, 9);
    EXPECT_GT(s.missed(1), 0u);
}

TEST(poll_schedule, sub_millisecond_intervals_count_as_one_millisecond) {
    poll_schedule s({0ms}, t0);
    s.completed(0, t0);
    EXPECT_EQ(s.next().at, t0 + 1ms);
}

}  // namespace
}  // namespace fieldbridge::modbus
