// The forwarder's ledger diff: what the store must record before a write.
#include "gateway/ledger.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fieldbridge::gateway
