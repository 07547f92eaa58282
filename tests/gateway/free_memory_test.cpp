// release_free_memory: the pages of freed blocks that the allocator would
// keep (freed blocks between blocks still in use, which it cannot give back
// by shrinking the heap) leave the process's resident memory.
#include <cstddef>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/free_memory.hpp"

namespace fieldbridge::gateway {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool own_allocator = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool own_allocator = false;
#else
constexpr bool own_allocator = true;
#endif
#else
constexpr bool own_allocator = true;
#endif

// Anonymous resident memory of this process, in kB (/proc/self/status).
long resident_anonymous_kb() {
    std::ifstream in("/proc/self/status");
    for (std::string key; in >> key;) {
        if (key == "RssAnon:") {
            long kb = 0;
            in >> kb;
            return kb;
        }
        std::getline(in, key);
    }
    return -1;
}

TEST(free_memory, freed_blocks_between_live_ones_leave_the_resident_memory) {
    if (!own_allocator) GTEST_SKIP() << "a sanitizer's allocator replaces the C library's here";
    constexpr std::size_t block = 1024;
    constexpr std::size_t blocks = 64 * 1024;  // 64 MiB in small blocks, each below the allocator's mmap threshold
    std::vector<std::unique_ptr<char[]>> heap(blocks);
    for (auto& b : heap) {
        b = std::make_unique<char[]>(block);
        b[0] = 1;
        b[block - 1] = 1;
    }
    // Every 64th block stays: 63 KiB free around each, none at the top of the heap.
    for (std::size_t i = 0; i < blocks; ++i) {
        if (i % 64 != 63) heap[i].reset();
    }
    const long before = resident_anonymous_kb();
    ASSERT_GT(before, 0);
    EXPECT_TRUE(release_free_memory());
    const long after = resident_anonymous_kb();
    EXPECT_LT(after, before - 40 * 1024) << "RssAnon " << before << " kB before, " << after << " kB after";
}

}  // namespace
}  // namespace fieldbridge::gateway
