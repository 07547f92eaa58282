// device_health: the one definition of online and offline, used by the bus
// worker's offline back-off and by the core's availability alike.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "drivers/modbus/device_health.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;

poll_result poll(time_point t, bool good) {
    poll_result r;
    r.device = "d";
    r.time = t;
    r.samples.push_back(sample{0, {1}, good ? quality{} : quality{false, std::make_error_code(std::errc::timed_out)}});
    return r;
}

TEST(device_health, is_unknown_before_the_first_poll) {
    device_health h;
    EXPECT_EQ(h.state(), device_state::unknown);
    EXPECT_STREQ(to_string(h.state()), "unknown");
}

TEST(device_health, goes_offline_after_offline_after_failed_polls_and_online_with_the_first_good_one) {
    device_health h;
    h.offline_after = 3;
    const time_point t0{};
    EXPECT_TRUE(h.record(poll(t0, true)));  // unknown -> online
    EXPECT_FALSE(h.record(poll(t0 + 1s, false)));
    EXPECT_FALSE(h.record(poll(t0 + 2s, false)));
    EXPECT_TRUE(h.record(poll(t0 + 3s, false)));
    EXPECT_EQ(h.state(), device_state::offline);
    EXPECT_EQ(h.state_since, t0 + 3s);
    EXPECT_EQ(h.failed_polls, 3u);
    EXPECT_FALSE(h.last_error.empty());
    EXPECT_TRUE(h.record(poll(t0 + 4s, true)));
    EXPECT_EQ(h.state(), device_state::online);
    EXPECT_EQ(h.last_good, t0 + 4s);
}

TEST(device_health, the_last_error_is_what_the_poll_met_not_why_a_point_was_left_out) {
    device_health h;
    poll_result r;
    r.time = time_point{};
    const auto bad = [](modbus_errc e) { return quality{false, make_error_code(e)}; };
    r.samples = {sample{0, {}, bad(modbus_errc::block_silent)}, sample{1, {}, bad(modbus_errc::not_readable)},
                 sample{2, {}, bad(modbus_errc::timeout)}, sample{3, {}, bad(modbus_errc::device_offline)},
                 sample{4, {}, bad(modbus_errc::illegal_data_address)}};
    h.record(r);
    EXPECT_EQ(h.last_error, make_error_code(modbus_errc::timeout).message());
    r.samples = {sample{0, {}, bad(modbus_errc::block_silent)}, sample{1, {}, bad(modbus_errc::device_offline)}};
    h.record(r);
    EXPECT_EQ(h.last_error, make_error_code(modbus_errc::block_silent).message()) << "none asked: the first";
}

TEST(device_health, a_poll_with_one_good_sample_answers) {
    device_health h;
    h.offline_after = 1;
    auto r = poll(time_point{}, false);
    r.samples.push_back(sample{1, {2}, {}});
    h.record(r);
    EXPECT_EQ(h.state(), device_state::online);
}

TEST(device_health, a_poll_without_samples_neither_answers_nor_fails) {
    // A device without points: never online from polls that ask nothing.
    device_health none;
    poll_result nothing;
    EXPECT_FALSE(none.record(nothing));
    EXPECT_EQ(none.state(), device_state::unknown);

    device_health h;
    h.offline_after = 2;
    h.record(poll(time_point{}, false));
    poll_result empty;
    empty.time = time_point{} + 1s;
    h.record(empty);
    EXPECT_EQ(h.consecutive_failures, 1u);
    EXPECT_EQ(h.failed_polls, 1u);
    EXPECT_FALSE(h.last_good.has_value());
}

TEST(device_health, an_answer_outside_the_schedule_brings_an_offline_device_back) {
    device_health h;
    h.offline_after = 1;
    h.record(poll(time_point{}, false));
    ASSERT_EQ(h.state(), device_state::offline);
    EXPECT_TRUE(h.record_answer(time_point{} + 5s));
    EXPECT_EQ(h.state(), device_state::online);
    EXPECT_EQ(h.state_since, time_point{} + 5s);
}

// An answer to a write says the device is there; it is no poll: polls,
// failed polls and the last poll's time are the polls' alone.
TEST(device_health, an_answer_is_heard_but_counts_no_poll) {
    device_health h;
    EXPECT_TRUE(h.record_answer(time_point{} + 1s));
    EXPECT_EQ(h.state(), device_state::online);
    EXPECT_EQ(h.polls, 0u);
    EXPECT_FALSE(h.last_poll.has_value());
    EXPECT_EQ(h.last_good, time_point{} + 1s);
    h.record(poll(time_point{} + 2s, false));
    h.record_answer(time_point{} + 3s);
    EXPECT_EQ(h.polls, 1u);
    EXPECT_EQ(h.failed_polls, 1u);
    EXPECT_EQ(h.last_poll, time_point{} + 2s);
}

TEST(device_health, a_device_no_worker_polls_is_offline_with_why_until_a_poll) {
    device_health h;
    EXPECT_TRUE(h.record_not_polled(time_point{} + 1s, "bus line: cannot start its worker (x)"));
    EXPECT_EQ(h.state(), device_state::offline);
    EXPECT_EQ(h.state_since, time_point{} + 1s);
    EXPECT_EQ(h.last_error, "bus line: cannot start its worker (x)");
    EXPECT_FALSE(h.record_not_polled(time_point{} + 2s, "again"));
    EXPECT_FALSE(h.set_offline_after(9, time_point{} + 3s)) << "no threshold brings it back";
    EXPECT_FALSE(h.record_answer(time_point{} + 4s)) << "an answer of a retired worker: still no worker polls it";
    EXPECT_EQ(h.state(), device_state::offline);
    EXPECT_TRUE(h.record(poll(time_point{} + 4s, false))) << "a worker polls it: one failed poll is no outage";
    EXPECT_EQ(h.state(), device_state::online);
    EXPECT_EQ(h.last_error, std::make_error_code(std::errc::timed_out).message())
        << "the poll's error, not the reason no worker polled it";
    h.record_not_polled(time_point{} + 5s, "x");
    poll_result empty;
    empty.time = time_point{} + 6s;
    EXPECT_TRUE(h.record(empty)) << "a worker's poll with nothing to ask ends it too";
    EXPECT_EQ(h.state(), device_state::online);
}

// Against a reference: over random poll sequences, reloads that change
// offline_after, and reloads whose bus worker cannot start, the state is
// offline exactly while no worker polls the device or when the last
// offline_after polls with samples all failed, unknown before that while
// nothing was heard (a good value or an answer: a failed poll is not one),
// and record(), record_not_polled() and set_offline_after() report exactly
// the changes.
TEST(device_health, model_over_random_poll_sequences) {
    for (unsigned seed = 1; seed <= 2000; ++seed) {
        std::mt19937 rng(seed);
        device_health h;
        h.offline_after = static_cast<unsigned>(1 + rng() % 5);
        // The reference.
        unsigned run = 0;       // failed polls in a row
        std::uint64_t polls = 0, failed = 0;  // polls with samples, and those without a good one
        bool heard = false;     // a poll with a good value, or an answer
        bool unpolled = false;  // no worker since the last record_not_polled()
        device_state ref = device_state::unknown;
        time_point t{};
        for (int step = 0; step < 60; ++step) {
            t += 1s;
            const auto kind = rng() % 11;
            bool changed = false;
            if (kind == 0) {
                // Nothing asked (a device without points): neither answers nor fails.
                poll_result empty;
                empty.time = t;
                changed = h.record(empty);
                unpolled = false;
            } else if (kind == 1) {
                changed = h.record_answer(t);
                run = 0;
                heard = true;
            } else if (kind == 2) {
                // A reload's threshold: the failures counted so far are kept.
                changed = h.set_offline_after(static_cast<unsigned>(1 + rng() % 5), t);
            } else if (kind == 3) {
                changed = h.record_not_polled(t, "bus line: cannot start its worker");
                unpolled = true;
            } else {
                const bool good = rng() % 3 == 0;
                changed = h.record(poll(t, good));
                run = good ? 0 : run + 1;
                ++polls;
                failed += good ? 0 : 1;
                heard = heard || good;
                unpolled = false;
            }
            const auto expected = unpolled                 ? device_state::offline
                                  : run >= h.offline_after ? device_state::offline
                                  : !heard                 ? device_state::unknown
                                                           : device_state::online;
            ASSERT_EQ(h.state(), expected) << "seed " << seed << " step " << step << " event " << kind;
            ASSERT_EQ(h.polls, polls) << "seed " << seed << " step " << step << " event " << kind;
            ASSERT_EQ(h.failed_polls, failed) << "seed " << seed << " step " << step << " event " << kind;
            ASSERT_EQ(changed, expected != ref) << "seed " << seed << " step " << step << " event " << kind;
            if (changed) {
                ASSERT_EQ(h.state_since, t) << "seed " << seed << " step " << step;
            }
            ref = expected;
        }
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
