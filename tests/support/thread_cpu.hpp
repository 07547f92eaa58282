// The CPU time a thread has used so far: for tests that check that a
// thread does not spin while it waits (a server whose accepts fail).
#pragma once

#include <pthread.h>
#include <time.h>

#include <chrono>
#include <thread>

namespace fieldbridge::testing {

inline std::chrono::nanoseconds thread_cpu_time(std::thread& t) {
    clockid_t clock{};
    timespec used{};
    if (::pthread_getcpuclockid(t.native_handle(), &clock) != 0 || ::clock_gettime(clock, &used) != 0) {
        return std::chrono::nanoseconds::max();
    }
    return std::chrono::seconds(used.tv_sec) + std::chrono::nanoseconds(used.tv_nsec);
}

// The CPU time thread t uses while `window` passes on the caller's thread.
inline std::chrono::milliseconds thread_cpu_over(std::thread& t, std::chrono::milliseconds window) {
    const auto before = thread_cpu_time(t);
    std::this_thread::sleep_for(window);  // the window measured, not a wait for a condition
    return std::chrono::duration_cast<std::chrono::milliseconds>(thread_cpu_time(t) - before);
}

}  // namespace fieldbridge::testing
