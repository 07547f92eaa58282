// store.order: fresh_first: how the queue is split when the link comes back
// with a backlog. Of the rows stored up to then (up to the new boundary),
// the latest of each topic stays live and goes out first, with the live
// rows that follow; the older ones become historical and leave after every
// live row, marked. Once historical, a row stays so; once on the wire (in
// flight), a row keeps the marking it was sent with, since its bytes are
// fixed until the broker acknowledges it. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "gateway/store/lane_state.hpp"

namespace fieldbridge::gateway {

// last: the split before; last_id: the highest stored id (the new
// boundary); last_fresh: the rows of last.fresh still stored; latest: the
// highest id of each topic among the rows stored above last.boundary;
// in_flight: ids of rows in flight (any order).
store::lane_state split_backlog(const store::lane_state& last, std::int64_t last_id,
                                std::span<const store::lane_row> last_fresh,
                                const std::unordered_map<std::string, std::int64_t>& latest,
                                std::span<const std::int64_t> in_flight);

}  // namespace fieldbridge::gateway
