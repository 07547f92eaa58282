// Durable publish throughput and backlog drain, against a real mosquitto on
// loopback, side by side with a reference publisher on libmosquitto.
//
//   fieldbridge: every message is appended to the SQLite store first
//   (synchronous=FULL, one transaction per batch of 100, as poll results
//   arrive), its flow state is committed before each write to the socket,
//   and it is deleted when acknowledged: the gateway's real uplink path
//   (message_store + forwarder + mqtt::client).
//   reference: libmosquitto, non-durable (messages in memory only), the same
//   message count, payload size, topics and in-flight window.
//
// Then the backlog: N messages stored while the broker is away (the store's
// own durable enqueue rate and the process RSS at that depth), drained after
// the broker returns while live messages keep arriving, with store.order
// strict and fresh_first: the drain rate to the broker alone, then with a
// subscriber that checks that every topic's live messages arrive in order
// and none is missing, and measures how old live values are when they
// arrive and when the current value of every topic is there.
//
// CPU per message: fieldbridge's core thread (store, forwarder, MQTT
// client, and the loopback network stack each write to the socket runs
// through), and the reference's whole process (its publisher and
// libmosquitto's network thread), both over the same messages.
//
// The broker logs errors, warnings, notices and connections, not every
// packet (mosquitto's debug lines, two flushed lines a message); with
// BROKER_LOG_ALL set in the environment it logs every packet, as the test
// suite's brokers do (the figures measured before that choice).
//
// Usage: bench_uplink_throughput [MESSAGES] [PAYLOAD_BYTES] [WINDOW] [BACKLOG] [LIVE_RATE] [ROUNDS]
//        defaults 100000 100 64 1000000 1000 5 (live: messages a second while the backlog drains;
//        rounds: alternating reference/fieldbridge runs per QoS, medians compared)
#include <mosquitto.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "bench/cpu_time.hpp"
#include "gateway/client_options.hpp"
#include "gateway/client_uplink.hpp"
#include "gateway/forwarder.hpp"
#include "gateway/store/message_store.hpp"
#include "mqtt/client.hpp"
#include "tests/support/mosquitto_broker.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;
using fieldbridge::testing::mosquitto_broker;
using steady = std::chrono::steady_clock;
using fieldbridge::bench::process_cpu_s;
using fieldbridge::bench::thread_cpu_s;

namespace {

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}

std::string topic_of(const char* who, std::uint64_t i) { return std::string("bench/") + who + "/" + std::to_string(i % 100); }

// ---- reference: libmosquitto ----

struct reference_state {
    std::atomic<bool> connected{false};
    std::uint64_t expected = 0;
    std::mutex mutex;
    std::condition_variable all_acked;
    std::uint64_t acked = 0;  // guarded by mutex
};

double reference_run(const mosquitto_broker& broker, int qos, std::uint64_t n, const std::string& payload, int window,
                     double& cpu_us_per_msg) {
    reference_state st;
    st.expected = n;
    mosquitto* m = mosquitto_new("bench-reference", true, &st);
    mosquitto_max_inflight_messages_set(m, static_cast<unsigned>(window));
    mosquitto_connect_callback_set(m, [](mosquitto*, void* u, int rc) {
        if (rc == 0) static_cast<reference_state*>(u)->connected = true;
    });
    mosquitto_publish_callback_set(m, [](mosquitto*, void* u, int) {
        auto& state = *static_cast<reference_state*>(u);
        const std::lock_guard<std::mutex> lock(state.mutex);
        if (++state.acked == state.expected) state.all_acked.notify_one();
    });
    if (mosquitto_connect(m, broker.host().c_str(), broker.port(), 60) != MOSQ_ERR_SUCCESS) {
        std::fprintf(stderr, "reference: cannot connect\n");
        std::exit(1);
    }
    mosquitto_loop_start(m);
    while (!st.connected) std::this_thread::sleep_for(1ms);
    const auto t0 = steady::now();
    const double cpu0 = process_cpu_s();
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto topic = topic_of("ref", i);
        const auto body = std::to_string(i) + ":" + payload;  // as fieldbridge's
        mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(body.size()), body.data(), qos, false);
    }
    {
        // Woken by the last acknowledgement (not polled), so that the
        // process's CPU is the publisher's and the network thread's work.
        std::unique_lock<std::mutex> lock(st.mutex);
        st.all_acked.wait(lock, [&] { return st.acked >= n; });
    }
    const double s = seconds_since(t0);
    cpu_us_per_msg = (process_cpu_s() - cpu0) * 1e6 / static_cast<double>(n);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return s;
}

// ---- fieldbridge: store + forwarder + client ----

struct uplink {
    asio::io_context io;
    std::unique_ptr<fieldbridge::store::message_store> store;
    std::unique_ptr<fieldbridge::mqtt::client> client;
    std::unique_ptr<fieldbridge::gateway::client_uplink> link;
    std::unique_ptr<fieldbridge::gateway::forwarder> forward;

    uplink(const fs::path& db, const mosquitto_broker& broker, int window, std::uint64_t capacity,
           fieldbridge::config::store_order order = fieldbridge::config::store_order::strict) {
        fieldbridge::store::options so;
        so.path = db;
        so.durability = fieldbridge::store::durability::full;
        so.limits.max_rows = capacity;
        so.limits.max_bytes = 64ull << 30;
        so.limits.max_age = 0s;
        auto s = fieldbridge::store::message_store::open(so);
        if (!s) {
            std::fprintf(stderr, "store: %s\n", s.error().message().c_str());
            std::exit(1);
        }
        store = std::move(*s);
        fieldbridge::mqtt::client_options o;
        o.host = broker.host();
        o.port = broker.port();
        o.client_id = "bench-fieldbridge";
        o.max_inflight = static_cast<std::size_t>(window);
        o.reconnect_min = 20ms;
        o.reconnect_max = 200ms;
        client = std::make_unique<fieldbridge::mqtt::client>(io.get_executor(), o);
        link = std::make_unique<fieldbridge::gateway::client_uplink>(*client);
        // The gateway's window for this in-flight limit (gateway/client_options).
        forward = std::make_unique<fieldbridge::gateway::forwarder>(
            *store, *link, [this] { link->arm_flush(); }, fieldbridge::gateway::forwarder_window(o.max_inflight));
        link->attach(*forward);
        // Historical messages start with "h" here, so that the subscriber
        // tells them apart.
        forward->set_order(order, [](fieldbridge::mqtt::message& m) {
            m.payload.insert(0, "h");
            m.retain = false;
        });
        if (!forward->resume()) std::exit(1);
    }

    template <class Predicate>
    void run_until(Predicate p) {
        while (!p()) {
            io.restart();
            io.run_for(5ms);
        }
    }

    void connect() {
        client->start();
        run_until([&] { return client->state() == fieldbridge::mqtt::link_state::connected; });
    }

    // Payload "<seq>:<payload>", or "<seq>:<produced, µs>:<payload>" when stamped.
    void submit(const char* who, std::uint64_t from, std::uint64_t count, int qos, const std::string& payload,
                bool stamped = false) {
        std::vector<fieldbridge::mqtt::message> batch;
        batch.reserve(static_cast<std::size_t>(count));
        const auto now_us =
            std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count();
        for (std::uint64_t i = from; i < from + count; ++i) {
            auto body = std::to_string(i) + ":";
            if (stamped) body += std::to_string(now_us) + ":";
            batch.push_back({topic_of(who, i), body + payload, static_cast<fieldbridge::mqtt::qos>(qos), false});
        }
        forward->submit(batch, std::chrono::system_clock::now());
    }

    void stop() {
        bool done = false;
        client->stop([&] { done = true; });
        run_until([&] { return done; });
    }
};

double fieldbridge_run(const mosquitto_broker& broker, const fs::path& dir, int qos, std::uint64_t n,
                       const std::string& payload, int window, std::uint64_t& commits,
                       double& cpu_us_per_msg, const std::string& name) {
    uplink u(dir / (name + ".db"), broker, window, n + 1);
    u.connect();
    constexpr std::uint64_t batch = 100;
    std::uint64_t submitted = 0;
    // A producer that hands in a batch whenever the core thread is free,
    // interleaved with the socket's work, as poll results arrive.
    std::function<void()> produce = [&] {
        if (submitted >= n) return;
        const auto count = std::min(batch, n - submitted);
        u.submit("fb", submitted, count, qos, payload);
        submitted += count;
        asio::post(u.io, produce);
    };
    const auto t0 = steady::now();
    const double cpu0 = thread_cpu_s();
    asio::post(u.io, produce);
    u.run_until([&] { return u.forward->stats().delivered >= n; });
    const double s = seconds_since(t0);
    cpu_us_per_msg = (thread_cpu_s() - cpu0) * 1e6 / static_cast<double>(n);
    commits = u.store->counters().commits;
    u.stop();
    return s;
}

// ---- backlog ----

// Counts what arrives per topic and whether each topic's sequence numbers
// only ever increase (historical messages aside: they come late by design).
struct order_check {
    std::mutex m;
    std::map<std::string, long long> last;
    std::vector<bool> seen;  // by sequence number: each message once (a bit each, not to weigh on the RSS figures)
    std::uint64_t distinct = 0;
    std::uint64_t received = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t historical = 0;
    std::uint64_t out_of_order = 0;
    std::vector<double> live_latency_ms;  // stamped messages: produced → received
    // The newest backlog message of each topic, and when it or a newer one
    // first arrived, ms after the broker came back.
    std::map<std::string, long long> current;
    std::map<std::string, double> current_at_ms;
    steady::time_point back;
    std::atomic<bool> subscribed{false};
};

mosquitto* start_subscriber(const mosquitto_broker& broker, order_check& oc) {
    mosquitto* m = mosquitto_new("bench-subscriber", true, &oc);
    mosquitto_connect_callback_set(m, [](mosquitto* c, void*, int) { mosquitto_subscribe(c, nullptr, "bench/#", 0); });
    mosquitto_subscribe_callback_set(m, [](mosquitto*, void* u, int, int, const int*) {
        static_cast<order_check*>(u)->subscribed = true;
    });
    mosquitto_message_callback_set(m, [](mosquitto*, void* u, const mosquitto_message* msg) {
        auto& check = *static_cast<order_check*>(u);
        std::string p(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
        const bool historical = !p.empty() && p[0] == 'h';
        if (historical) p.erase(0, 1);
        const long long seq = std::atoll(p.c_str());
        std::lock_guard lock(check.m);
        ++check.received;
        const auto at = static_cast<std::size_t>(std::max(seq, 0LL));
        if (at >= check.seen.size()) check.seen.resize(std::max(at + 1, check.seen.size() * 2));
        if (check.seen[at]) {
            ++check.duplicates;
        } else {
            check.seen[at] = true;
            ++check.distinct;
        }
        // The topic's value from before the outage, or a newer one.
        if (const auto c = check.current.find(msg->topic);
            !historical && c != check.current.end() && seq >= c->second && !check.current_at_ms.count(msg->topic)) {
            check.current_at_ms[msg->topic] = seconds_since(check.back) * 1000.0;
        }
        if (historical) {
            ++check.historical;
            return;
        }
        if (const auto a = p.find(':'), b = p.find(':', a + 1); a != std::string::npos && b != std::string::npos &&
                                                                 p.find_first_not_of("0123456789", a + 1) == b) {
            const auto now_us =
                std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count();
            check.live_latency_ms.push_back(static_cast<double>(now_us - std::atoll(p.c_str() + a + 1)) / 1000.0);
        }
        auto [it, fresh] = check.last.emplace(msg->topic, seq);
        if (!fresh) {
            if (seq <= it->second) ++check.out_of_order;
            it->second = seq;
        }
    });
    mosquitto_connect(m, broker.host().c_str(), broker.port(), 60);
    mosquitto_loop_start(m);
    while (!oc.subscribed) std::this_thread::sleep_for(1ms);
    return m;
}

void backlog_run(mosquitto_broker& broker, const fs::path& dir, const std::string& name, std::uint64_t backlog,
                 std::uint64_t live_rate, const std::string& payload, int window, bool subscribe,
                 fieldbridge::config::store_order order) {
    const bool fresh_first = order == fieldbridge::config::store_order::fresh_first;
    // The broker is away: everything produced goes to the store.
    std::printf("\nbacklog, store.order: %s: %llu QoS 1 messages stored while the broker is down, then drained %s\n",
                fresh_first ? "fresh_first" : "strict", static_cast<unsigned long long>(backlog),
                subscribe ? "to a subscriber that checks order and completeness (the broker fans out every message)"
                          : "to the broker alone (nobody subscribed: the broker's work is the reference's)");
    broker.stop();
    fs::remove(dir / (name + ".db"));
    uplink u(dir / (name + ".db"), broker, window, backlog * 2, order);
    u.client->start();
    const long rss_before = rss_kib();
    const auto t0 = steady::now();
    constexpr std::uint64_t batch = 1000;
    for (std::uint64_t i = 0; i < backlog; i += batch) u.submit("backlog", i, std::min(batch, backlog - i), 1, payload);
    const double enqueue_s = seconds_since(t0);
    const auto db_bytes = fs::file_size(dir / (name + ".db")) + (fs::exists(dir / "backlog.db-wal") ? fs::file_size(dir / "backlog.db-wal") : 0);
    std::printf("store enqueue (durable, batches of %llu): %.0f msg/s; %llu rows, database %.0f MB\n",
                static_cast<unsigned long long>(batch), static_cast<double>(backlog) / enqueue_s,
                static_cast<unsigned long long>(u.store->stats().rows), static_cast<double>(db_bytes) / 1e6);
    std::printf("RSS with %llu messages queued: %.1f MB (%.1f MB before)\n", static_cast<unsigned long long>(backlog),
                static_cast<double>(rss_kib()) / 1024.0, static_cast<double>(rss_before) / 1024.0);

    broker.start();
    order_check oc;
    for (std::uint64_t i = backlog > 100 ? backlog - 100 : 0; i < backlog; ++i) {
        oc.current[topic_of("backlog", i)] = static_cast<long long>(i);
    }
    mosquitto* sub = subscribe ? start_subscriber(broker, oc) : nullptr;
    oc.back = steady::now();
    // Live data keeps coming while the backlog drains, on the same topics
    // (the sequence numbers continue, so the order check spans both):
    // `live_rate` messages a second in batches every 10 ms, as polls do.
    std::uint64_t live = 0;
    const auto live_batch = std::max<std::uint64_t>(live_rate / 100, 1);
    const auto drain_start = steady::now();
    const double drain_cpu0 = thread_cpu_s();
    const auto drain_commits0 = u.store->counters().commits;
    auto next_live = drain_start;
    std::uint64_t backlog_delivered_at = 0;  // live messages produced by then
    double backlog_s = 0;
    u.run_until([&] {
        if (live_rate > 0 && steady::now() >= next_live) {
            u.submit("backlog", backlog + live, live_batch, 1, payload, true);
            live += live_batch;
            next_live += 10ms;
        }
        if (backlog_s == 0 && u.forward->stats().delivered >= backlog) {
            backlog_s = seconds_since(drain_start);
            backlog_delivered_at = live;
        }
        return backlog_s > 0 && u.forward->stats().delivered >= backlog + live;
    });
    const double drain_s = seconds_since(drain_start);
    const double drain_cpu = thread_cpu_s() - drain_cpu0;
    const auto drain_commits = u.store->counters().commits - drain_commits0;
    const std::uint64_t total = backlog + live;
    const auto deadline = steady::now() + (sub ? 60s : 0s);
    while (steady::now() < deadline) {
        {
            std::lock_guard lock(oc.m);
            if (oc.received >= total) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::printf("drain after reconnect: %llu backlog messages delivered in %.2f s = %.0f msg/s "
                "(%llu live messages produced meanwhile, %.0f msg/s through the uplink in all)\n",
                static_cast<unsigned long long>(backlog), backlog_s, static_cast<double>(backlog) / backlog_s,
                static_cast<unsigned long long>(backlog_delivered_at),
                static_cast<double>(backlog + backlog_delivered_at) / backlog_s);
    std::printf("queue empty after %.2f s with %llu live messages in all; core thread CPU %.1f µs/msg, "
                "%llu store commits\n",
                drain_s, static_cast<unsigned long long>(live), drain_cpu * 1e6 / static_cast<double>(backlog + live),
                static_cast<unsigned long long>(drain_commits));
    if (sub) {
        std::lock_guard lock(oc.m);
        auto& l = oc.live_latency_ms;
        std::sort(l.begin(), l.end());
        const auto pct = [&](double q) {
            return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<std::size_t>(q * static_cast<double>(l.size())))];
        };
        double current_ms = 0;
        for (const auto& [topic, at] : oc.current_at_ms) current_ms = std::max(current_ms, at);
        std::printf("subscriber: %llu of %llu received (%llu distinct, %llu duplicates), %llu marked historical, "
                    "%llu live out of order per topic\n",
                    static_cast<unsigned long long>(oc.received), static_cast<unsigned long long>(total),
                    static_cast<unsigned long long>(oc.distinct), static_cast<unsigned long long>(oc.duplicates),
                    static_cast<unsigned long long>(oc.historical), static_cast<unsigned long long>(oc.out_of_order));
        std::printf("live message age at arrival: p50 %.0f ms, p99 %.0f ms, max %.0f ms; the current value of all "
                    "%zu topics there %.0f ms after the broker came back%s\n",
                    pct(0.5), pct(0.99), l.empty() ? 0.0 : l.back(), oc.current_at_ms.size(), current_ms,
                    fresh_first ? "" : " (strict: behind the backlog)");
    }
    u.stop();
    if (sub) {
        mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
        mosquitto_destroy(sub);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000;
    const auto payload_size = static_cast<std::size_t>(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100);
    const int window = argc > 3 ? std::atoi(argv[3]) : 64;
    const std::uint64_t backlog = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1'000'000;
    const std::uint64_t live_rate = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1'000;
    const int rounds = std::max(argc > 6 ? std::atoi(argv[6]) : 5, 1);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::string payload(payload_size, 'x');

    std::string pattern = (fs::temp_directory_path() / "fieldbridge-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    const fs::path dir = pattern;
    mosquitto_lib_init();

    mosquitto_broker::options bo;
    bo.extra_config = "set_tcp_nodelay true\n";
    bo.log_packets = std::getenv("BROKER_LOG_ALL") != nullptr;
    mosquitto_broker broker(bo);

    std::printf("uplink throughput: %llu messages, %zu-byte payload, window %d, mosquitto on loopback\n",
                static_cast<unsigned long long>(n), payload_size, window);
    std::printf("%-6s %16s %18s %8s %18s %14s %16s\n", "QoS", "reference msg/s", "fieldbridge msg/s", "ratio",
                "msgs per commit", "CPU µs/msg", "ref CPU µs/msg");
    // Alternating runs, medians compared: a shared 2-core box is noisy.
    for (const int qos : {1, 2}) {
        std::vector<double> ref_rates, fb_rates, cpus, ref_cpus;
        std::uint64_t commits_sum = 0;
        for (int round = 0; round < rounds; ++round) {
            double ref_cpu = 0;
            const double ref = reference_run(broker, qos, n, payload, window, ref_cpu);
            ref_cpus.push_back(ref_cpu);
            std::uint64_t commits = 0;
            double cpu = 0;
            const double fb = fieldbridge_run(broker, dir, qos, n, payload, window, commits, cpu,
                                              "throughput-qos" + std::to_string(qos) + "-" + std::to_string(round));
            ref_rates.push_back(static_cast<double>(n) / ref);
            fb_rates.push_back(static_cast<double>(n) / fb);
            cpus.push_back(cpu);
            commits_sum += commits;
        }
        const auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        const double r = median(ref_rates), f = median(fb_rates);
        std::printf("%-6d %16.0f %18.0f %7.2fx %18.1f %14.1f %16.1f\n", qos, r, f, f / r,
                    static_cast<double>(n * static_cast<std::uint64_t>(rounds)) / static_cast<double>(commits_sum),
                    median(cpus), median(ref_cpus));
        std::string runs;
        for (int i = 0; i < rounds; ++i) {
            runs += " " + std::to_string(static_cast<long>(ref_rates[static_cast<std::size_t>(i)])) + "/" +
                    std::to_string(static_cast<long>(fb_rates[static_cast<std::size_t>(i)]));
        }
        std::printf("       runs (reference/fieldbridge msg/s):%s\n", runs.c_str());
    }

    if (backlog > 0) {
        for (const auto order : {fieldbridge::config::store_order::strict, fieldbridge::config::store_order::fresh_first}) {
            backlog_run(broker, dir, "backlog", backlog, live_rate, payload, window, false, order);
            backlog_run(broker, dir, "backlog-checked", backlog, live_rate, payload, window, true, order);
        }
    }
    mosquitto_lib_cleanup();
    fs::remove_all(dir);
    return 0;
}
