#include "common/log_limiter.hpp"

#include <gtest/gtest.h>

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;

TEST(log_limiter, logs_the_first_holds_back_repeats_within_the_window_and_counts_them) {
    log_limiter limit(60s);
    const log_limiter::clock::time_point t0{};
    EXPECT_EQ(limit.admit("m1: timeout", t0), 0u);
    EXPECT_EQ(limit.admit("m1: timeout", t0 + 1s), std::nullopt);
    EXPECT_EQ(limit.admit("m1: timeout", t0 + 59s), std::nullopt);
    // Another key is not held back by the first.
    EXPECT_EQ(limit.admit("m2: timeout", t0 + 2s), 0u);
    // After the window: logged, with what was held back.
    EXPECT_EQ(limit.admit("m1: timeout", t0 + 60s), 2u);
    EXPECT_EQ(limit.admit("m1: timeout", t0 + 61s), std::nullopt);
    EXPECT_EQ(limit.admit("m1: timeout", t0 + 121s), 1u);
    EXPECT_EQ(log_limiter::suffix(0), "");
    EXPECT_EQ(log_limiter::suffix(2), " (2 similar message(s) suppressed)");
}

TEST(log_limiter, keys_from_untrusted_text_cannot_grow_it_without_bound) {
    log_limiter limit(60s, 4);
    const log_limiter::clock::time_point t0{};
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(limit.admit("topic/" + std::to_string(i), t0 + std::chrono::seconds(i)), 0u);
    // Still limiting what it remembers.
    EXPECT_EQ(limit.admit("topic/999", t0 + 1000s), std::nullopt);
}

TEST(log_limiter, long_keys_are_held_as_a_head_and_a_hash_so_its_memory_stays_bounded) {
    log_limiter limit(60s, 1024);
    const log_limiter::clock::time_point t0{};
    // Junk command topics of up to 60 KB each: what it holds stays within
    // max_keys x max_key_bytes, not max_keys x 60 KB.
    for (int i = 0; i < 3000; ++i) {
        const auto key = "command " + std::string(1000 + static_cast<std::size_t>(i) * 20, 'a') + std::to_string(i);
        EXPECT_EQ(limit.admit(key, t0), 0u);
        ASSERT_LE(limit.key_bytes(), 1024 * log_limiter::max_key_bytes);
    }
    // Keys that differ only past the head are still told apart, and a
    // repeat of a long key is still held back.
    const std::string head(5000, 'h');
    log_limiter fresh(60s);
    EXPECT_EQ(fresh.admit(head + "one", t0), 0u);
    EXPECT_EQ(fresh.admit(head + "two", t0), 0u);
    EXPECT_EQ(fresh.admit(head + "one", t0 + 1s), std::nullopt);
}

}  // namespace
}  // namespace fieldbridge
