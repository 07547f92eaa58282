// Bus efficiency on a serial line: how close the poll cycle comes to what
// the line physically allows.
//
// 20 energy meters x 40 float32 points (a realistic input-register map with
// gaps) on one RTU line, served by the simulator on the master side of a pty
// with simulator_wire_timing (answers paced to the wire time at the
// configured baud, 3.5-character silences included) and polled by the bus
// worker on the slave side, back to back (every device always due). The pty
// is made here rather than by socat, whose relay hop would add its own
// latency twice per exchange (`--socat` measures that way too).
//
// For each baud rate (9600 and 115200, 8N1) and each plan (the read planner's
// merged reads, and one request per point as several popular gateways poll)
// it prints the requests and wire bytes of one cycle, the physical minimum
// cycle time those bytes need (request and answer characters plus the two
// 3.5-character silences of each exchange), the measured cycle time and
// their ratio.
//
// Usage: bench_bus_efficiency [CYCLES] [--socat] [--baud N]
//   (default: 3 measured cycles per run, 9600 and 115200 baud)
#include <atomic>
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/rtu_timing.hpp"
#include "drivers/modbus/simulator.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using namespace fieldbridge;
using steady = std::chrono::steady_clock;

namespace {

constexpr int meters = 20;

// An SDM630-like map: phase values, totals, energies, line voltages,
// neutral current and harmonic distortion; 40 float32 input registers.
std::vector<config::point> meter_points() {
    std::vector<std::uint16_t> addresses;
    for (int a = 0; a <= 34; a += 2) addresses.push_back(static_cast<std::uint16_t>(a));  // V, I, P, VA, var, PF per phase
    for (const int a : {42, 46, 48, 52, 56, 60, 62, 70, 72, 74, 76, 78}) addresses.push_back(static_cast<std::uint16_t>(a));
    for (const int a : {200, 202, 204, 206, 224, 234, 236, 238, 240, 242}) addresses.push_back(static_cast<std::uint16_t>(a));
    std::vector<config::point> points;
    for (const auto a : addresses) {
        config::point p;
        p.name = "r" + std::to_string(a);
        p.kind = config::register_kind::input_register;
        p.address = a;
        p.type = config::data_type::float32;
        config::simulation s;
        s.wave = config::simulation::waveform::sine;
        s.value = 230;
        s.amplitude = 5;
        p.simulate = s;
        points.push_back(p);
    }
    return points;
}

struct line_cost {
    std::size_t requests = 0;
    std::size_t bytes = 0;  // requests and answers, RTU framing (address and CRC included)
    std::chrono::nanoseconds minimum{};
};

// What one cycle over every device must move, and the least time it takes.
line_cost cost_of(const std::vector<config::device>& devices, const config::rtu_link& line) {
    line_cost c;
    for (const auto& d : devices) {
        for (const auto& r : modbus::plan_reads(d.points, modbus::limits_of(d))) {
            const bool bits =
                r.kind == config::register_kind::coil || r.kind == config::register_kind::discrete_input;
            const std::size_t request = 8;  // address, function, start, count, CRC
            const std::size_t answer = 5 + (bits ? (r.count + 7u) / 8u : 2u * r.count);
            c.requests += 1;
            c.bytes += request + answer;
            c.minimum += modbus::wire_time(request + answer, line) + 2 * modbus::frame_silence(line);
        }
    }
    return c;
}

struct run_result {
    line_cost cost;
    double cycle_s = 0;
    double utilisation = 0;
    std::uint64_t failures = 0;  // requests that failed (and were retried) during the run
    bool ok = false;
};

// The line: the gateway's device path and, for a pty made here, the
// simulator's side of it.
struct line_ends {
    std::string gateway;
    int simulator_fd = -1;
    std::string simulator_path;
};

run_result run(const line_ends& ends, std::uint32_t baud, bool merge, int cycles) {
    config::gateway cfg;
    config::bus bus;
    bus.name = "line";
    config::rtu_link line;
    line.device = ends.gateway;
    line.baud = baud;
    line.simulator_wire_timing = true;
    bus.link = line;
    cfg.buses.push_back(bus);
    for (int i = 1; i <= meters; ++i) {
        config::device d;
        d.name = "m" + std::to_string(i);
        d.bus = "line";
        d.unit_id = static_cast<std::uint8_t>(i);
        d.poll_interval = 1ms;  // always due: the line runs back to back
        d.timeout = 1s;
        d.merge_reads = merge;
        d.points = meter_points();
        cfg.devices.push_back(d);
    }
    run_result out;
    out.cost = cost_of(cfg.devices, line);

    modbus::simulator_options where;
    where.serial_device = ends.simulator_path;
    where.serial_fd = ends.simulator_fd;
    modbus::simulator sim(cfg, "line", where);
    sim.start();
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<steady::time_point> first_meter;  // when each poll of m1 ended
    std::atomic<std::uint64_t> bad{0};
    modbus::bus_worker worker(cfg.buses[0], cfg.devices, [&](modbus::poll_result r) {
        for (const auto& s : r.samples) {
            if (!s.quality.good) ++bad;
        }
        if (r.device != "m1") return;
        std::lock_guard lock(mutex);
        first_meter.push_back(steady::now());
        changed.notify_all();
    });
    worker.start();
    const std::size_t needed = static_cast<std::size_t>(cycles) + 2;  // the first cycle warms up
    {
        std::unique_lock lock(mutex);
        const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(out.cost.minimum * 3 * (cycles + 3)) + 10s;
        out.ok = changed.wait_for(lock, budget, [&] { return first_meter.size() >= needed; });
    }
    const auto counters = worker.counters();
    worker.stop();
    sim.stop();
    if (!out.ok) return out;
    out.cycle_s = std::chrono::duration<double>(first_meter[needed - 1] - first_meter[1]).count() / cycles;
    out.utilisation = counters.utilisation();
    out.failures = counters.failures;
    out.ok = bad == 0 && sim.silence_violations() == 0;
    if (bad != 0) std::fprintf(stderr, "  %llu bad values\n", static_cast<unsigned long long>(bad.load()));
    if (sim.silence_violations() != 0) {
        std::fprintf(stderr, "  %llu requests broke the 3.5-character silence\n",
                     static_cast<unsigned long long>(sim.silence_violations()));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int cycles = 3;
    bool use_socat = false;
    std::vector<std::uint32_t> bauds{9600, 115200};
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--socat") {
            use_socat = true;
        } else if (std::string(argv[i]) == "--baud" && i + 1 < argc) {
            bauds = {static_cast<std::uint32_t>(std::atoi(argv[++i]))};
        } else {
            cycles = std::max(1, std::atoi(argv[i]));
        }
    }
    spdlog::set_level(spdlog::level::warn);
    std::string pattern = (fs::temp_directory_path() / "fieldbridge-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    const fs::path dir = pattern;
    line_ends ends;
    std::unique_ptr<testing::child_process> socat;
    int keep_open = -1;  // a pty's slave held open, so that its master never reads a hang-up
    if (use_socat) {
        socat = std::make_unique<testing::child_process>(std::vector<std::string>{
            "socat", "pty,raw,echo=0,link=" + (dir / "gateway").string(),
            "pty,raw,echo=0,link=" + (dir / "device").string()});
        if (!testing::wait_until([&] { return fs::exists(dir / "gateway") && fs::exists(dir / "device"); }, 10s)) {
            std::fprintf(stderr, "socat did not create the pty pair: %s\n", socat->output().c_str());
            return 1;
        }
        ends.gateway = (dir / "gateway").string();
        ends.simulator_path = (dir / "device").string();
    } else {
        const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        char name[128] = {};
        if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0) {
            std::perror("pty");
            return 1;
        }
        keep_open = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        termios t{};
        tcgetattr(keep_open, &t);
        cfmakeraw(&t);
        tcsetattr(keep_open, TCSANOW, &t);
        ends.gateway = name;
        ends.simulator_fd = master;
    }

    std::printf("%d meters x %zu float32 points on one RTU line (8N1), %d measured cycles per run, %s\n", meters,
                meter_points().size(), cycles, use_socat ? "socat pty pair" : "pty");
    std::printf("%-7s %-15s %9s %11s %12s %12s %7s %6s %8s\n", "baud", "plan", "requests", "wire bytes", "minimum s",
                "measured s", "ratio", "busy", "failed");
    bool all_ok = true;
    for (const std::uint32_t baud : bauds) {
        double merged_cycle = 0;
        for (const bool merge : {true, false}) {
            const auto r = run(ends, baud, merge, merge ? cycles : std::max(1, cycles - 1));
            const double minimum = std::chrono::duration<double>(r.cost.minimum).count();
            if (!r.ok) {
                std::printf("%-7u %-15s  run failed (see above)\n", baud, merge ? "merged (ours)" : "one per point");
                all_ok = false;
                continue;
            }
            std::printf("%-7u %-15s %9zu %11zu %12.3f %12.3f %6.3fx %5.1f%% %8llu\n", baud,
                        merge ? "merged (ours)" : "one per point", r.cost.requests, r.cost.bytes, minimum, r.cycle_s,
                        r.cycle_s / minimum, 100 * r.utilisation, static_cast<unsigned long long>(r.failures));
            if (merge) {
                merged_cycle = r.cycle_s;
            } else if (merged_cycle > 0) {
                std::printf("%-7u one request per point takes %.2fx the merged plan's cycle\n", baud,
                            r.cycle_s / merged_cycle);
            }
        }
    }
    socat.reset();
    if (ends.simulator_fd >= 0) ::close(ends.simulator_fd);
    if (keep_open >= 0) ::close(keep_open);
    fs::remove_all(dir);
    return all_ok ? 0 : 1;
}
