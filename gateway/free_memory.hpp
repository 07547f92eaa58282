// Freed heap memory given back to the system. The C library keeps the
// pages of what the program frees for its next allocations; after a burst
// (the first value of every point at start, a large status answer, a
// backlog loaded from the store) they stay resident although nothing uses
// them. The core gives them back every release_interval. An adapter over
// glibc's malloc_trim.
#pragma once

#include <chrono>

namespace fieldbridge::gateway {

inline constexpr std::chrono::seconds release_interval{10};

// Gives the pages of freed heap memory back to the system (every arena of
// the allocator, not only the top of the heap). Whether any were given back.
bool release_free_memory();

}  // namespace fieldbridge::gateway
