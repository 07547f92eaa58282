// How a store is opened: file, durability, limits and drop policy. Plain
// values, no thread-safety concerns.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>

namespace fieldbridge::store {

// PRAGMA synchronous: FULL survives a power cut at any instant; NORMAL in WAL
// mode survives a process crash but may lose the last commits on power loss.
enum class durability { full, normal };

enum class drop_policy {
    drop_oldest,      // evict the oldest messages, whatever their QoS
    drop_qos0_first,  // evict the oldest QoS 0 messages first, then the oldest others
    refuse_new,       // keep what is stored; new messages are refused (counted)
};

struct limits {
    std::uint64_t max_rows = 1'000'000;
    std::uint64_t max_bytes = 256ull * 1024 * 1024;  // topic + payload bytes
    std::chrono::seconds max_age{7 * 24 * 3600};     // 0 = no age limit
};

struct options {
    std::filesystem::path path;
    store::durability durability = durability::full;
    store::limits limits;
    store::drop_policy policy = drop_policy::drop_qos0_first;
    // SQLite page cache of the connection, in KiB (PRAGMA cache_size): set,
    // not left to the library's default, so the store's memory is known.
    std::uint32_t cache_kib = 2048;
    // Each transaction's write-ahead log frames written with one call
    // (wal_batching_vfs.hpp); false: SQLite's default VFS, for comparison
    // (bench/store_commit.cpp).
    bool gather_log_writes = true;
    // Fault injection for tests of the callers' failure paths: when set and
    // it returns true, a COMMIT fails as an I/O error would (rolled back).
    std::function<bool()> fail_commit;
};

}  // namespace fieldbridge::store
