// The forwarder's ledger diff: what the store must record before a write.
#include "gateway/ledger.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "mqtt/token.hpp"

namespace fieldbridge::gateway {
namespace {

using kind = store::change::kind;
constexpr std::uint64_t limit = mqtt::client_token_base;  // store ids stay below it

mqtt::flow_status flow(std::uint64_t id, std::uint16_t pid, bool pubrec = false, bool dup = false) {
    return {id, pid, pubrec ? mqtt::inflight_state::pubrec_received : mqtt::inflight_state::publish_sent, dup};
}

TEST(ledger, a_new_flow_is_recorded_sent_and_a_flow_past_pubrec_both_steps) {
    const ledger none;
    const std::vector<mqtt::flow_status> flows{flow(1, 10), flow(2, 11, true)};
    const auto c = ledger_changes(none, flows, {}, {}, limit);
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].what, kind::sent);
    EXPECT_EQ(c[0].packet_id, 10);
    EXPECT_EQ(c[1].what, kind::sent);
    EXPECT_EQ(c[2].what, kind::pubrec);
    EXPECT_EQ(c[2].id, 2);
}

TEST(ledger, an_unchanged_flow_costs_nothing_and_a_new_packet_id_or_dup_is_recorded) {
    ledger committed{{1, {store::flow_state::sent, 10, false}}, {2, {store::flow_state::pubrec, 11, false}}};
    EXPECT_TRUE(ledger_changes(committed, std::vector{flow(1, 10), flow(2, 11, true)}, {}, {}, limit).empty());
    const auto c = ledger_changes(committed, std::vector{flow(1, 12), flow(2, 11, true, true)}, {}, {}, limit);
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].what, kind::sent);
    EXPECT_EQ(c[0].packet_id, 12);
    EXPECT_EQ(c[1].what, kind::sent);
    EXPECT_TRUE(c[1].dup);
    EXPECT_EQ(c[2].what, kind::pubrec);
}

TEST(ledger, acknowledged_messages_are_deleted_and_other_tokens_ignored) {
    ledger committed{{1, {store::flow_state::sent, 10, false}}};
    const auto c = ledger_changes(committed, std::vector{flow(1, 10), flow(limit + 5, 20)}, {1, 7}, {}, limit);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].what, kind::done);
    EXPECT_EQ(c[0].id, 1);
    EXPECT_EQ(c[1].id, 7);
    ledger_commit(committed, c);
    EXPECT_TRUE(committed.empty());
}

TEST(ledger, commit_applies_what_the_store_recorded) {
    ledger committed;
    ledger_commit(committed, ledger_changes(committed, std::vector{flow(3, 9, true, true)}, {}, {}, limit));
    EXPECT_EQ(committed.at(3), (ledger_flow{store::flow_state::pubrec, 9, true}));
}

// The ledger is a sorted vector; a std::map is the reference it must match.
// Random flows (ids in any order, in and out of the ledger), acknowledgements
// and requeued ids, diffed and committed turn after turn; and change lists in
// any order (an id removed, then recorded again in the same commit). After
// each diff's commit the ledger says what the session's flows say.
using reference = std::map<std::int64_t, ledger_flow>;

void commit_reference(reference& r, std::span<const store::change> changes) {
    for (const auto& c : changes) {
        switch (c.what) {
            case kind::sent: r[c.id] = ledger_flow{store::flow_state::sent, c.packet_id, c.dup}; break;
            case kind::pubrec: r[c.id].state = store::flow_state::pubrec; break;
            case kind::done:
            case kind::requeue: r.erase(c.id); break;
        }
    }
}

void expect_same(const ledger& l, const reference& r, const std::string& context) {
    ASSERT_EQ(l.size(), r.size()) << context;
    auto it = r.begin();
    for (const auto& [id, f] : l) {
        ASSERT_EQ(id, it->first) << context;
        ASSERT_EQ(f, it->second) << context << ", id " << id;
        ASSERT_EQ(l.find(id)->second, f) << context;
        ++it;
    }
}

TEST(ledger, a_sorted_vector_matches_a_map_over_random_turns) {
    const auto seeds = 2000;
    for (unsigned seed = 1; seed <= seeds; ++seed) {
        std::mt19937 rng(seed);
        const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
        ledger l;
        reference r;
        for (int turn = 0; turn < 30; ++turn) {
            const auto context = "seed " + std::to_string(seed) + ", turn " + std::to_string(turn);
            // The session's flows, a token each: mostly ascending ids near
            // the ledger's newest, some older, and tokens not the ledger's.
            std::vector<mqtt::flow_status> flows;
            std::set<std::uint64_t> tokens;
            const int base = turn * 5;
            for (int n = pick(12); n > 0; --n) {
                const auto id = static_cast<std::uint64_t>(pick(4) == 0 ? pick(base + 10) : base + pick(10));
                const auto token = pick(10) == 0 ? limit + id : id;
                if (!tokens.insert(token).second) continue;
                flows.push_back(flow(token, static_cast<std::uint16_t>(1 + pick(3)), pick(3) == 0, pick(4) == 0));
            }
            std::set<std::int64_t> acknowledged;
            std::set<std::int64_t> requeued;
            for (int n = pick(5); n > 0; --n) acknowledged.insert(pick(base + 10));
            for (int n = pick(3); n > 0; --n) requeued.insert(pick(base + 10));
            const auto changes = ledger_changes(l, flows, acknowledged, requeued, limit);
            ledger_commit(l, changes);
            commit_reference(r, changes);
            expect_same(l, r, context);
            for (const auto& f : flows) {
                const auto id = static_cast<std::int64_t>(f.token);
                if (f.token >= limit || acknowledged.count(id)) continue;
                const ledger_flow now{f.state == mqtt::inflight_state::pubrec_received ? store::flow_state::pubrec
                                                                                       : store::flow_state::sent,
                                      f.packet_id, f.dup};
                ASSERT_NE(l.find(id), l.end()) << context << ", flow " << id;
                ASSERT_EQ(l.at(id), now) << context << ", flow " << id;
            }
            for (const auto id : acknowledged) ASSERT_EQ(l.find(id), l.end()) << context << ", acknowledged " << id;
            for (const auto id : requeued) {
                if (acknowledged.count(id) || tokens.count(static_cast<std::uint64_t>(id))) continue;
                const auto it = l.find(id);
                ASSERT_TRUE(it == l.end() || it->second == (ledger_flow{store::flow_state::sent, 0, false}))
                    << context << ", requeued " << id;
            }
            // A change list in any order, as ledger_commit takes any.
            std::vector<store::change> shuffled;
            for (int n = pick(8); n > 0; --n) {
                const auto id = static_cast<std::int64_t>(pick(base + 12));
                const auto what = static_cast<kind>(pick(4));
                shuffled.push_back(store::change{what, id, static_cast<std::uint16_t>(pick(4)), pick(2) == 0});
            }
            ledger_commit(l, shuffled);
            commit_reference(r, shuffled);
            expect_same(l, r, context + ", any order");
        }
    }
}

TEST(ledger, lookups_and_removals_keep_ids_in_order) {
    ledger l{{5, {store::flow_state::sent, 1, false}}, {2, {store::flow_state::pubrec, 2, true}}};
    l[9].packet_id = 3;
    l[4].packet_id = 4;  // between two
    std::vector<std::int64_t> ids;
    for (const auto& [id, f] : l) ids.push_back(id);
    EXPECT_EQ(ids, (std::vector<std::int64_t>{2, 4, 5, 9}));
    EXPECT_EQ(l.at(2), (ledger_flow{store::flow_state::pubrec, 2, true}));
    EXPECT_EQ(l.at(4), (ledger_flow{store::flow_state::queued, 4, false}));
    EXPECT_THROW((void)l.at(3), std::out_of_range);
    EXPECT_EQ(l.find(3), l.end());
    l.erase({9, 3, 2, 2});
    ids.clear();
    for (const auto& [id, f] : l) ids.push_back(id);
    EXPECT_EQ(ids, (std::vector<std::int64_t>{4, 5}));
    // Of two entries with one id the first counts, as in a std::map.
    const ledger twice{{1, {store::flow_state::sent, 1, false}}, {1, {store::flow_state::pubrec, 2, true}}};
    EXPECT_EQ(twice.size(), 1u);
    EXPECT_EQ(twice.at(1), (ledger_flow{store::flow_state::sent, 1, false}));
}

}  // namespace
}  // namespace fieldbridge::gateway
