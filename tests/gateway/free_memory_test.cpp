// release_free_memory: the pages of freed blocks that the allocator would
// keep (freed blocks between blocks still in use, which it cannot give back
// by shrinking the heap) leave the process's resident memory.
// release_mapped_code: the pages of code and constants leave it too, and
// nothing the process wrote (its data, relocated tables) changes.
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

// Resident memory of this process of one kind, in kB (/proc/self/status).
long resident_kb(const std::string& kind) {
    std::ifstream in("/proc/self/status");
    for (std::string key; in >> key;) {
        if (key == kind) {
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
    const long before = resident_kb("RssAnon:");
    ASSERT_GT(before, 0);
    EXPECT_TRUE(release_free_memory());
    const long after = resident_kb("RssAnon:");
    EXPECT_LT(after, before - 40 * 1024) << "RssAnon " << before << " kB before, " << after << " kB after";
}

// A smaps entry: its first line, then the fields the parser reads.
std::string entry(const std::string& first_line, const std::string& anonymous_kb) {
    std::string out = first_line + "\nSize:                 64 kB\nRss:                  16 kB\n";
    if (!anonymous_kb.empty()) out += "Anonymous:         " + anonymous_kb + " kB\n";
    return out + "VmFlags: rd mr mw me sd\n";
}

TEST(free_memory, only_read_only_private_file_mappings_without_written_pages_are_released) {
    const std::string smaps =
        entry("55d0c0a00000-55d0c0a2a000 r--p 00000000 fd:01 1234    /usr/bin/fieldbridge", "0") +       // constants
        entry("55d0c0a2a000-55d0c0b00000 r-xp 0002a000 fd:01 1234    /usr/bin/fieldbridge", "0") +       // code
        entry("55d0c0b00000-55d0c0b10000 r--p 00100000 fd:01 1234    /usr/bin/fieldbridge", "8") +       // relocated (RELRO)
        entry("55d0c0b10000-55d0c0b12000 rw-p 00110000 fd:01 1234    /usr/bin/fieldbridge", "0") +       // data
        entry("55d0c0b12000-55d0c0b20000 rw-p 00000000 00:00 0 ", "56") +                                // bss
        entry("55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0       [heap]", "1024") +
        entry("7f0000000000-7f0000001000 r--s 00000000 fd:01 99      /var/lib/fieldbridge/shm", "0") +   // shared
        entry("7f0000001000-7f0000002000 r-xp 00000000 fd:01 77      /usr/lib/old.so (deleted)", "0") +  // replaced
        entry("7f0000002000-7f0000003000 r-xp 00000000 fd:01 78      /usr/lib/no-anonymous-line.so", "") +
        entry("7f0000003000-7f0000004000 r-xp 00000000 fd:01 79      /usr/lib/with space.so", "0") +
        entry("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0       [vdso]", "0") +
        entry("zz-7f0000005000 r-xp 00000000 fd:01 80      /usr/lib/bad-address.so", "0") +
        entry("7f0000006000-7f0000005000 r-xp 00000000 fd:01 81      /usr/lib/backwards.so", "0");
    const auto found = unwritten_file_mappings(smaps);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].begin, 0x55d0c0a00000u);
    EXPECT_EQ(found[0].end, 0x55d0c0a2a000u);
    EXPECT_EQ(found[1].begin, 0x55d0c0a2a000u);
    EXPECT_EQ(found[1].end, 0x55d0c0b00000u);
    EXPECT_EQ(found[2].begin, 0x7f0000003000u);
    // Cut anywhere, the text gives no range it did not hold whole.
    for (std::size_t cut = 0; cut <= smaps.size(); ++cut) {
        for (const auto& r : unwritten_file_mappings(std::string_view(smaps).substr(0, cut))) {
            EXPECT_TRUE(r.begin == 0x55d0c0a00000u || r.begin == 0x55d0c0a2a000u || r.begin == 0x7f0000003000u)
                << "cut at " << cut;
        }
    }
}

// Written at run time (data), and relocated at start (a table of pointers,
// in the read-only-after-relocation part of a position-independent binary).
int written_at_run_time = 1;
const char* const relocated_table[] = {"first", "second", "third"};

TEST(free_memory, mapped_code_leaves_the_resident_memory_and_what_was_written_stays) {
    written_at_run_time = 42;
    std::vector<std::string> heap_strings;
    heap_strings.reserve(1000);
    for (int i = 0; i < 1000; ++i) heap_strings.push_back(std::to_string(i) + relocated_table[i % 3]);
    const auto r = release_mapped_code();
    ASSERT_GT(r.before_kb, 0);
    EXPECT_LT(r.after_kb, r.before_kb) << "RssFile " << r.before_kb << " kB before, " << r.after_kb << " kB after";
    // The code runs again (its pages come back from the file) and every
    // value the process wrote or relocated is as it was.
    EXPECT_EQ(written_at_run_time, 42);
    EXPECT_STREQ(relocated_table[1], "second");
    EXPECT_EQ(heap_strings[998], "998third");
    EXPECT_EQ(std::to_string(12345) + relocated_table[2], "12345third");
    // A second release, with the pages it needs mapped again, also runs.
    const auto again = release_mapped_code();
    EXPECT_GT(again.before_kb, 0);
    EXPECT_EQ(written_at_run_time, 42);
}

}  // namespace
}  // namespace fieldbridge::gateway
