// The memory a configuration load may take, over the shapes a file can
// grow in: whatever a file of at most the size bound holds, loading it (and
// refusing it) stays under a fixed bound, so that `fieldbridge check` and
// `run` survive any file on a 512 MB box. Each shape is grown to the file
// size bound or past the bound of its own (docs/configuration.md,
// "Limits"); the peak of the heap is counted by this program's operator
// new, which every C++ allocation of the loader and yaml-cpp goes through.
#include <gtest/gtest.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

#include "config/limits.hpp"
#include "config/loader.hpp"

namespace {

std::atomic<std::size_t> heap_now{0};
std::atomic<std::size_t> heap_peak{0};

void* counted_or_null(void* p) noexcept {
    if (!p) return nullptr;
    const std::size_t now = heap_now.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
    std::size_t peak = heap_peak.load();
    while (now > peak && !heap_peak.compare_exchange_weak(peak, now)) {
    }
    return p;
}

void* counted(void* p) {
    if (!p) throw std::bad_alloc();
    return counted_or_null(p);
}

// aligned_alloc takes a size that is a multiple of the alignment.
void* aligned(std::size_t n, std::align_val_t a) noexcept {
    const auto alignment = static_cast<std::size_t>(a);
    return std::aligned_alloc(alignment, (n + alignment - 1) & ~(alignment - 1));
}

void uncounted(void* p) noexcept {
    if (!p) return;
    heap_now.fetch_sub(malloc_usable_size(p));
    std::free(p);
}

}  // namespace

void* operator new(std::size_t n) { return counted(std::malloc(n == 0 ? 1 : n)); }
void* operator new[](std::size_t n) { return counted(std::malloc(n == 0 ? 1 : n)); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(aligned(n, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_or_null(std::malloc(n == 0 ? 1 : n)); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted_or_null(std::malloc(n == 0 ? 1 : n));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_or_null(aligned(n, a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
    return operator new(n, a, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { uncounted(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { uncounted(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { uncounted(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { uncounted(p); }
void operator delete(void* p) noexcept { uncounted(p); }
void operator delete[](void* p) noexcept { uncounted(p); }
void operator delete(void* p, std::size_t) noexcept { uncounted(p); }
void operator delete[](void* p, std::size_t) noexcept { uncounted(p); }
void operator delete(void* p, std::align_val_t) noexcept { uncounted(p); }
void operator delete[](void* p, std::align_val_t) noexcept { uncounted(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { uncounted(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { uncounted(p); }

namespace fieldbridge::config {
namespace {

// What one load may take at its peak, the file's own text apart: less than
// half of a 512 MB box. The shapes the parser's own bound stops
// (limits::max_parse_heap_bytes, 192 MiB) come closest: a list of millions
// of items (yaml-cpp keeps about 24 bytes per block item until the end of
// the parse, the tree about 30), tokens the parser holds in brackets.
constexpr std::size_t load_bound = 224u * 1024 * 1024;

// Lines made by line(i) for i = 0, 1, ... after head, until the next would
// pass the file size bound.
std::string grown(const std::string& head, const std::function<std::string(std::size_t)>& line) {
    std::string out = head;
    out.reserve(limits::max_file_bytes);
    for (std::size_t i = 0;; ++i) {
        const std::string next = line(i);
        if (out.size() + next.size() > limits::max_file_bytes) return out;
        out += next;
    }
}

struct shape {
    const char* name;
    std::function<std::string()> make;
};

std::string n(std::size_t i) { return std::to_string(i); }

// A line of brackets that a scalar follows: yaml-cpp keeps a key of it
// pending across the line break, which the bracket scan does not count.
std::string brackets_then_scalar(std::size_t) { return "[" + std::string(997, ',') + "] a\n"; }

// Where a shape writes the files its main file includes; removed after
// each shape.
std::filesystem::path included_dir() {
    return std::filesystem::temp_directory_path() / ("fieldbridge-load-memory-" + std::to_string(::getpid()));
}

std::string included(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(included_dir());
    const auto path = included_dir() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
}

const std::string broker = "mqtt: { host: broker }\n";
const std::string one_bus = "buses: { b: { type: tcp, host: 127.0.0.1 } }\n";
const std::string point = "{ name: p, register: holding, address: 0 }";

std::vector<shape> all_shapes() {
    return {
        {"keys of the top-level map", [] { return grown("", [](std::size_t i) { return "x" + n(i) + ": 1\n"; }); }},
        {"keys of an extension map", [] { return grown("x-a:\n", [](std::size_t i) { return " k" + n(i) + ": 1\n"; }); }},
        {"profiles", [] { return grown("profiles:\n", [](std::size_t i) { return " p" + n(i) + ": {}\n"; }); }},
        {"buses", [] {
             return grown("buses:\n", [](std::size_t i) { return " b" + n(i) + ": {type: tcp, host: h}\n"; });
         }},
        {"devices", [] { return grown(one_bus + "devices:\n", [](std::size_t i) { return " d" + n(i) + ": 1\n"; }); }},
        {"devices, each on a bus of its own", [] {
             std::string text = "buses:\n";
             for (std::size_t i = 0; i < limits::max_buses; ++i) text += " b" + n(i) + ": {type: tcp, host: h}\n";
             return grown(text + "devices:\n", [](std::size_t i) {
                 return " d" + n(i) + ": {bus: b" + n(i % limits::max_buses) + ", unit_id: 1, points: [" + point +
                        "]}\n";
             });
         }},
        {"points of one device, written out", [] {
             return grown(one_bus + "devices:\n d:\n  bus: b\n  unit_id: 1\n  points:\n", [](std::size_t i) {
                 return "   - { name: p" + n(i) + ", register: holding, address: " + n(i % 65536) + " }\n";
             });
         }},
        {"points of all devices, written out", [] {
             return grown(one_bus + "devices:\n", [](std::size_t i) {
                 std::string d = " d" + n(i) + ":\n  bus: b\n  unit_id: 1\n  points:\n";
                 for (int k = 0; k < 100; ++k) {
                     d += "   - { name: p" + n(static_cast<std::size_t>(k)) + ", register: holding, address: " +
                          n(static_cast<std::size_t>(k)) + ", unit: kW, deadband: 0.5 }\n";
                 }
                 return d;
             });
         }},
        {"one profile's point list named by every device", [] {
             std::string text = one_bus + "profiles:\n m:\n  points:\n";
             for (std::size_t k = 0; k < limits::max_points_per_device / 10; ++k) {
                 text += "   - { name: p" + n(k) + ", register: holding, address: " + n(k) + " }\n";
             }
             return grown(text + "devices:\n", [](std::size_t i) {
                 return " d" + n(i) + ": {bus: b, unit_id: 1, profile: m}\n";
             });
         }},
        {"an aliased point list in every device", [] {
             std::string text = one_bus + "x-p: &p\n";
             for (std::size_t k = 0; k < 100; ++k) {
                 text += " - { name: p" + n(k) + ", register: holding, address: " + n(k) + " }\n";
             }
             return grown(text + "devices:\n", [](std::size_t i) {
                 return " d" + n(i) + ": {bus: b, unit_id: 1, points: *p}\n";
             });
         }},
        {"an alias bomb", [] {
             std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
             for (int k = 1; k < 12; ++k) {
                 const std::string p = "*a" + n(static_cast<std::size_t>(k - 1));
                 text += "a" + n(static_cast<std::size_t>(k)) + ": &a" + n(static_cast<std::size_t>(k)) + " [" + p +
                         ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p +
                         ", " + p + "]\n";
             }
             return text;
         }},
        {"a flat list", [] { return grown("x-a:\n", [](std::size_t) { return " - 1\n"; }); }},
        {"a flat list of empty items", [] { return grown("x-a:\n", [](std::size_t) { return "-\n"; }); }},
        {"a flat list in brackets", [] {
             auto text = grown("x-a: [", [](std::size_t) { return "1,"; });
             text.resize(text.size() - 4);  // room for the end
             return text + "]\n";
         }},
        {"a list in brackets on a line of its own", [] {
             auto text = grown("x-a:\n  [", [](std::size_t) { return "1,"; });
             text.resize(text.size() - 4);
             return text + "]\n";
         }},
        {"brackets after an anchor", [] { return "x-a: &a " + std::string(limits::max_file_bytes - 16, '[') + "\n"; }},
        {"brackets after a tag", [] { return "x-a: !!seq " + std::string(limits::max_file_bytes - 16, '[') + "\n"; }},
        {"brackets after a quoted scalar", [] { return "'a'" + std::string(limits::max_file_bytes - 8, '[') + "\n"; }},
        {"brackets below a block scalar less indented than its node", [] {
             return "- a: |\n  " + std::string(limits::max_file_bytes - 16, '[') + "\n";
         }},
        {"brackets after a plain scalar that goes on", [] {
             return "a: b\n 'c\nd: " + std::string(limits::max_file_bytes - 16, '[') + "\n";
         }},
        {"brackets after text inside brackets", [] {
             return grown("x-a: [a", [](std::size_t) { return "[a"; });
         }},
        // Forms the bracket scan reads otherwise than the parser, held by the
        // bound on the memory the parse takes alone.
        {"lines of brackets each followed by a scalar", [] {
             return grown("", brackets_then_scalar);
         }},
        {"lines of brackets after a document marker inside brackets", [] {
             return grown("[[\n---\n]]\n", brackets_then_scalar);
         }},
        {"brackets after a quoted key at the start of a line", [] {
             return "a: b\n'x' " + std::string(limits::max_file_bytes - 16, '[') + "\n";
         }},
        {"lines of brackets in a file included after a long list", [] {
             // The main file's tree is kept while the included file is parsed:
             // the bound is the whole load's, not each file's.
             const auto file = included("points.yaml", grown("", brackets_then_scalar));
             std::string text = one_bus + "devices:\n d: {bus: b, unit_id: 1, points: !include " + file + "}\nx-a:\n";
             for (std::size_t i = 0; i < 1'500'000; ++i) text += " - " + n(i % 10) + "\n";
             return text;
         }},
        {"a JSON document", [] {
             auto text = grown("{\"x-a\": [", [](std::size_t) { return "1,"; });
             text.resize(text.size() - 4);
             return text + "]}\n";
         }},
        {"a JSON document at the token bound", [] {
             std::string text = "{\"x-a\": [";  // 4 tokens, and 3 at the end: 1]}
             for (std::size_t i = 0; i < (limits::max_flow_tokens - 7) / 2; ++i) text += "1,";
             return text + "1]}\n";
         }},
        {"colons in brackets", [] {
             auto text = grown("[", [](std::size_t) { return ": "; });
             text.resize(text.size() - 4);
             return text + "]\n";
         }},
        {"merges nested 32 deep under a long name", [] {
             std::string text;
             for (int level = 0; level < 32; ++level) {
                 text += "x-m" + n(static_cast<std::size_t>(level)) + ": &m" + n(static_cast<std::size_t>(level)) + "\n";
                 if (level > 0) text += "  <<: *m" + n(static_cast<std::size_t>(level - 1)) + "\n";
                 for (std::size_t k = 0; k < 4'000; ++k) text += "  k" + n(k) + ": 1\n";
             }
             return text + one_bus + "devices:\n  " + std::string(limits::max_key_bytes, 'd') + ":\n    <<: *m31\n";
         }},
        {"a long key above many keys", [] {
             std::string text = one_bus + "devices:\n  ? " + std::string(limits::max_file_bytes / 2, 'd') + "\n  :\n";
             return grown(text, [](std::size_t i) { return "    k" + n(i) + ": 1\n"; });
         }},
        {"lists nested by indentation", [] {
             return grown("x-a:\n", [](std::size_t i) { return std::string(i, ' ') + "-\n"; });
         }},
        {"brokers to fail over to", [] {
             return grown(broker + "failover:\n", [](std::size_t i) { return " - b" + n(i) + "\n"; });
         }},
        {"nested lists", [] { return "x-a: " + std::string(limits::max_file_bytes / 2 - 8, '[') + "\n"; }},
        {"different scalars", [] {
             return grown("x-a:\n", [](std::size_t i) { return " - " + n(i) + std::string(20, 'v') + "\n"; });
         }},
        {"one long scalar", [] { return "x-a: " + std::string(limits::max_file_bytes - 8, 'v') + "\n"; }},
        {"different tags", [] { return grown("x-a:\n", [](std::size_t i) { return " - !t" + n(i) + " v\n"; }); }},
        {"errors in points", [] {
             return grown(one_bus + "devices:\n d:\n  bus: b\n  unit_id: 1\n  points:\n", [](std::size_t i) {
                 return "   - { name: p" + n(i) + ", register: nowhere, address: -1 }\n";
             });
         }},
        {"long topics", [] {
             const std::string level(60'000, 't');
             std::string text = "publish: { topic: \"" + level + "/{point}\" }\n" + one_bus + "devices:\n";
             return grown(text, [](std::size_t i) {
                 return " d" + n(i) + ": {bus: b, unit_id: 1, points: [" + point + "]}\n";
             });
         }},
    };
}

class load_memory : public testing::TestWithParam<std::size_t> {};

TEST_P(load_memory, a_file_of_this_shape_loads_or_is_refused_within_the_bound) {
    const auto s = all_shapes().at(GetParam());
    const std::string text = s.make();
    ASSERT_LE(text.size(), limits::max_file_bytes) << s.name;
    // The pages earlier shapes freed go back to the system, as in a process
    // that loads one file: the parser's bound is read on the process's
    // pages, which a heap with free blocks to reuse would not grow.
    malloc_trim(0);
    const auto started = std::chrono::steady_clock::now();
    const std::size_t before = heap_now.load();
    heap_peak.store(before);
    std::string outcome = "loaded";
    try {
        load_string(text, "plant.yaml");
    } catch (const config_error& e) {
        const std::string what = e.what();
        outcome = what.substr(0, std::min<std::size_t>(what.find('\n'), 200));
    }
    std::filesystem::remove_all(included_dir());
    const std::size_t peak = heap_peak.load() - before;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    EXPECT_LE(peak, load_bound) << s.name << " (" << text.size() << " bytes): " << outcome;
    std::printf("%s: %zu bytes of text, peak %.1f MB, %.1f s: %s\n", s.name, text.size(),
                static_cast<double>(peak) / 1e6, took.count(), outcome.c_str());
}

INSTANTIATE_TEST_SUITE_P(shapes, load_memory, testing::Range<std::size_t>(0, all_shapes().size()),
                         [](const testing::TestParamInfo<std::size_t>& shape_info) {
                             std::string name = all_shapes().at(shape_info.param).name;
                             for (auto& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace fieldbridge::config
