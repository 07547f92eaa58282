// silent_blocks: a block of a device's poll that gets no answer while the
// device answers its others is held back after offline_after polls, asked
// once every interval, and asked every poll again once it answers. Unit
// cases and a model over random poll sequences (a manual clock, no I/O).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "drivers/modbus/silent_blocks.hpp"
#include "tests/support/model_seeds.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using time_point = silent_blocks::time_point;
using kind = config::register_kind;
using outcome = block_outcome;

const block_id first{kind::holding_register, 0, 10};
const block_id second{kind::holding_register, 100, 10};

std::vector<block_change> poll(silent_blocks& s, time_point t, outcome a, outcome b) {
    const std::vector<block_report> reports{{first, a}, {second, b}};
    return s.record(reports, t);
}

TEST(silent_blocks, a_block_that_gets_no_answer_while_another_answers_is_held_back_after_that_many_polls) {
    silent_blocks s(3, 10s);
    time_point t{};
    for (int n = 0; n < 2; ++n) {
        EXPECT_TRUE(poll(s, t, outcome::answered, outcome::no_answer).empty());
        EXPECT_TRUE(s.due(second, t += 1s)) << "poll " << n;
    }
    const auto changes = poll(s, t, outcome::answered, outcome::no_answer);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].report, 1u);
    EXPECT_TRUE(changes[0].silent);
    EXPECT_EQ(s.held(), std::vector<block_id>{second});
    EXPECT_TRUE(s.due(first, t + 1s));
    EXPECT_FALSE(s.due(second, t + 1s));
    EXPECT_FALSE(s.due(second, t + 9s));
    EXPECT_TRUE(s.due(second, t + 10s));
}

TEST(silent_blocks, a_held_block_asked_again_without_an_answer_waits_a_whole_interval_more) {
    silent_blocks s(1, 10s);
    time_point t{};
    ASSERT_EQ(poll(s, t, outcome::answered, outcome::no_answer).size(), 1u);
    t += 10s;
    ASSERT_TRUE(s.due(second, t));
    EXPECT_TRUE(poll(s, t, outcome::answered, outcome::no_answer).empty()) << "held already: no change to report";
    EXPECT_FALSE(s.due(second, t + 9s));
    EXPECT_TRUE(s.due(second, t + 10s));
    // Between its tries the block is not asked, which changes nothing.
    EXPECT_TRUE(poll(s, t + 5s, outcome::answered, outcome::not_asked).empty());
    EXPECT_FALSE(s.due(second, t + 9s));
}

TEST(silent_blocks, polls_in_which_no_block_answered_do_not_count_the_device_is_away) {
    silent_blocks s(2, 10s);
    time_point t{};
    for (int n = 0; n < 10; ++n) poll(s, t += 1s, outcome::no_answer, outcome::no_answer);
    EXPECT_EQ(s.held().size(), 0u) << "a device that answers nothing is device_health's to take offline";
    EXPECT_TRUE(s.due(first, t) && s.due(second, t));
    // The link down (an error that says nothing of the block) does not count either.
    for (int n = 0; n < 10; ++n) poll(s, t += 1s, outcome::not_asked, outcome::not_asked);
    EXPECT_EQ(s.held().size(), 0u);
    // Misses are counted only in polls where another block answered: one here, one there.
    poll(s, t += 1s, outcome::answered, outcome::no_answer);
    poll(s, t += 1s, outcome::no_answer, outcome::no_answer);
    EXPECT_EQ(s.held().size(), 0u);
    ASSERT_EQ(poll(s, t += 1s, outcome::answered, outcome::no_answer).size(), 1u);
}

TEST(silent_blocks, an_answer_an_exception_included_ends_the_misses_and_is_reported_once_for_a_held_block) {
    silent_blocks s(2, 10s);
    time_point t{};
    poll(s, t += 1s, outcome::answered, outcome::no_answer);
    poll(s, t += 1s, outcome::answered, outcome::answered);
    poll(s, t += 1s, outcome::answered, outcome::no_answer);
    EXPECT_EQ(s.held().size(), 0u) << "the misses in a row start again after an answer";
    ASSERT_EQ(poll(s, t += 1s, outcome::answered, outcome::no_answer).size(), 1u);
    t += 10s;
    const auto back = poll(s, t, outcome::answered, outcome::answered);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].report, 1u);
    EXPECT_FALSE(back[0].silent);
    EXPECT_EQ(s.held().size(), 0u);
    EXPECT_TRUE(s.due(second, t));
    EXPECT_TRUE(poll(s, t += 1s, outcome::answered, outcome::answered).empty());
}

TEST(silent_blocks, an_interval_of_zero_never_holds_a_block_back) {
    silent_blocks s(1, 0ms);
    time_point t{};
    for (int n = 0; n < 10; ++n) EXPECT_TRUE(poll(s, t += 1s, outcome::answered, outcome::no_answer).empty());
    EXPECT_EQ(s.held().size(), 0u);
    EXPECT_TRUE(s.due(second, t));
}

TEST(silent_blocks, blocks_that_left_the_plan_are_forgotten) {
    silent_blocks s(1, 1h);
    time_point t{};
    ASSERT_EQ(poll(s, t, outcome::answered, outcome::no_answer).size(), 1u);
    // The plan changed (the block was split): its parts start afresh.
    const block_id part{kind::holding_register, 100, 5};
    const std::vector<block_report> reports{{first, outcome::answered}, {part, outcome::answered}};
    EXPECT_TRUE(s.record(reports, t += 1s).empty());
    EXPECT_EQ(s.held().size(), 0u);
    EXPECT_TRUE(s.due(second, t));
}

// Reference: each block's events since its last answer (or since it joined
// the plan), read declaratively: held once `after` of them were misses
// counted (no answer while another block of the poll answered), its next
// try an interval after its last no-answer from the moment it was held.
struct reference_block {
    struct event {
        time_point at;
        bool counted;
    };
    std::vector<event> since_answer;  // no-answers only
    std::optional<std::size_t> held_from(unsigned after) const {
        unsigned counted = 0;
        for (std::size_t i = 0; i < since_answer.size(); ++i) {
            if (since_answer[i].counted && ++counted == after) return i;
        }
        return std::nullopt;
    }
};

TEST(silent_blocks, model_over_random_poll_sequences) {
    const auto [from, to] = testing::seed_range("FIELDBRIDGE_SILENT_BLOCKS", 3000);
    for (auto seed = from; seed <= to; ++seed) {
        std::mt19937_64 rng(seed);
        const unsigned after = 1 + static_cast<unsigned>(rng() % 4);
        const std::chrono::milliseconds every{std::vector<int>{0, 1500, 4000}[rng() % 3]};
        silent_blocks s(after, every);
        std::vector<block_id> plan;
        const auto blocks = static_cast<std::uint16_t>(1 + rng() % 4);
        for (std::uint16_t b = 0; b < blocks; ++b) {
            plan.push_back({kind::holding_register, static_cast<std::uint16_t>(b * 100), 10});
        }
        std::map<std::uint16_t, reference_block> ref;  // by start
        std::map<std::uint16_t, time_point> last_asked_while_held;
        time_point t{};
        for (int step = 0; step < 80; ++step) {
            t += std::chrono::milliseconds(rng() % 3000);
            if (rng() % 20 == 0 && plan.size() > 1) plan.erase(plan.begin() + static_cast<std::ptrdiff_t>(rng() % plan.size()));
            if (rng() % 20 == 0 && plan.size() < 5) {
                plan.push_back({kind::holding_register, static_cast<std::uint16_t>(500 + step), 10});
            }
            const bool device_away = rng() % 6 == 0;
            std::vector<block_report> reports;
            for (const auto& b : plan) {
                auto& r = ref[b.start];
                const auto held = every.count() > 0 ? r.held_from(after) : std::nullopt;
                time_point next_try{};
                if (held) {
                    for (auto i = *held; i < r.since_answer.size(); ++i) next_try = r.since_answer[i].at + every;
                }
                const bool due = !held || t >= next_try;
                ASSERT_EQ(s.due(b, t), due) << "seed " << seed << " step " << step << " block " << b.start;
                outcome o = outcome::not_asked;
                if (due) {
                    const auto pick = rng() % 10;
                    o = device_away || pick < 4 ? outcome::no_answer : pick < 9 ? outcome::answered : outcome::not_asked;
                    if (held && o != outcome::not_asked) {
                        const auto last = last_asked_while_held.find(b.start);
                        ASSERT_TRUE(last == last_asked_while_held.end() || t - last->second >= every)
                            << "seed " << seed << " step " << step << ": a held block asked within its interval";
                        last_asked_while_held[b.start] = t;
                    }
                }
                reports.push_back({b, o});
            }
            const bool another = std::any_of(reports.begin(), reports.end(),
                                             [](const block_report& r) { return r.outcome == outcome::answered; });
            std::vector<block_change> expected;
            for (std::size_t i = 0; i < reports.size(); ++i) {
                auto& r = ref[reports[i].block.start];
                const bool was_held = every.count() > 0 && r.held_from(after);
                if (reports[i].outcome == outcome::answered) {
                    r.since_answer.clear();
                    last_asked_while_held.erase(reports[i].block.start);
                    if (was_held) expected.push_back({i, false});
                } else if (reports[i].outcome == outcome::no_answer) {
                    r.since_answer.push_back({t, another});
                    if (!was_held && every.count() > 0 && r.held_from(after)) {
                        expected.push_back({i, true});
                        last_asked_while_held[reports[i].block.start] = t;
                    }
                }
            }
            for (auto it = ref.begin(); it != ref.end();) {
                const bool in_plan = std::any_of(plan.begin(), plan.end(), [&](const block_id& b) { return b.start == it->first; });
                if (!in_plan) last_asked_while_held.erase(it->first);
                it = in_plan ? std::next(it) : ref.erase(it);
            }
            const auto got = s.record(reports, t);
            ASSERT_EQ(got.size(), expected.size()) << "seed " << seed << " step " << step;
            for (std::size_t i = 0; i < got.size(); ++i) {
                ASSERT_EQ(got[i].report, expected[i].report) << "seed " << seed << " step " << step;
                ASSERT_EQ(got[i].silent, expected[i].silent) << "seed " << seed << " step " << step;
            }
            std::vector<block_id> held;  // in the order of the poll's reports
            for (const auto& r : reports) {
                if (every.count() > 0 && ref[r.block.start].held_from(after)) held.push_back(r.block);
            }
            ASSERT_EQ(s.held(), held) << "seed " << seed << " step " << step;
        }
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
