// The forwarder's ledger: where the store has each message's MQTT flow
// (packet id, PUBLISH sent, PUBREC received, DUP), and the pure diff from
// there to where the session stands now. Plain data and functions, no I/O.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <utility>
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

// Store id -> flow state as committed, in id order. An id absent is queued
// (or gone). Every commit looks up every flow in flight in it (a thousand
// or more with a large mqtt.max_inflight), mostly in id order, and new
// flows come at the end: entries side by side in one vector, so that such
// a walk reads memory in order instead of chasing a tree's nodes.
class ledger {
public:
    using value_type = std::pair<std::int64_t, ledger_flow>;
    using const_iterator = std::vector<value_type>::const_iterator;

    ledger() = default;
    ledger(std::initializer_list<value_type> entries);

    const_iterator begin() const noexcept { return entries_.begin(); }
    const_iterator end() const noexcept { return entries_.end(); }
    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    const_iterator find(std::int64_t id) const;
    // Throws std::out_of_range for an id absent.
    const ledger_flow& at(std::int64_t id) const;
    // The entry of `id`, made queued if it was absent.
    ledger_flow& operator[](std::int64_t id);
    // Removes the entries of these ids (in any order; absent ones ignored).
    void erase(std::vector<std::int64_t> ids);
    void clear() noexcept { entries_.clear(); }

private:
    std::vector<value_type> entries_;  // ascending ids
};

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
