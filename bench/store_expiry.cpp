// What the store's expiry costs with a long backlog: N QoS 1 messages queued
// (the uplink away), then expiry as the gateway runs it once a minute. The
// first pass reads every row; while no message is older than the age limit
// (7 days by default) the passes after it read none. Last, a pass a day past
// the limit drops them all.
//
// Prints the calling thread's CPU and the wall time of each pass.
//
// Usage: bench_store_expiry [MESSAGES]   default 1000000
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/cpu_time.hpp"
#include "gateway/store/message_store.hpp"

namespace fs = std::filesystem;
using namespace fieldbridge;
using fieldbridge::bench::thread_cpu_s;
using std::chrono::steady_clock;

namespace {

bool pass(store::message_store& s, const char* what, std::chrono::system_clock::time_point at) {
    const double cpu0 = thread_cpu_s();
    const auto t0 = steady_clock::now();
    const auto n = s.expire(at);
    const double wall_ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    const double cpu_ms = (thread_cpu_s() - cpu0) * 1e3;
    if (!n) {
        std::fprintf(stderr, "expiry failed: %s\n", n.error().message().c_str());
        return false;
    }
    std::printf("%-40s %12.3f %12.3f %12llu\n", what, cpu_ms, wall_ms, static_cast<unsigned long long>(*n));
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const long messages = argc > 1 ? std::atol(argv[1]) : 1'000'000;
    if (messages <= 0) {
        std::fprintf(stderr, "usage: bench_store_expiry [MESSAGES]\n");
        return 2;
    }
    const auto dir = fs::temp_directory_path() / ("fieldbridge-bench-expiry-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    store::options o;
    o.path = dir / "queue.db";
    o.limits.max_rows = static_cast<std::uint64_t>(messages);
    o.limits.max_bytes = static_cast<std::uint64_t>(messages) * 256;
    auto s = store::message_store::open(o);
    if (!s) {
        std::fprintf(stderr, "cannot open the store: %s\n", s.error().message().c_str());
        return 1;
    }
    const auto start = std::chrono::system_clock::now();
    const std::vector<mqtt::message> batch(
        1000, mqtt::message{"plant/line/7/temperature", std::string(100, 'p'), mqtt::qos::at_least_once, false});
    for (long i = 0; i < messages; i += 1000) {
        const auto n = std::min<long>(1000, messages - i);
        for (const auto& id : (*s)->append({batch.data(), static_cast<std::size_t>(n)}, start)) {
            if (!id) {
                std::fprintf(stderr, "append failed: %s\n", id.error().message().c_str());
                return 1;
            }
        }
    }
    std::printf("store expiry: %ld QoS 1 messages queued, age limit %lld s\n", messages,
                static_cast<long long>(o.limits.max_age.count()));
    std::printf("%-40s %12s %12s %12s\n", "pass", "CPU ms", "wall ms", "dropped");
    bool ok = pass(**s, "first (every row read)", start + std::chrono::minutes(1));
    for (int i = 2; ok && i <= 4; ++i) {
        ok = pass(**s, ("minute " + std::to_string(i) + " (none old enough)").c_str(), start + std::chrono::minutes(i));
    }
    ok = ok && pass(**s, "a day past the limit (all dropped)", start + o.limits.max_age + std::chrono::hours(24));
    s->reset();
    fs::remove_all(dir);
    return ok ? 0 : 1;
}
