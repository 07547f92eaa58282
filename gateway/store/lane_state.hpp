// How store.order: fresh_first split the queue the last time the link came
// back with a backlog. Rows up to `boundary` were stored then; of them, the
// ones in `fresh` (the latest of each topic, and those already in flight)
// go out with the live messages, the others are historical: they leave
// after every live message, marked as such. Rows above the boundary are
// live. Plain value type.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fieldbridge::store {

struct lane_state {
    std::int64_t boundary = 0;
    std::vector<std::int64_t> fresh;  // ascending, all <= boundary

    bool historical(std::int64_t id) const {
        return id <= boundary && !std::binary_search(fresh.begin(), fresh.end(), id);
    }
    bool operator==(const lane_state&) const = default;
};

// A stored row the split looks at again: one of the last split's fresh rows.
struct lane_row {
    std::int64_t id = 0;
    std::string topic;
    bool in_flight = false;  // PUBLISH sent: its bytes, and so its marking, are fixed
};

}  // namespace fieldbridge::store
