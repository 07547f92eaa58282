// Device memory: the reads devices refused with exception 2 (a span over
// registers they lack, table `refused_reads`), so that a restart reads them
// in parts from the first poll instead of being refused again.
//
// Not thread-safe: one owner (the store). Keeps a reference to the database,
// which must outlive it.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store/refused_read.hpp"

namespace fieldbridge::store {

class device_memory {
public:
    explicit device_memory(database& db) : db_(db) {}

    // Every refused read kept, ordered by device, function, start, count.
    result<std::vector<refused_read>> refused_reads();
    // Keeps r (once) and commits everything open.
    result<void> add(const refused_read& r);
    // Drops what is kept for a device and commits everything open.
    result<void> forget(const std::string& device);

private:
    database& db_;
};

}  // namespace fieldbridge::store
