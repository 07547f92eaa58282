// Memory the gateway no longer uses, given back to the system. The C
// library keeps the pages of what the program frees for its next
// allocations; after a burst (the first value of every point at start, a
// large status answer, a backlog loaded from the store) they stay resident
// although nothing uses them. And the code and constants that only starting
// ran (reading the configuration, the YAML parser, opening the store,
// connecting) stay mapped, with the neighbours the kernel maps around every
// page touched. An adapter over glibc's malloc_trim and madvise.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fieldbridge::gateway {

inline constexpr std::chrono::seconds release_interval{10};

// Gives the pages of freed heap memory back to the system (every arena of
// the allocator, not only the top of the heap). Whether any were given back.
bool release_free_memory();

// A range of addresses where a file is mapped.
struct mapped_range {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
};

// From the text of /proc/self/smaps: the private read-only mappings of
// files (code, constants) none of whose pages the process has written
// (no anonymous page: relocated data is skipped). Their pages can leave the
// process and come back from the file as they are used again.
std::vector<mapped_range> unwritten_file_mappings(std::string_view smaps);

// Unmaps the resident pages of those mappings of this process; the pages
// stay in the page cache and are mapped again when the code runs. The kB of
// resident file pages before and after (/proc/self/status RssFile).
struct code_release {
    long before_kb = -1;
    long after_kb = -1;
};
code_release release_mapped_code();

// Called by the core: after a start or a reload, and every
// release_interval.
class memory_release {
public:
    // Freed heap now, and the code used only for starting at the next tick
    // (the connection to the broker and the first polls come in between).
    void after_load();
    void tick();

private:
    bool code_pending_ = false;
};

}  // namespace fieldbridge::gateway
