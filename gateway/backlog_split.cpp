#include "gateway/backlog_split.hpp"

#include <algorithm>

namespace fieldbridge::gateway {

store::lane_state split_backlog(const store::lane_state& last, std::int64_t last_id,
                                std::span<const store::lane_row> last_fresh,
                                const std::unordered_map<std::string, std::int64_t>& latest,
                                std::span<const std::int64_t> in_flight) {
    store::lane_state next;
    next.boundary = std::max(last.boundary, last_id);
    // Live rows above the last boundary: the latest of each topic stays live.
    for (const auto& [topic, id] : latest) {
        if (id > last.boundary && id <= next.boundary) next.fresh.push_back(id);
    }
    // A fresh row of the last split stays fresh unless a newer row of its
    // topic came since, or it is on the wire already.
    for (const auto& row : last_fresh) {
        if (last.historical(row.id)) continue;
        const auto newer = latest.find(row.topic);
        if (row.in_flight || newer == latest.end() || newer->second <= row.id) next.fresh.push_back(row.id);
    }
    // Live rows on the wire keep being live.
    for (const auto id : in_flight) {
        if (id > last.boundary && id <= next.boundary) next.fresh.push_back(id);
    }
    std::sort(next.fresh.begin(), next.fresh.end());
    next.fresh.erase(std::unique(next.fresh.begin(), next.fresh.end()), next.fresh.end());
    return next;
}

}  // namespace fieldbridge::gateway
