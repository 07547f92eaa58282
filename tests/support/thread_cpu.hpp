// The CPU time a thread has used so far: for tests that check that a
// thread does not spin while it waits (a server whose accepts fail).
#pragma once

#include <pthread.h>
#include <time.h>

#include <chrono>
#include <optional>
#include <thread>

namespace fieldbridge::testing {

// Nothing when the thread's CPU clock cannot be read.
inline std::optional<std::chrono::nanoseconds> thread_cpu_time(std::thread& t) {
    clockid_t clock{};
    timespec used{};
    if (::pthread_getcpuclockid(t.native_handle(), &clock) != 0 || ::clock_gettime(clock, &used) != 0) {
        return std::nullopt;
    }
    return std::chrono::seconds(used.tv_sec) + std::chrono::nanoseconds(used.tv_nsec);
}

// The CPU time thread t uses while `window` passes on the caller's thread;
// the largest duration when its clock cannot be read (no check passes on it).
inline std::chrono::milliseconds thread_cpu_over(std::thread& t, std::chrono::milliseconds window) {
    const auto before = thread_cpu_time(t);
    std::this_thread::sleep_for(window);  // the window measured, not a wait for a condition
    const auto after = thread_cpu_time(t);
    if (!before || !after) return std::chrono::milliseconds::max();
    return std::chrono::duration_cast<std::chrono::milliseconds>(*after - *before);
}

}  // namespace fieldbridge::testing
