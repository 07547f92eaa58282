#include "gateway/ledger.hpp"

namespace fieldbridge::gateway {

std::vector<store::change> ledger_changes(const ledger& committed, std::span<const mqtt::flow_status> flows,
                                          const std::set<std::int64_t>& acknowledged, std::uint64_t token_limit) {
    std::vector<store::change> out;
    for (const auto& e : flows) {
        if (e.token >= token_limit) continue;
        const auto id = static_cast<std::int64_t>(e.token);
        if (acknowledged.count(id)) continue;
        const ledger_flow now{e.state == mqtt::inflight_state::pubrec_received ? store::flow_state::pubrec
                                                                               : store::flow_state::sent,
                              e.packet_id, e.dup};
        const auto it = committed.find(id);
        const ledger_flow before = it == committed.end() ? ledger_flow{} : it->second;
        if (before == now) continue;
        // The packet id and DUP are recorded with "sent"; a flow that moved
        // on to PUBREC in the same turn records both steps.
        if (before.state == store::flow_state::queued || before.packet_id != now.packet_id || before.dup != now.dup) {
            out.push_back(store::change{store::change::kind::sent, id, now.packet_id, now.dup});
        }
        if (now.state == store::flow_state::pubrec) out.push_back(store::change{store::change::kind::pubrec, id});
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
