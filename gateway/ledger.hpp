// The forwarder's ledger: where the store has each message's MQTT flow
// (packet id, PUBLISH sent, PUBREC received, DUP), and the pure diff from
// there to where the session stands now. Plain data and functions, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "gateway/store/flow.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge::gateway {

struct ledger_flow {
    store::flow_state state = store::flow_state::queued;
    std::uint16_t packet_id = 0;
    bool dup = false;
    bool operator==(const ledger_flow&) const = default;
};

// Store id -> flow state as committed. An id absent is queued (or gone).
using ledger = std::map<std::int64_t, ledger_flow>;

// The changes that bring the store from `committed` to the session's
// `flows` (tokens below token_limit are store ids; others are not the
// ledger's), record the `requeued` messages the session holds no flow of as
// to be sent again as new messages (sent, packet id 0: their flow ended
// without an acknowledgement, because the broker had no session for it or
// refused it for now), and delete the `acknowledged` messages, in that order.
std::vector<store::change> ledger_changes(const ledger& committed, std::span<const mqtt::flow_status> flows,
                                          const std::set<std::int64_t>& acknowledged,
                                          const std::set<std::int64_t>& requeued, std::uint64_t token_limit);

// What the store holds once `changes` are committed.
void ledger_commit(ledger& committed, std::span<const store::change> changes);

}  // namespace fieldbridge::gateway
