#include "gateway/ledger.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace fieldbridge::gateway {

std::vector<store::change> ledger_changes(const ledger& committed, std::span<const mqtt::flow_status> flows,
                                          const std::set<std::int64_t>& acknowledged,
                                          const std::set<std::int64_t>& requeued, std::uint64_t token_limit) {
    std::vector<store::change> out;
    std::set<std::int64_t> flowing;  // requeued ids the session has a flow of again
    // Every commit walks every flow in flight (a thousand or more with a
    // large mqtt.max_inflight), so each step avoids a search where it can:
    // flows are in the order they were sent, which is mostly the store's id
    // order, so the entry after the last one found is tried first; ids
    // outside the acknowledged ones' range are not looked up among them.
    auto last_found = committed.end();
    for (const auto& e : flows) {
        if (e.token >= token_limit) continue;
        const auto id = static_cast<std::int64_t>(e.token);
        if (!acknowledged.empty() && id >= *acknowledged.begin() && id <= *acknowledged.rbegin() &&
            acknowledged.count(id)) {
            continue;
        }
        if (!requeued.empty() && requeued.count(id)) flowing.insert(id);
        const ledger_flow now{e.state == mqtt::inflight_state::pubrec_received ? store::flow_state::pubrec
                                                                               : store::flow_state::sent,
                              e.packet_id, e.dup};
        auto it = last_found == committed.end() ? committed.end() : std::next(last_found);
        if (it == committed.end() || it->first != id) it = committed.find(id);
        if (it != committed.end()) last_found = it;
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

namespace {

bool id_less(const ledger::value_type& e, std::int64_t id) { return e.first < id; }

}  // namespace

ledger::ledger(std::initializer_list<value_type> entries) {
    // Of entries with the same id the first counts, as in a std::map.
    for (const auto& [id, flow] : entries) {
        const auto it = std::lower_bound(entries_.begin(), entries_.end(), id, id_less);
        if (it == entries_.end() || it->first != id) entries_.emplace(it, id, flow);
    }
}

ledger::const_iterator ledger::find(std::int64_t id) const {
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), id, id_less);
    return it != entries_.end() && it->first == id ? it : entries_.end();
}

const ledger_flow& ledger::at(std::int64_t id) const {
    const auto it = find(id);
    if (it == end()) throw std::out_of_range("ledger: no entry for id " + std::to_string(id));
    return it->second;
}

ledger_flow& ledger::operator[](std::int64_t id) {
    // New flows are the newest ids, mostly: appended.
    if (entries_.empty() || entries_.back().first < id) return entries_.emplace_back(id, ledger_flow{}).second;
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), id, id_less);
    if (it != entries_.end() && it->first == id) return it->second;
    return entries_.emplace(it, id, ledger_flow{})->second;
}

void ledger::erase(std::vector<std::int64_t> ids) {
    if (ids.empty()) return;
    std::sort(ids.begin(), ids.end());
    // One pass, however many go: acknowledgements take entries from the
    // front, where a removal each would move every other entry.
    std::erase_if(entries_, [&](const value_type& e) { return std::binary_search(ids.begin(), ids.end(), e.first); });
}

void ledger_commit(ledger& committed, std::span<const store::change> changes) {
    // Removals wait for the end, to be done in one pass; an id recorded again
    // after its removal (not what ledger_changes makes) starts from absent.
    std::vector<std::int64_t> gone;
    const auto entry = [&](std::int64_t id) -> ledger_flow& {
        auto& flow = committed[id];
        if (!gone.empty() && std::erase(gone, id) > 0) flow = ledger_flow{};
        return flow;
    };
    for (const auto& c : changes) {
        switch (c.what) {
            case store::change::kind::sent:
                entry(c.id) = ledger_flow{store::flow_state::sent, c.packet_id, c.dup};
                break;
            case store::change::kind::pubrec:
                entry(c.id).state = store::flow_state::pubrec;
                break;
            case store::change::kind::done:
            case store::change::kind::requeue:
                gone.push_back(c.id);
                break;
        }
    }
    committed.erase(std::move(gone));
}

}  // namespace fieldbridge::gateway
