// held_commands against a reference model: random holds, releases, expiries
// and give-ups, checked step by step, on a manual clock.
#include "gateway/held_commands.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/commands.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;
using time_point = held_commands::time_point;

// What each command's handlers reported: its id, and whether it was
// written (go) or answered with why (give_up).
struct outcome {
    int id;
    bool written;
    bool operator==(const outcome&) const = default;
};

held_commands::command make(std::vector<outcome>& log, const std::string& device, time_point deadline,
                            int id) {
    return {device, deadline,
            [&log, id] {
                log.push_back({id, true});
            },
            [&log, id](const std::string&) {
                log.push_back({id, false});
            }};
}

// The reference: per device name (ordered), the commands in the order held.
struct model {
    struct entry {
        int id;
        time_point deadline;
    };
    std::size_t per_device;
    std::size_t total;
    std::map<std::string, std::deque<entry>> waiting;

    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& [d, q] : waiting) n += q.size();
        return n;
    }
    held_commands::hold_result hold(const std::string& device, int id, time_point deadline) {
        const auto mine = waiting.count(device) ? waiting[device].size() : 0;
        if (mine >= per_device) return {held_commands::refusal::device_full, mine};
        if (size() >= total) return {held_commands::refusal::all_full, size()};
        waiting[device].push_back({id, deadline});
        return {};
    }
    // The device's commands still in time, and those whose deadline is at
    // or before now: never written once their time is up.
    std::pair<std::vector<int>, std::vector<int>> release(const std::string& device, time_point now) {
        std::pair<std::vector<int>, std::vector<int>> out;
        for (const auto& e : waiting[device]) (e.deadline <= now ? out.second : out.first).push_back(e.id);
        waiting.erase(device);
        return out;
    }
    std::vector<int> expire(time_point now) {
        std::vector<int> out;
        for (auto& [d, q] : waiting) {
            std::deque<entry> kept;
            for (const auto& e : q) {
                if (e.deadline <= now) {
                    out.push_back(e.id);
                } else {
                    kept.push_back(e);
                }
            }
            q = kept;
        }
        std::erase_if(waiting, [](const auto& kv) { return kv.second.empty(); });
        return out;
    }
    std::vector<int> take_all() {
        std::vector<int> out;
        for (const auto& [d, q] : waiting) {
            for (const auto& e : q) out.push_back(e.id);
        }
        waiting.clear();
        return out;
    }
    std::optional<time_point> next_deadline() const {
        std::optional<time_point> next;
        for (const auto& [d, q] : waiting) {
            for (const auto& e : q) {
                if (!next || e.deadline < *next) next = e.deadline;
            }
        }
        return next;
    }
};

std::vector<int> ids(const std::vector<held_commands::command>& cs, std::vector<outcome>& log, bool run_go) {
    // Runs what the owner would run, and reads the ids back from the log.
    log.clear();
    for (const auto& c : cs) {
        if (run_go) {
            c.go();
        } else {
            c.give_up("why");
        }
    }
    std::vector<int> out;
    for (const auto& o : log) {
        EXPECT_EQ(o.written, run_go);
        out.push_back(o.id);
    }
    return out;
}

// One seed: every step is checked against the model; a failure names the seed and step.
void run_seed(std::uint32_t seed) {
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    const std::size_t per_device = 1 + static_cast<std::size_t>(pick(6));
    const std::size_t total = 1 + static_cast<std::size_t>(pick(16));
    held_commands held(per_device, total);
    model ref{per_device, total, {}};
    const std::vector<std::string> devices{"a", "b", "c", "d"};
    time_point now{};
    std::vector<outcome> log;
    int next_id = 0;
    for (int step = 0; step < 200; ++step) {
        const auto where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
        switch (pick(10)) {
            case 0:
            case 1:
            case 2:
            case 3: {  // hold, with a max_age that may differ between holds (a reload)
                const auto& device = devices[static_cast<std::size_t>(pick(4))];
                const auto deadline = now + std::chrono::milliseconds(pick(50));
                const int id = next_id++;
                const auto got = held.hold(make(log, device, deadline, id));
                const auto want = ref.hold(device, id, deadline);
                ASSERT_EQ(got.refused, want.refused) << where;
                ASSERT_EQ(got.waiting, want.waiting) << where;
                break;
            }
            case 4: {
                // The device comes back, perhaps after deadlines passed that
                // no expire() has seen yet (the owner's timer is late).
                const auto& device = devices[static_cast<std::size_t>(pick(4))];
                const auto released = held.release(device, now);
                const auto [ready, expired] = ref.release(device, now);
                ASSERT_EQ(ids(released.ready, log, true), ready) << where << " release " << device;
                ASSERT_EQ(ids(released.expired, log, false), expired) << where << " release " << device;
                break;
            }
            case 5:
            case 6:
                now += std::chrono::milliseconds(pick(20));
                ASSERT_EQ(ids(held.expire(now), log, false), ref.expire(now)) << where << " expire";
                break;
            case 7:
            case 8:  // time passes, and no timer has run expire() yet
                now += std::chrono::milliseconds(pick(20));
                break;
            default:
                if (pick(4) == 0) {
                    ASSERT_EQ(ids(held.take_all(), log, false), ref.take_all()) << where << " take_all";
                }
                break;
        }
        ASSERT_EQ(held.size(), ref.size()) << where;
        ASSERT_LE(held.size(), total) << where;
        for (const auto& d : devices) {
            ASSERT_EQ(held.size(d), ref.waiting.count(d) ? ref.waiting.at(d).size() : 0u)
                << where << " " << d;
            ASSERT_LE(held.size(d), per_device) << where << " " << d;
        }
        ASSERT_EQ(held.next_deadline(), ref.next_deadline()) << where;
    }
}

TEST(held_commands, matches_the_reference_model_over_random_sequences) {
    for (std::uint32_t seed = 1; seed <= 3000; ++seed) {
        run_seed(seed);
        if (HasFatalFailure()) return;
    }
}

TEST(held_commands, refuses_past_the_total_cap_and_keeps_the_count) {
    held_commands held(max_held_per_device, max_held_commands);
    std::vector<outcome> log;
    const time_point now{};
    int id = 0;
    // Enough devices to fill the total without any reaching its own bound.
    const auto devices = max_held_commands / max_held_per_device + 1;
    for (std::size_t d = 0; d + 1 < devices; ++d) {
        for (std::size_t i = 0; i < max_held_per_device; ++i) {
            ASSERT_EQ(held.hold(make(log, "dev" + std::to_string(d), now + 1s, id++)).refused,
                      held_commands::refusal::none);
        }
    }
    ASSERT_EQ(held.size(), max_held_commands);
    const auto last = "dev" + std::to_string(devices - 1);
    for (int extra = 0; extra < 50; ++extra) {
        const auto r = held.hold(make(log, last, now + 1s, id++));
        EXPECT_EQ(r.refused, held_commands::refusal::all_full);
        EXPECT_EQ(r.waiting, max_held_commands);
    }
    // A device already at its own bound says so first.
    const auto full = held.hold(make(log, "dev0", now + 1s, id++));
    EXPECT_EQ(full.refused, held_commands::refusal::device_full);
    EXPECT_EQ(full.waiting, max_held_per_device);
    EXPECT_EQ(held.size(), max_held_commands);
    EXPECT_EQ(held.size(last), 0u);
    EXPECT_TRUE(log.empty());  // a refused command is handed back unrun, for the owner to answer
    // Room again once a device is released.
    EXPECT_EQ(held.release("dev3", now).ready.size(), max_held_per_device);
    EXPECT_EQ(held.hold(make(log, last, now + 1s, id++)).refused, held_commands::refusal::none);
    EXPECT_EQ(held.size(), max_held_commands - max_held_per_device + 1);
    const auto before = held.size();
    EXPECT_EQ(held.expire(now + 1s).size(), before);
    EXPECT_EQ(held.size(), 0u);
    EXPECT_FALSE(held.next_deadline());
}

}  // namespace
}  // namespace fieldbridge::gateway

namespace fieldbridge::gateway {
namespace {

// A device back after a command's deadline, before any expire() ran: the
// command is handed back as expired, to be answered, never to be written.
TEST(held_commands, release_hands_back_a_command_past_its_deadline_as_expired) {
    held_commands held(max_held_per_device, max_held_commands);
    std::vector<outcome> log;
    const time_point start{};
    ASSERT_EQ(held.hold(make(log, "pump", start + 5s, 1)).refused, held_commands::refusal::none);
    ASSERT_EQ(held.hold(make(log, "pump", start + 9s, 2)).refused, held_commands::refusal::none);
    ASSERT_EQ(held.hold(make(log, "pump", start + 6s, 3)).refused, held_commands::refusal::none);
    // At 6 s: the first and third are due (at the deadline counts, as in expire()).
    const auto released = held.release("pump", start + 6s);
    EXPECT_EQ(ids(released.ready, log, true), std::vector<int>{2});
    EXPECT_EQ(ids(released.expired, log, false), (std::vector<int>{1, 3}));
    EXPECT_EQ(held.size(), 0u);
    EXPECT_FALSE(held.next_deadline());
}

}  // namespace
}  // namespace fieldbridge::gateway
