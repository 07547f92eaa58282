#include "gateway/counter_floors.hpp"

#include <algorithm>

namespace fieldbridge::gateway {
namespace {

void raise(std::uint64_t& highest, std::uint64_t& count) {
    highest = std::max(highest, count);
    count = highest;
}

}  // namespace

status_snapshot counter_floors::raised(status_snapshot s) {
    raise(published_, s.broker.client.published);
    raise(delivered_, s.queue.forwarded.delivered);
    raise(historical_, s.queue.forwarded.historical);
    raise(dropped_by_rows_, s.queue.counters.dropped_by_rows);
    raise(dropped_by_bytes_, s.queue.counters.dropped_by_bytes);
    raise(dropped_by_age_, s.queue.counters.dropped_by_age);
    return s;
}

}  // namespace fieldbridge::gateway
