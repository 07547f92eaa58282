// The forwarder's two lanes, store.order: fresh_first (forwarder.hpp,
// "Order"): the split of a backlog when the link comes back, the lane a
// refill reads, and the mark a historical row gets as it is handed over.
#include "gateway/forwarder.hpp"

#include <spdlog/spdlog.h>

#include "gateway/backlog_split.hpp"

namespace fieldbridge::gateway {
namespace {

std::uint64_t dropped(const store::counters& c) { return c.dropped_by_rows + c.dropped_by_bytes + c.dropped_by_age; }

}  // namespace

result<std::vector<store::stored_message>> forwarder::load_lane(bool historical, std::size_t want) {
    if (!fresh_first()) return store_.load(cursor_, want);
    if (historical) return store_.load_historical(lanes_, historical_cursor_, want);
    return store_.load_live(lanes_, cursor_, want);
}

result<void> forwarder::reload_latest() {
    auto latest = store_.latest_by_topic(lanes_.boundary);
    if (!latest) return fail(latest.error());
    latest_.clear();
    for (auto& [topic, id] : *latest) latest_[std::move(topic)] = id;
    dropped_seen_ = dropped(store_.counters());
    return {};
}

void forwarder::mark_if_historical(mqtt::message& m, std::int64_t id) {
    if (!lanes_.historical(id)) return;
    if (mark_) {
        mark_(m);
    } else {
        m.retain = false;
    }
}

void forwarder::split_backlog() {
    if (latest_.empty()) return;  // nothing stored since the last split
    if (store_.uncommitted()) {
        if (auto r = store_.flush(); !r) return store_failed("cannot commit stored messages", r.error());
    }
    // The drop policy may have taken a topic's latest row: then the rows are
    // read again (one scan of those above the boundary; a full queue only).
    if (dropped(store_.counters()) != dropped_seen_) {
        if (auto r = reload_latest(); !r) {
            spdlog::error("queue: cannot read the queue to put the latest values first: {}", r.error().message());
            check_damage(r.error());
            return;
        }
    }
    auto last = store_.last_id();
    auto rows = store_.fresh_rows();
    if (!last || !rows) {
        spdlog::error("queue: cannot read the queue to put the latest values first: {}",
                      (last ? rows.error() : last.error()).message());
        check_damage(last ? rows.error() : last.error());
        return;
    }
    std::vector<std::int64_t> in_flight;
    in_flight.reserve(committed_.size());
    for (const auto& [id, flow] : committed_) in_flight.push_back(id);
    auto next = gateway::split_backlog(lanes_, *last, *rows, latest_, in_flight);
    if (auto r = store_.set_lanes(next); !r) {
        // The rows stored since go out as live ones, in production order.
        spdlog::error("queue: cannot record which stored messages are historical: {}", r.error().message());
        check_damage(r.error());
        return;
    }
    lanes_ = std::move(next);
    std::erase_if(latest_, [&](const auto& e) { return e.second <= lanes_.boundary; });
    cursor_ = 0;
    historical_cursor_ = 0;
    ++stats_.splits;
    spdlog::info("queue: link back with {} message(s) stored: the latest of each topic first, the older ones behind "
                 "the live ones, marked historical",
                 store_.stats().rows);
}

}  // namespace fieldbridge::gateway
