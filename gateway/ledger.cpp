#include "gateway/ledger.hpp"

namespace fieldbridge::gateway {

std::vector<store::change> ledger_changes(const ledger& committed, std::span<const mqtt::flow_status> flows,
                                          const std::set<std::int64_t>& acknowledged,
                                          const std::set<std::int64_t>& requeued, std::uint64_t token_limit) {
    std::vector<store::change> out;
    std::set<std::int64_t> flowing;  // requeued ids the session has a flow of again
    for (const auto& e : flows) {
        if (e.token >= token_limit) continue;
        const auto id = static_cast<std::int64_t>(e.token);
        if (acknowledged.count(id)) continue;
        if (requeued.count(id)) flowing.insert(id);
        const ledger_flow now{e.state == mqtt::inflight_state::pubrec_received ? store::flow_state::pubrec
                                                                               : store::flow_state::sent,
                              e.packet_id, e.dup};
        const auto it = committed.find(id);
        const ledger_flow before = it == committed.end() ? ledger_flow{} : it->second;
        if (before == now) continue;
        // The packet id and DUP are recorded with "sent"; a flow that moved
        // on to PUBREC in the same turn records both steps. A flow at PUBLISH
        // sent where the store has PUBREC started again (possibly on the
        // same packet id): "sent" takes the PUBREC back.
        if (before.state == store::flow_state::queued || before.packet_id != now.packet_id || before.dup != now.dup ||
            (before.state == store::flow_state::pubrec && now.state == store::flow_state::sent)) {
            out.push_back(store::change{store::change::kind::sent, id, now.packet_id, now.dup});
        }
        if (now.state == store::flow_state::pubrec) out.push_back(store::change{store::change::kind::pubrec, id});
    }
    // A flow the session gave up without an acknowledgement and holds no
    // more: the store must not resume it as it was (a PUBREL would end it
    // unpublished on a broker session that never had it). It is recorded as
    // sent without a packet id: a restart or a resync leaves it stored, to be
    // sent again as a new message by a refill, and it stays in flight for the
    // lanes, so that it keeps the marking it was first sent with
    // (backlog_split); "requeue" (state queued) would lose that.
    const ledger_flow restart{store::flow_state::sent, 0, false};
    for (const auto id : requeued) {
        if (flowing.count(id) || acknowledged.count(id)) continue;
        const auto it = committed.find(id);
        if (it == committed.end() || it->second == restart) continue;
        out.push_back(store::change{store::change::kind::sent, id, 0, false});
    }
    for (const auto id : acknowledged) out.push_back(store::change{store::change::kind::done, id});
    return out;
}

void ledger_commit(ledger& committed, std::span<const store::change> changes) {
    for (const auto& c : changes) {
        switch (c.what) {
            case store::change::kind::sent:
                committed[c.id] = ledger_flow{store::flow_state::sent, c.packet_id, c.dup};
                break;
            case store::change::kind::pubrec:
                committed[c.id].state = store::flow_state::pubrec;
                break;
            case store::change::kind::done:
            case store::change::kind::requeue:
                committed.erase(c.id);
                break;
        }
    }
}

}  // namespace fieldbridge::gateway
