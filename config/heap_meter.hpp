// How much memory a configuration load has taken: what the YAML parser
// reads against its bound (limits::max_parse_heap_bytes) while it parses,
// since yaml-cpp's memory is out of reach of any count of ours.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>

namespace fieldbridge::config {

// Bytes the process has grown by since the meter was made; an empty meter
// where the process's memory cannot be read (a bound read on it is then not
// enforced).
using heap_meter = std::function<std::size_t()>;

// The process's anonymous memory, in memory or swapped out (RssAnon +
// VmSwap of /proc/self/status), or in a sanitized build what the
// sanitizer's allocator has handed out; nullopt where it cannot be read.
// All threads together; freed memory the process still holds is reused
// before it grows.
std::optional<std::size_t> process_memory_in_use() noexcept;

// A meter of growth from now on (a reading that fails counts as none), or
// an empty one where the process's memory cannot be read now.
heap_meter growth_from_now();

}  // namespace fieldbridge::config
