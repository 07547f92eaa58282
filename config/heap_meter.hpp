// How much memory the process has taken: what the configuration parser
// reads against its bound (limits::max_parse_heap_bytes) while it parses,
// since yaml-cpp's memory is out of reach of any count of ours.
#pragma once

#include <cstddef>
#include <functional>

namespace fieldbridge::config {

// Bytes in use, all threads together; a reader compares two readings, never
// one against a constant.
using heap_meter = std::function<std::size_t()>;

// The process's anonymous pages in memory (/proc/self/statm), or in a
// sanitized build what the sanitizer's allocator has handed out; 0 always
// where neither can be read (a bound read on it is then not enforced).
// Freed memory the process still holds is reused before it grows: the
// reading bounds growth past what the process had held.
std::size_t process_heap_in_use() noexcept;

}  // namespace fieldbridge::config
