// TCP scale: N Modbus TCP devices (default 1000) x 100 points polled every
// second (100,000 points/s) by `fieldbridge run`, publishing to a real
// mosquitto.
//
// The devices are served by `fieldbridge simulate` processes (125 devices
// each, one port per process, every gateway device on a connection of its
// own). Two scenarios: every value constant (the polling, decoding and
// comparing cost alone: on-change publishing sends only heartbeats) and 10%
// of the points changing every second (10,000 MQTT messages/s at QoS 1
// through the durable queue for 1000 devices).
//
// After a warm-up it measures, over the window: the gateway's CPU time
// (utime + stime from /proc), its RSS (VmRSS and the peak VmHWM), polls done
// against polls due, the poll slots the schedule had to skip (missed_polls
// in `fieldbridge status --json`: a cycle not kept), failed polls, and the
// simulators' CPU (to tell whether they were the bottleneck).
//
// With --every-value, one scenario instead: every value changes every
// second, so every point is published at every poll (500 devices: 50,000
// MQTT messages/s), at the QoS of --qos. Besides CPU and RSS it reports the
// messages delivered per second and how the durable queue grew over the
// window (a queue that grows is an uplink that does not keep up).
//
// With --scrape, the gateway also serves its metrics (metrics.listen), and
// after the window the bench scrapes them 5 times, 1.2 s apart (the endpoint
// builds at most one report a second): the size of the answer, the wall
// time per scrape, and the gateway CPU a scrape costs beyond its polling
// (the window's CPU rate taken off).
//
// Usage: bench_tcp_scale [SECONDS] [--devices N] [--own-points] [--every-value] [--qos 0|1|2]
//                        [--format json|device|template|sparkplug] [--scrape] [--max-inflight N]
//   SECONDS       measured window per scenario (default 30)
//   --devices N   gateway devices (default 1000); --devices 10 is the idle
//                 case of 1000 points
//   --every-value every value changing (see above)
//   --qos Q       the points' QoS (default 1)
//   --format F    publish.format: json (default, a message per point),
//                 device (a message per device and poll), template (a
//                 message per point from a JSON template of the same keys)
//                 or sparkplug (a DDATA per device and poll, QoS 0 and
//                 stored, as that format always is; births at connect)
//   --max-inflight N  mqtt.max_inflight of the gateway (default: not set, 64)
//   --own-points  every gateway device lists its 100 points itself instead of
//                 taking them from one profile (no list shared between devices)
// The broker does not log every packet; BROKER_LOG_ALL in the environment
// makes it (as the test suite's brokers do).
// FIELDBRIDGE_BENCH_WRAPPER="heaptrack -o /tmp/gw" runs the gateway under a
// profiler (words split at spaces); its CPU and RSS figures are then the
// wrapper's process, not the gateway's.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using fieldbridge::testing::child_process;
using fieldbridge::testing::mosquitto_broker;

namespace {

int devices = 1000;
int qos = 1;
std::string format = "json";  // --format
bool scrape = false;  // --scrape
int max_inflight = 0;  // --max-inflight: mqtt.max_inflight; 0: not given (64)
constexpr int per_simulator = 125;
constexpr int points = 100;

// CPU seconds (user + system) of a process, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Time on a CPU of all a process's threads, in nanoseconds' resolution
// (/proc/PID/task/*/schedstat, first field), for spans shorter than the
// clock ticks of /proc/PID/stat.
double run_time_seconds(pid_t pid) {
    double total = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        unsigned long long ns = 0;
        if (in >> ns) total += static_cast<double>(ns) / 1e9;
    }
    return total;
}

// A /proc/PID/status field in kB (VmRSS, VmHWM), as MB.
double status_mb(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
    }
    return 0;
}

// Of the file-backed RSS, the pages of shared libraries (any mapped file
// but the gateway's own binary and its queue), from /proc/PID/smaps, as MB.
double library_mb(pid_t pid, const std::string& binary) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
    std::string line;
    bool library = false;
    double kb = 0;
    while (std::getline(in, line)) {
        // A mapping's first line: "start-end perms offset dev inode path".
        const bool mapping = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) != 0 &&
                             line.find('-') < line.find(' ');
        if (mapping) {
            const auto slash = line.find('/');
            const std::string path = slash == std::string::npos ? "" : line.substr(slash);
            library = path.find(".so") != std::string::npos && path != binary;
        } else if (library && line.rfind("Rss:", 0) == 0) {
            kb += std::stod(line.substr(4));
        }
    }
    return kb / 1024.0;
}

enum class changing { none, tenth, every };

const char* name(changing c) {
    switch (c) {
        case changing::none:
            return "constant (heartbeats)";
        case changing::tenth:
            return "10% changing";
        case changing::every:
            return "every value changing";
    }
    return "";
}

// The point list, each entry indented by `indent`.
std::string point_list(changing c, const std::string& indent) {
    std::ostringstream y;
    for (int i = 0; i < points; ++i) {
        y << indent << "- { name: p" << i << ", register: holding, address: " << i << ", type: uint16, simulate: { ";
        if (c == changing::every || (c == changing::tenth && i % 10 == 0)) {
            y << "wave: sine, value: 30000, amplitude: 20000, period: 7s";
        } else {
            y << "wave: constant, value: " << i;
        }
        y << " } }\n";
    }
    return y.str();
}

std::string profile(changing c) { return "profiles:\n  block:\n    points:\n" + point_list(c, "      "); }

struct totals {
    std::uint64_t polls = 0, missed = 0, failed = 0;
    std::uint64_t queued = 0, delivered = 0;  // messages in the durable queue; delivered since start
    bool ok = false;
};

totals read_status(const std::string& gateway_binary, const fs::path& config) {
    child_process status({gateway_binary, "status", "--json", "-c", config.string()});
    totals t;
    if (!status.wait(20s)) return t;
    try {
        const auto j = nlohmann::json::parse(status.output());
        for (const auto& d : j.at("devices")) {
            t.polls += d.at("polls").get<std::uint64_t>();
            t.missed += d.at("missed_polls").get<std::uint64_t>();
            t.failed += d.at("failed_polls").get<std::uint64_t>();
        }
        t.queued = j.at("queue").at("messages").get<std::uint64_t>();
        t.delivered = j.at("queue").at("delivered").get<std::uint64_t>();
        t.ok = j.at("devices").size() == static_cast<std::size_t>(devices);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "status: %s\n%s\n", e.what(), status.output().c_str());
    }
    return t;
}

bool scenario(const fs::path& dir, changing values, int seconds, bool own_points) {
    mosquitto_broker::options broker_options;
    broker_options.extra_config = "max_queued_messages 1000000\n";
    broker_options.log_packets = std::getenv("BROKER_LOG_ALL") != nullptr;
    mosquitto_broker broker(broker_options);

    std::vector<std::uint16_t> ports;
    std::vector<std::unique_ptr<child_process>> simulators;
    for (int s = 0; s * per_simulator < devices; ++s) {
        const auto port = fieldbridge::testing::free_tcp_port();
        ports.push_back(port);
        std::ostringstream y;
        y << profile(values) << "buses:\n  sim: { type: tcp, host: 127.0.0.1, port: " << port << " }\ndevices:\n";
        for (int u = 1; u <= std::min(per_simulator, devices - s * per_simulator); ++u) y << "  s" << u << ": { bus: sim, unit_id: " << u << ", profile: block }\n";
        const auto file = dir / ("sim" + std::to_string(s) + ".yaml");
        std::ofstream(file) << y.str();
        simulators.push_back(std::make_unique<child_process>(
            std::vector<std::string>{FIELDBRIDGE_BINARY, "simulate", "-c", file.string()}));
    }
    for (const auto port : ports) {
        if (!fieldbridge::testing::wait_until([&] { return fieldbridge::testing::tcp_port_open(port); }, 20s)) {
            std::fprintf(stderr, "a simulator did not start\n");
            return false;
        }
    }

    const auto metrics_port = fieldbridge::testing::free_tcp_port();
    std::ostringstream y;
    if (scrape) y << "metrics: { listen: \"127.0.0.1:" << metrics_port << "\" }\n";
    y << "mqtt: { host: 127.0.0.1, port: " << broker.port() << ", client_id: bench-scale"
      << (max_inflight > 0 ? ", max_inflight: " + std::to_string(max_inflight) : std::string()) << " }\n"
      << "publish: { prefix: scale, heartbeat: 60s, qos: " << qos << ", format: " << format
      << (format == "template" ? ", template: '{\"value\":{{value}},\"quality\":{{quality}},\"ts\":{{ts}}}'" : "")
      << " }\n"
      << "store: { path: " << (dir / "queue.db").string() << " }\n"
      << "control: { socket: " << (dir / "control.sock").string() << " }\n"
      << (own_points ? std::string() : profile(changing::none)) << "buses:\n";
    for (int d = 0; d < devices; ++d) {
        y << "  b" << d << ": { type: tcp, host: 127.0.0.1, port: " << ports[static_cast<std::size_t>(d / per_simulator)]
          << " }\n";
    }
    y << "devices:\n";
    for (int d = 0; d < devices; ++d) {
        if (own_points) {
            y << "  d" << d << ":\n    bus: b" << d << "\n    unit_id: " << (d % per_simulator) + 1
              << "\n    poll_interval: 1s\n    points:\n"
              << point_list(changing::none, "      ");
        } else {
            y << "  d" << d << ": { bus: b" << d << ", unit_id: " << (d % per_simulator) + 1
              << ", profile: block, poll_interval: 1s }\n";
        }
    }
    const auto config = dir / "gateway.yaml";
    std::ofstream(config) << y.str();
    fs::remove(dir / "queue.db");
    std::vector<std::string> command;
    if (const char* wrapper = std::getenv("FIELDBRIDGE_BENCH_WRAPPER")) {
        std::istringstream words(wrapper);
        for (std::string w; words >> w;) command.push_back(w);
    }
    command.insert(command.end(), {FIELDBRIDGE_BINARY, "run", "-c", config.string()});
    child_process gateway(command);

    std::this_thread::sleep_for(10s);  // connect, first polls, first publications of every point
    const auto t0 = std::chrono::steady_clock::now();
    const auto before = read_status(FIELDBRIDGE_BINARY, config);
    const double cpu_before = cpu_seconds(gateway.pid());
    std::vector<double> sim_before;
    for (const auto& s : simulators) sim_before.push_back(cpu_seconds(s->pid()));
    const double broker_before = cpu_seconds(broker.pid());
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto after = read_status(FIELDBRIDGE_BINARY, config);
    const double cpu = cpu_seconds(gateway.pid()) - cpu_before;
    double sim_cpu = 0;
    for (std::size_t i = 0; i < simulators.size(); ++i) sim_cpu += cpu_seconds(simulators[i]->pid()) - sim_before[i];
    const double broker_cpu = cpu_seconds(broker.pid()) - broker_before;
    const double rss = status_mb(gateway.pid(), "VmRSS");
    const double peak = status_mb(gateway.pid(), "VmHWM");
    // Of the RSS: anonymous memory (heap, stacks: the gateway's own) and
    // mapped files (the code of the binary and its libraries, shared with
    // the page cache and, for libraries, with other processes).
    const double anon = status_mb(gateway.pid(), "RssAnon");
    const double file = status_mb(gateway.pid(), "RssFile");
    const double libraries = library_mb(gateway.pid(), fs::canonical(FIELDBRIDGE_BINARY).string());
    std::string scraped;
    if (scrape) {
        constexpr int scrapes = 5;
        std::size_t bytes = 0;
        double wall = 0;
        double extra_cpu = 0;
        for (int i = 0; i < scrapes; ++i) {
            // The endpoint builds at most one report a second (later scrapes
            // within it get the same one): each scrape here gets one built.
            if (i > 0) std::this_thread::sleep_for(1200ms);
            const double scrape_cpu_before = run_time_seconds(gateway.pid());
            const auto start = std::chrono::steady_clock::now();
            bytes = fieldbridge::testing::http_request(metrics_port, "GET", "/metrics", 30s).body.size();
            const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            wall += w;
            extra_cpu += run_time_seconds(gateway.pid()) - scrape_cpu_before - w * cpu / elapsed;
        }
        char line[200];
        std::snprintf(line, sizeof line, "  scrape: %zu bytes, %.1f ms wall, %.1f ms gateway CPU beyond polling, per scrape\n",
                      bytes, 1000 * wall / scrapes, 1000 * extra_cpu / scrapes);
        scraped = line;
    }
    const bool running = gateway.running();
    gateway.stop();
    for (auto& s : simulators) s->stop();
    if (!before.ok || !after.ok || !running) {
        std::fprintf(stderr, "the gateway did not report on every device:\n%s\n", gateway.output().c_str());
        return false;
    }
    std::printf("%-24s %9.1f %7llu %7llu %8.1f%% %8.1f %8.1f %8.1f %8.1f %8.1f %9.1f%% %9.1f%% %10.0f %+9lld\n",
                name(values),
                static_cast<double>(after.polls - before.polls) / elapsed,
                static_cast<unsigned long long>(after.missed - before.missed),
                static_cast<unsigned long long>(after.failed - before.failed), 100 * cpu / elapsed, rss, anon, file,
                libraries, peak,
                100 * sim_cpu / elapsed, 100 * broker_cpu / elapsed, static_cast<double>(after.delivered - before.delivered) / elapsed,
                static_cast<long long>(after.queued) - static_cast<long long>(before.queued));
    std::fputs(scraped.c_str(), stdout);
    return after.missed == before.missed && after.failed == before.failed;
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 30;
    bool own_points = false;
    bool every_value = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--own-points") {
            own_points = true;
        } else if (arg == "--every-value") {
            every_value = true;
        } else if (arg == "--scrape") {
            scrape = true;
        } else if (arg == "--qos" && i + 1 < argc && std::string(argv[i + 1]).find_first_not_of("012") == std::string::npos &&
                   std::string(argv[i + 1]).size() == 1) {
            qos = std::atoi(argv[++i]);
        } else if (arg == "--format" && i + 1 < argc &&
                   (std::string(argv[i + 1]) == "json" || std::string(argv[i + 1]) == "device" ||
                    std::string(argv[i + 1]) == "template" || std::string(argv[i + 1]) == "sparkplug")) {
            format = argv[++i];
        } else if (arg == "--max-inflight" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
            // The gateway's configuration check refuses what mqtt.max_inflight does not take.
            max_inflight = std::atoi(argv[++i]);
        } else if (arg == "--devices" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
            devices = std::atoi(argv[++i]);
        } else if (std::atoi(argv[i]) > 0) {
            seconds = std::max(5, std::atoi(argv[i]));
        } else {
            std::fprintf(stderr,
                         "usage: bench_tcp_scale [SECONDS] [--devices N] [--own-points] [--every-value] [--qos 0|1|2] "
                         "[--format json|device|template|sparkplug] [--scrape] [--max-inflight N]\n");
            return 2;
        }
    }
    std::string pattern = (fs::temp_directory_path() / "fieldbridge-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    const fs::path dir = pattern;
    std::printf("%d Modbus TCP devices x %d points every 1 s (%d points/s), QoS %d, format %s, %d s window, %u cores, "
                "max_inflight %d, %s\n",
                devices, points, devices * points, qos, format.c_str(), seconds, std::thread::hardware_concurrency(),
                max_inflight > 0 ? max_inflight : static_cast<int>(fieldbridge::config::broker{}.max_inflight),
                own_points ? "every device lists its own points" : "the devices share one profile's points");
    std::printf("%-24s %9s %7s %7s %9s %8s %8s %8s %8s %8s %10s %10s %10s %9s\n", "values", "polls/s", "missed",
                "failed", "gw CPU", "RSS MB", "anon MB", "file MB", "libs MB", "peak MB", "sims CPU", "broker CPU",
                "msgs/s", "queue");
    bool ok = true;
    const auto scenarios = every_value ? std::vector<changing>{changing::every}
                                       : std::vector<changing>{changing::none, changing::tenth};
    for (const auto values : scenarios) ok = scenario(dir, values, seconds, own_points) && ok;
    std::printf("(CPU in %% of one core; 100%% = one core busy; RSS = anon (heap, stacks) + file (mapped code)\n"
                " + shared memory (none here); libs: the part of file that is shared libraries' pages;\n"
                " broker CPU: mosquitto's, one thread, so near 100%% it is the ceiling;\n"
                " msgs/s delivered to the broker; queue: how the durable queue grew over the window)\n");
    fs::remove_all(dir);
    return ok ? 0 : 1;
}
