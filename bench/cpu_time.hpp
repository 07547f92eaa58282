// CPU time (user + system) for the benchmarks' figures, in seconds.
#pragma once

#include <sys/resource.h>

namespace fieldbridge::bench {

// Of the whole process (`RUSAGE_SELF`) or of the calling thread
// (`RUSAGE_THREAD`).
inline double cpu_seconds(int who) {
    rusage r{};
    getrusage(who, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// The calling thread's.
inline double thread_cpu_s() { return cpu_seconds(RUSAGE_THREAD); }

// The whole process's.
inline double process_cpu_s() { return cpu_seconds(RUSAGE_SELF); }

}  // namespace fieldbridge::bench
