// The store's side of store.order: fresh_first: the last split (lane_state:
// the boundary in `counters`, the fresh rows in `fresh_rows`) and the
// queries that read each lane in id order.
//
// Not thread-safe: one owner (the store). Keeps a reference to the database,
// which must outlive it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store/lane_state.hpp"
#include "gateway/store/stored_message.hpp"

namespace fieldbridge::store {

class lane_table {
public:
    explicit lane_table(database& db) : db_(db) {}

    // The last split, as committed; boundary 0 and no fresh rows when none was.
    result<lane_state> load();
    // Replaces the split and commits everything open.
    result<void> save(const lane_state& lanes);

    // The fresh rows of `lanes` still stored, with their topic.
    result<std::vector<lane_row>> fresh_rows();
    // Whether every one of these rows is still stored (a lookup each).
    result<bool> all_stored(std::span<const std::int64_t> ids);
    // The highest id of each topic among the rows above `after` (a scan of them).
    result<std::vector<std::pair<std::string, std::int64_t>>> latest_by_topic(std::int64_t after);

    // Up to `limit` rows with id > after that are not historical, in id order.
    result<std::vector<stored_message>> load_live(const lane_state& lanes, std::int64_t after, std::size_t limit);
    // Up to `limit` historical rows with id > after, in id order.
    result<std::vector<stored_message>> load_historical(const lane_state& lanes, std::int64_t after,
                                                        std::size_t limit);

private:
    database& db_;
};

}  // namespace fieldbridge::store
