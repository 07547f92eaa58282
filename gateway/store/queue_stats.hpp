// What the queue holds and what it did: depth, and counters since the store
// was opened. Plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace fieldbridge::store {

struct counters {
    std::uint64_t appended = 0;
    std::uint64_t completed = 0;
    std::uint64_t dropped_by_rows = 0;
    std::uint64_t dropped_by_bytes = 0;
    std::uint64_t dropped_by_age = 0;
    std::uint64_t refused = 0;     // refuse_new policy or a full disk
    std::uint64_t disk_full = 0;   // batches that hit SQLITE_FULL
    std::uint64_t commits = 0;
    // Appended with append_uncommitted(), then lost because the commit that was to
    // carry them failed (disk full, I/O error).
    std::uint64_t lost_uncommitted = 0;

    bool operator==(const counters&) const = default;
};

struct queue_stats {
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;
    std::optional<std::chrono::system_clock::time_point> oldest;

    bool operator==(const queue_stats&) const = default;
};

}  // namespace fieldbridge::store
