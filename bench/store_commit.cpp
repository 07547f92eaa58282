// The store's cost per message on the uplink's path, without a network:
// each round appends a batch of QoS 1 messages without a commit, records
// them sent (a commit, as before the write that carries them) and then done
// (a commit, as after their acknowledgements), on a real file with
// synchronous=FULL. Run side by side with the write-ahead log's frames
// gathered into one write per commit (the store's default) and written as
// SQLite's default VFS writes them (two writes per page), alternating.
//
// Prints the calling thread's CPU per message (user + system, which is
// where the commits' writes and fdatasync are spent) and per commit.
//
// Usage: bench_store_commit [ROUNDS] [MESSAGES_PER_ROUND] [REPEATS]
//        defaults 3000 12 3
#include <unistd.h>

#include <algorithm>
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

namespace {

// CPU µs per message of one run, or a negative number when the store failed.
double run(const fs::path& dir, bool gather, int rounds, int per_round) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    store::options o;
    o.path = dir / "queue.db";
    o.gather_log_writes = gather;
    auto s = store::message_store::open(o);
    if (!s)
        return -1;
    const std::vector<mqtt::message> batch(
        static_cast<std::size_t>(per_round),
        mqtt::message{"plant/line/7/temperature", std::string(100, 'p'), mqtt::qos::at_least_once, false});
    std::vector<store::change> sent;
    std::vector<store::change> done;
    std::uint16_t packet_id = 1;
    const double start = thread_cpu_s();
    for (int r = 0; r < rounds; ++r) {
        sent.clear();
        done.clear();
        for (const auto& id : (*s)->append_uncommitted(batch, std::chrono::system_clock::now())) {
            if (!id)
                return -1;
            sent.push_back({store::change::kind::sent, *id, packet_id, false});
            done.push_back({store::change::kind::done, *id, 0, false});
            packet_id = packet_id == 65535 ? 1 : static_cast<std::uint16_t>(packet_id + 1);
        }
        if (!(*s)->apply(sent) || !(*s)->apply(done))
            return -1;
    }
    return (thread_cpu_s() - start) * 1e6 / (static_cast<double>(rounds) * per_round);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 3000;
    const int per_round = argc > 2 ? std::atoi(argv[2]) : 12;
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
    if (rounds <= 0 || per_round <= 0 || repeats <= 0) {
        std::fprintf(stderr, "usage: bench_store_commit [ROUNDS] [MESSAGES_PER_ROUND] [REPEATS]\n");
        return 2;
    }
    const auto dir = fs::temp_directory_path() / ("fieldbridge-bench-store-" + std::to_string(::getpid()));
    std::vector<double> gathered;
    std::vector<double> plain;
    for (int i = 0; i < repeats; ++i) {
        gathered.push_back(run(dir, true, rounds, per_round));
        plain.push_back(run(dir, false, rounds, per_round));
    }
    fs::remove_all(dir);
    if (*std::min_element(gathered.begin(), gathered.end()) < 0 ||
        *std::min_element(plain.begin(), plain.end()) < 0) {
        std::fprintf(stderr, "the store failed\n");
        return 1;
    }
    std::printf(
        "store commit cost: %d rounds of %d QoS 1 messages (append, sent: commit, done: commit), FULL\n",
        rounds, per_round);
    std::printf("%-34s %14s %16s\n", "log writes", "CPU us/msg", "CPU us/commit");
    const auto line = [&](const char* name, const std::vector<double>& v) {
        const double m = median(v);
        std::printf("%-34s %14.2f %16.1f   runs:", name, m, m * per_round / 2);
        for (const double x : v)
            std::printf(" %.2f", x);
        std::printf("\n");
    };
    line("gathered (one write per commit)", gathered);
    line("SQLite's default (two per page)", plain);
    std::printf("ratio default/gathered: %.2fx\n", median(plain) / median(gathered));
    return 0;
}
