// request_policy: retries, the busy (exception 6) wait and the device's
// pauses, on a manual clock; and the retry policy checked against a small
// reference over thousands of random answer sequences.
#include "drivers/modbus/request_policy.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

const auto answered = std::error_code{};
const auto timeout = make_error_code(modbus_errc::timeout);
const auto garbled = make_error_code(modbus_errc::invalid_response);
const auto broken = make_error_code(modbus_errc::connection_failed);
const auto busy = make_error_code(modbus_errc::server_device_busy);
const auto refused = make_error_code(modbus_errc::illegal_data_address);
const auto failed_device = make_error_code(modbus_errc::server_device_failure);
const auto odd_exception = make_error_code(modbus_errc::unknown_exception);

const clock_type::time_point t0 = clock_type::time_point{} + 1h;

// Attempts until the policy says stop, each failing with `error`.
int attempts_until_done(int retries, std::error_code error) {
    request_attempts a(retries, 10ms);
    auto now = t0;
    while (a.after(error, now).again) now += 1ms;
    return a.made();
}

TEST(request_attempts, an_answer_ends_the_request_at_once) {
    request_attempts a(3, 100ms);
    EXPECT_FALSE(a.after(answered, t0).again);
    EXPECT_EQ(a.made(), 1);
}

TEST(request_attempts, timeouts_garbled_answers_and_broken_links_are_asked_again_at_once_up_to_the_retries) {
    for (const auto error : {timeout, garbled, broken}) {
        for (int retries = 0; retries <= 5; ++retries) {
            EXPECT_EQ(attempts_until_done(retries, error), 1 + retries) << error.message() << ", retries " << retries;
        }
        request_attempts a(2, 100ms);
        const auto next = a.after(error, t0);
        EXPECT_TRUE(next.again);
        EXPECT_EQ(next.not_before, t0) << "no wait: " << error.message();
    }
}

TEST(request_attempts, exceptions_other_than_busy_are_not_repeated) {
    for (const auto error : {refused, failed_device, odd_exception, make_error_code(modbus_errc::illegal_function)}) {
        EXPECT_EQ(attempts_until_done(5, error), 1) << error.message();
    }
}

// A write that got no answer, a garbled one or a broken connection may have
// been taken: never sent again; busy (the device did not take it) is.
TEST(request_attempts, a_write_is_asked_again_only_after_busy) {
    for (const auto error : {timeout, garbled, broken, refused}) {
        request_attempts a(3, 10ms, request_attempts::kind::write);
        EXPECT_FALSE(a.after(error, t0).again) << error.message();
    }
    request_attempts a(2, 10ms, request_attempts::kind::write);
    const auto next = a.after(busy, t0);
    EXPECT_TRUE(next.again);
    EXPECT_EQ(next.not_before, t0 + 10ms);
    EXPECT_TRUE(a.after(busy, t0 + 10ms).again);
    EXPECT_FALSE(a.after(busy, t0 + 20ms).again);  // the retries are used up
}

TEST(request_attempts, negative_retries_mean_one_attempt) {
    EXPECT_EQ(attempts_until_done(-3, timeout), 1);
}

// Exception 6 waits busy_delay before the next attempt: the same wait each
// time (it does not grow), and never more attempts than the retries allow,
// so a busy device costs at most retries x busy_delay of waiting per block.
TEST(request_attempts, busy_is_asked_again_after_the_busy_delay_which_stays_the_same_and_is_capped_by_the_retries) {
    for (int retries = 0; retries <= 6; ++retries) {
        request_attempts a(retries, 250ms);
        auto now = t0;
        std::chrono::milliseconds waited{0};
        for (;;) {
            const auto next = a.after(busy, now);
            if (!next.again) break;
            EXPECT_EQ(next.not_before - now, 250ms) << "attempt " << a.made();
            waited += std::chrono::duration_cast<std::chrono::milliseconds>(next.not_before - now);
            now = next.not_before + 5ms;  // the attempt itself takes a while
        }
        EXPECT_EQ(a.made(), 1 + retries);
        EXPECT_EQ(waited, retries * 250ms);
    }
}

TEST(request_attempts, the_last_attempt_does_not_wait_for_nothing) {
    request_attempts a(1, 1s);
    EXPECT_TRUE(a.after(busy, t0).again);
    EXPECT_FALSE(a.after(busy, t0 + 1s).again);
}

TEST(request_attempts, a_busy_answer_then_an_answer_ends_well) {
    request_attempts a(2, 50ms);
    const auto next = a.after(busy, t0);
    ASSERT_TRUE(next.again);
    EXPECT_EQ(next.not_before, t0 + 50ms);
    EXPECT_FALSE(a.after(answered, t0 + 60ms).again);
    EXPECT_EQ(a.made(), 2);
}

TEST(request_attempts, takes_the_devices_settings) {
    config::device d;
    d.retries = 2;
    d.busy_retry_delay = 70ms;
    request_attempts a(d);
    EXPECT_EQ(a.after(busy, t0).not_before, t0 + 70ms);
    EXPECT_TRUE(a.after(timeout, t0).again);
    EXPECT_FALSE(a.after(timeout, t0).again);
}

TEST(paced_until, request_delay_to_the_same_unit_switch_delay_to_another) {
    config::device d;
    d.unit_id = 7;
    d.request_delay = 30ms;
    d.switch_delay = 200ms;
    EXPECT_EQ(paced_until(d, 7, t0), t0 + 30ms);
    EXPECT_EQ(paced_until(d, 3, t0), t0 + 200ms);
    EXPECT_EQ(paced_until(d, -1, t0), t0 + 200ms);  // nothing went yet: treated as another unit
    d.request_delay = 0ms;
    d.switch_delay = 0ms;
    EXPECT_EQ(paced_until(d, 7, t0), clock_type::time_point{});
    EXPECT_EQ(paced_until(d, 3, t0), clock_type::time_point{});
}

// The retry policy as a table: what a block read costs and how it ends,
// for a sequence of device answers.
struct reference_outcome {
    int requests = 0;
    std::error_code last;
    std::chrono::milliseconds waited{0};
    bool operator==(const reference_outcome&) const = default;
};

reference_outcome reference(const std::vector<std::error_code>& answers, int retries, std::chrono::milliseconds busy_delay,
                            bool write) {
    reference_outcome o;
    for (int i = 0; i <= std::max(retries, 0); ++i) {
        const auto e = answers.at(static_cast<std::size_t>(i));
        ++o.requests;
        o.last = e;
        if (!e) break;
        const bool is_busy = e == busy;
        const bool other_exception = e.value() < 100 || e == odd_exception;
        if (other_exception && !is_busy) break;
        if (write && !is_busy) break;  // no answer, a garbled one, a broken link: it may have been taken
        if (is_busy && i < retries) o.waited += busy_delay;
    }
    return o;
}

TEST(request_attempts_model, random_answer_sequences_agree_with_the_reference) {
    const std::array outcomes{answered, timeout, garbled, broken, busy, refused, failed_device, odd_exception};
    constexpr int seeds = 5000;
    for (int seed = 1; seed <= seeds; ++seed) {
        std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
        const int retries = std::uniform_int_distribution<int>(-1, 6)(rng);
        const auto busy_delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 500)(rng));
        // Weighted towards failures, so that long runs of retries happen.
        std::discrete_distribution<std::size_t> pick({1, 4, 2, 2, 4, 1, 1, 1});
        std::vector<std::error_code> answers;
        for (int i = 0; i < 8; ++i) answers.push_back(outcomes[pick(rng)]);

        const bool write = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
        request_attempts a(retries, busy_delay, write ? request_attempts::kind::write : request_attempts::kind::read);
        auto now = t0;
        reference_outcome got;
        for (;;) {
            const auto e = answers.at(static_cast<std::size_t>(a.made()));
            ++got.requests;
            got.last = e;
            now += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng));  // the request's time
            const auto next = a.after(e, now);
            if (!next.again) break;
            ASSERT_GE(next.not_before, now) << "seed " << seed;
            got.waited += std::chrono::duration_cast<std::chrono::milliseconds>(next.not_before - now);
            now = next.not_before;
        }
        const auto want = reference(answers, retries, busy_delay, write);
        ASSERT_EQ(got.requests, want.requests) << "seed " << seed;
        ASSERT_EQ(got.last, want.last) << "seed " << seed;
        ASSERT_EQ(got.waited, want.waited) << "seed " << seed;
        ASSERT_EQ(a.made(), want.requests) << "seed " << seed;
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
