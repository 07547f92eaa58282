#include "config/heap_meter.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FIELDBRIDGE_SANITIZED_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FIELDBRIDGE_SANITIZED_HEAP 1
#endif

#if defined(FIELDBRIDGE_SANITIZED_HEAP)
// Every sanitizer runtime exports it (GCC installs no header for it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();  // NOLINT(bugprone-reserved-identifier)
#else
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>
#endif

namespace fieldbridge::config {

#if !defined(FIELDBRIDGE_SANITIZED_HEAP)
namespace {

// The value in kB of the line "name:<spaces>N kB" of status, or nullopt.
std::optional<std::uint64_t> kb_field(std::string_view status, std::string_view name) {
    for (std::size_t at = 0; at < status.size();) {
        const auto end = std::min(status.find('\n', at), status.size());
        auto line = status.substr(at, end - at);
        at = end + 1;
        if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ':') continue;
        line.remove_prefix(name.size() + 1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        std::uint64_t kb = 0;
        const auto [next, ec] = std::from_chars(line.data(), line.data() + line.size(), kb);
        if (ec != std::errc()) return std::nullopt;
        return kb;
    }
    return std::nullopt;
}

}  // namespace
#endif

std::optional<std::size_t> process_memory_in_use() noexcept {
#if defined(FIELDBRIDGE_SANITIZED_HEAP)
    // What the sanitizer's allocator hands out (its quarantine of freed
    // blocks and its shadow memory would make the process's pages grow
    // with every free).
    return __sanitizer_get_current_allocated_bytes();
#else
    // Pages, not the C library's own count: mallinfo2 walks every free
    // block (0.1 s a call on a heap of a million free blocks).
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::array<char, 4096> buffer{};
    std::size_t filled = 0;
    while (filled < buffer.size()) {
        const auto n = ::read(fd, buffer.data() + filled, buffer.size() - filled);
        if (n <= 0) break;
        filled += static_cast<std::size_t>(n);
    }
    ::close(fd);
    const std::string_view status(buffer.data(), filled);
    const auto anonymous = kb_field(status, "RssAnon");
    const auto swapped = kb_field(status, "VmSwap");
    if (!anonymous || !swapped) return std::nullopt;
    return static_cast<std::size_t>((*anonymous + *swapped) * 1024);
#endif
}

heap_meter growth_from_now() {
    const auto start = process_memory_in_use();
    if (!start) return {};
    return [start = *start] {
        const auto now = process_memory_in_use();
        return now && *now > start ? *now - start : 0;
    };
}

}  // namespace fieldbridge::config
