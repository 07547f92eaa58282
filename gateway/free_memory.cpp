#include "gateway/free_memory.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <bit>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include <spdlog/spdlog.h>

namespace fieldbridge::gateway {

namespace {

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::uintptr_t hex(std::string_view s, bool& ok) {
    std::uintptr_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    ok = ok && ec == std::errc{} && end == s.data() + s.size();
    return v;
}

// The fields of a mapping's first line: "begin-end perms offset dev inode path".
struct mapping_line {
    mapped_range range;
    bool candidate = false;
};

mapping_line read_mapping_line(std::string_view line) {
    std::istringstream in{std::string(line)};
    std::string addresses, perms, offset, device, inode, path;
    in >> addresses >> perms >> offset >> device >> inode;
    std::getline(in >> std::ws, path);
    mapping_line out;
    const auto dash = addresses.find('-');
    if (dash == std::string::npos) return out;
    bool ok = true;
    out.range.begin = hex(std::string_view(addresses).substr(0, dash), ok);
    out.range.end = hex(std::string_view(addresses).substr(dash + 1), ok);
    // Read-only and private (r--p, r-xp), of a file still in place.
    out.candidate = ok && out.range.begin < out.range.end && (perms == "r--p" || perms == "r-xp") && inode != "0" &&
                    path.starts_with('/') && !path.ends_with(" (deleted)");
    return out;
}

long status_kb(std::string_view key) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with(key)) continue;
        long kb = -1;
        std::istringstream(line.substr(key.size())) >> kb;
        return kb;
    }
    return -1;
}

}  // namespace

bool release_free_memory() { return malloc_trim(0) != 0; }

std::vector<mapped_range> unwritten_file_mappings(std::string_view smaps) {
    std::vector<mapped_range> out;
    mapping_line current;
    while (!smaps.empty()) {
        const auto nl = smaps.find('\n');
        const auto line = smaps.substr(0, nl);
        smaps.remove_prefix(nl == std::string_view::npos ? smaps.size() : nl + 1);
        if (!line.empty() && is_hex_digit(line.front())) {
            current = read_mapping_line(line);
        } else if (line.starts_with("Anonymous:") && current.candidate) {
            // Only a mapping whose Anonymous line says 0 kB: one without the
            // line is left alone.
            long kb = -1;
            std::istringstream(std::string(line.substr(10))) >> kb;
            if (kb == 0) out.push_back(current.range);
            current.candidate = false;
        }
    }
    return out;
}

code_release release_mapped_code() {
    code_release r;
    r.before_kb = status_kb("RssFile:");
    std::ifstream in("/proc/self/smaps");
    const std::string smaps((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& m : unwritten_file_mappings(smaps)) {
        // The ranges are the mappings read above: the gateway unloads no
        // library, so no address of them is mapped anew in between.
        (void)madvise(std::bit_cast<void*>(m.begin), m.end - m.begin, MADV_DONTNEED);
    }
    r.after_kb = status_kb("RssFile:");
    return r;
}

void memory_release::after_load() {
    release_free_memory();
    code_pending_ = true;
}

void memory_release::tick() {
    release_free_memory();
    if (!code_pending_) return;
    code_pending_ = false;
    const auto r = release_mapped_code();
    spdlog::debug("code and constants used only to start unmapped: {} kB of mapped files resident before, {} kB after",
                  r.before_kb, r.after_kb);
}

}  // namespace fieldbridge::gateway
