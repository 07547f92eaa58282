#include "gateway/process_figures.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fieldbridge::gateway {

status_snapshot::process_part read_process_figures() {
    status_snapshot::process_part p;
    // statm: size resident shared text lib data dt, in pages.
    if (std::ifstream statm("/proc/self/statm"); statm) {
        std::uint64_t size = 0;
        std::uint64_t resident = 0;
        if (statm >> size >> resident) {
            const long page = sysconf(_SC_PAGESIZE);
            p.resident_bytes = resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
        }
    }
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++p.open_fds;
    }
    if (p.open_fds > 0)
        --p.open_fds;  // the directory being listed
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        const auto seconds = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
        };
        p.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    }
    return p;
}

}  // namespace fieldbridge::gateway
