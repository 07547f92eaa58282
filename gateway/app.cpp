#include "gateway/app.hpp"

#include "common/log_limiter.hpp"

#include <malloc.h>
#include <sysexits.h>

#include <chrono>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/retiring_workers.hpp"
#include "config/loader.hpp"
#include "config/topic.hpp"
#include "gateway/client_options.hpp"
#include "gateway/commands.hpp"
#include "gateway/control_server.hpp"
#include "gateway/payload.hpp"
#include "gateway/client_uplink.hpp"
#include "gateway/forwarder.hpp"
#include "gateway/version.hpp"
#include "gateway/point_mapper.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/service_manager.hpp"
#include "mqtt/client.hpp"
#include "mqtt/topic.hpp"

namespace fieldbridge::gateway {
namespace asio = boost::asio;

namespace {

// How long the process waits, after the core loop ended, for bus workers
// still inside a request (a device timeout may be up to a minute).
constexpr auto retiring_wait = std::chrono::seconds(5);

const char* state_name(mqtt::link_state s) {
    switch (s) {
        case mqtt::link_state::disconnected:
            return "disconnected";
        case mqtt::link_state::connecting:
            return "connecting";
        case mqtt::link_state::connected:
            return "connected";
    }
    return "?";
}

store::options store_options_from(const config::store_settings& s) {
    store::options o;
    o.path = s.path;
    if (o.path.empty()) {
        // systemd's StateDirectory=, else the packaged default.
        const char* state = std::getenv("STATE_DIRECTORY");
        std::string dir = state ? std::string(state) : std::string("/var/lib/fieldbridge");
        if (const auto colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
        o.path = std::filesystem::path(dir) / "queue.db";
    }
    o.durability = s.durability == config::store_durability::full ? store::durability::full : store::durability::normal;
    o.limits.max_rows = s.max_messages;
    o.limits.max_bytes = s.max_megabytes * 1024 * 1024;
    o.limits.max_age = s.max_age;
    switch (s.drop) {
        case config::drop_policy::oldest:
            o.policy = store::drop_policy::drop_oldest;
            break;
        case config::drop_policy::qos0_first:
            o.policy = store::drop_policy::drop_qos0_first;
            break;
        case config::drop_policy::refuse_new:
            o.policy = store::drop_policy::refuse_new;
            break;
    }
    return o;
}

// The app's own configuration, lent to the mapper without a copy: the app
// replaces the mapper whenever it replaces the configuration (reload), and
// its parts go before its configuration.
std::shared_ptr<const config::gateway> borrowed(const config::gateway& cfg) {
    return std::shared_ptr<const config::gateway>(&cfg, [](const config::gateway*) {});
}

}  // namespace

struct app::parts {
    parts(asio::io_context& io, const config::gateway& cfg, std::unique_ptr<store::message_store> s)
        : mapper(std::make_unique<point_mapper>(borrowed(cfg))),
          client(io.get_executor(), client_options_from(cfg)),
          queue(std::move(s)),
          link(client),
          forward(*queue, link, [this] { link.arm_flush(); }),
          signals(io, SIGINT, SIGTERM),
          shutdown_timer(io),
          watchdog_timer(io),
          expiry_timer(io),
          work(io.get_executor()),
          commands(cfg),
          reload_signals(io, SIGHUP) {}

    std::unique_ptr<point_mapper> mapper;
    mqtt::client client;
    std::unique_ptr<store::message_store> queue;
    client_uplink link;
    forwarder forward;
    asio::signal_set signals;
    asio::steady_timer shutdown_timer;
    asio::steady_timer watchdog_timer;
    asio::steady_timer expiry_timer;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::vector<std::unique_ptr<modbus::bus_worker>> workers;
    // Workers stopped by a reload or the shutdown, joined off the core thread:
    // one may be inside a request for up to its device's timeout.
    modbus::retiring_workers retiring;
    // Per bus name, bumped when its worker retires: results it posted before
    // it was told to stop are dropped, not mapped with the new configuration.
    std::map<std::string, std::uint64_t> bus_generation;
    std::unique_ptr<control_server> control;
    std::map<std::string, device_health> health;
    command_table commands;
    std::set<std::string> subscribed;  // command filters subscribed so far
    asio::signal_set reload_signals;
    std::uint64_t reloads = 0;
    std::string last_reload_error;
    // Per configured device: its bus worker and its index there.
    std::vector<std::pair<modbus::bus_worker*, std::size_t>> routes;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::optional<std::chrono::system_clock::time_point> connected_since;
    log_limiter log_limit;  // repeating device errors and command refusals
    // Commands waiting for their offline device (commands.max_age), per device name.
    struct held_command {
        std::chrono::steady_clock::time_point deadline;
        std::function<void()> go;
        std::function<void(const std::string&)> give_up;
    };
    std::map<std::string, std::deque<held_command>> held;
    std::unique_ptr<asio::steady_timer> held_timer;
    command_counters command_count;
    // Replies handed to the client and not yet completed (max_pending_replies);
    // shared with their completion handlers, which may run after the parts go.
    std::shared_ptr<std::size_t> pending_replies = std::make_shared<std::size_t>(0);
};

app::app(config::gateway cfg, std::string config_path) : cfg_(std::move(cfg)), config_path_(std::move(config_path)) {}

app::~app() = default;

int app::run() {
    started_at_ = std::chrono::system_clock::now();
    const auto store_options = store_options_from(cfg_.store);
    auto queue = store::message_store::open(store_options);
    if (!queue) {
        spdlog::critical("cannot open the message queue {}: {}", store_options.path.string(), queue.error().message());
        return EX_CANTCREAT;
    }
    spdlog::info("queue {}: {} message(s) stored", store_options.path.string(), (*queue)->stats().rows);
    parts_ = std::make_unique<parts>(io_, cfg_, std::move(*queue));
    auto& p = *parts_;
    for (const auto& d : cfg_.devices) {
        p.health[d.name].offline_after = d.offline_after;
    }
    p.control = std::make_unique<control_server>(io_.get_executor(), control_socket_path(cfg_.control));
    p.control->add("status", [this](const nlohmann::json&) { return status(); });
    p.control->add("points", [this](const nlohmann::json& request) { return points(request.value("device", "")); });
    p.control->add("reload", [this](const nlohmann::json&) { return reload(); });
    p.control->add_async("read", [this](const nlohmann::json& request, control_server::responder respond) {
        control_access(request, false, std::move(respond));
    });
    p.control->add_async("write", [this](const nlohmann::json& request, control_server::responder respond) {
        control_access(request, true, std::move(respond));
    });
    if (auto r = p.control->start(); !r) {
        // The service runs without it; `fieldbridge status` will say it cannot connect.
        spdlog::error("control socket {}: {}", p.control->path().string(), r.error().message());
    }
    p.link.attach(p.forward);
    if (auto r = p.forward.resume(); !r) {
        spdlog::critical("cannot resume the message queue: {}", r.error().message());
        parts_.reset();
        return EX_SOFTWARE;
    }

    p.client.on_link_state([this](mqtt::link_state s) {
        spdlog::info("broker link {}", state_name(s));
        if (s == mqtt::link_state::connected) {
            parts_->connected_since = std::chrono::system_clock::now();
            publish_birth();
        } else {
            parts_->connected_since.reset();
        }
        notify_status(fmt::format("broker {}:{} {}; {} device(s) on {} bus(es)", cfg_.mqtt.host, cfg_.mqtt.port,
                                  state_name(s), cfg_.devices.size(), cfg_.buses.size()));
    });
    p.signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("signal {} received, shutting down", sig);
        shutdown();
    });

    start_buses({}, false);
    subscribe_commands();
    arm_reload();

    spdlog::info("fieldbridge starting: {} bus(es), {} device(s), broker {}:{}", cfg_.buses.size(),
                 cfg_.devices.size(), cfg_.mqtt.host, cfg_.mqtt.port);
    p.client.start();
    for (auto& w : p.workers) w->start();
    notify_ready(fmt::format("polling {} device(s) on {} bus(es); broker {}:{} connecting", cfg_.devices.size(),
                             cfg_.buses.size(), cfg_.mqtt.host, cfg_.mqtt.port));
    if (const auto interval = watchdog_ping_interval()) feed_watchdog(*interval);
    expire_queue();

    io_.run();
    // Workers were handed to `retiring` in shutdown() (this also covers a
    // run() that ended because the io_context was stopped directly). The
    // core loop is over, so waiting here delays no watchdog ping; a worker
    // still inside a request when the time is up is left behind, silenced.
    for (auto& w : p.workers) p.retiring.retire(std::move(w));
    p.workers.clear();
    for (const auto& bus : p.retiring.wait_until(std::chrono::steady_clock::now() + retiring_wait)) {
        spdlog::warn("bus {}: still inside a request; exiting without waiting for it", bus);
    }
    p.retiring.abandon();
    parts_.reset();
    spdlog::info("fieldbridge stopped");
    return 0;
}

namespace {

// A refused read as the store keeps it: by device name and function code.
int read_function(config::register_kind kind) {
    switch (kind) {
        case config::register_kind::coil:
            return 1;
        case config::register_kind::discrete_input:
            return 2;
        case config::register_kind::holding_register:
            return 3;
        case config::register_kind::input_register:
            return 4;
    }
    return 3;
}

std::optional<config::register_kind> read_kind(int function) {
    switch (function) {
        case 1:
            return config::register_kind::coil;
        case 2:
            return config::register_kind::discrete_input;
        case 3:
            return config::register_kind::holding_register;
        case 4:
            return config::register_kind::input_register;
        default:
            return std::nullopt;
    }
}

// What the store remembers of earlier runs' refused reads, for one device.
std::vector<modbus::refused_read> refused_for(const std::vector<store::refused_read>& stored, const std::string& device) {
    std::vector<modbus::refused_read> out;
    for (const auto& r : stored) {
        if (r.device != device) continue;
        if (const auto kind = read_kind(r.function)) out.push_back({*kind, r.start, r.count});
    }
    return out;
}

std::vector<config::device> devices_on(const config::gateway& cfg, const std::string& bus) {
    std::vector<config::device> out;
    for (const auto& d : cfg.devices) {
        if (d.bus == bus) out.push_back(d);
    }
    return out;
}

}  // namespace

// Creates a worker for every bus of cfg_ that has none among `running`
// (which keep polling as they are), and routes commands to them.
void app::start_buses(std::vector<std::unique_ptr<modbus::bus_worker>> running, bool start_now) {
    auto& p = *parts_;
    p.workers = std::move(running);
    p.routes.assign(cfg_.devices.size(), {nullptr, 0});
    std::vector<store::refused_read> refused;
    if (auto stored = p.queue->refused_reads()) {
        refused = std::move(*stored);
    } else {
        spdlog::warn("cannot read the refused reads remembered in the store ({}); devices will be asked again",
                     stored.error().message());
    }
    // What was kept for devices no longer configured goes.
    std::set<std::string> gone;
    for (const auto& r : refused) {
        const bool configured = std::any_of(cfg_.devices.begin(), cfg_.devices.end(),
                                            [&](const config::device& d) { return d.name == r.device; });
        if (!configured) gone.insert(r.device);
    }
    for (const auto& device : gone) (void)p.queue->forget_refused_reads(device);
    for (const auto& bus : cfg_.buses) {
        std::vector<std::size_t> global;
        for (std::size_t i = 0; i < cfg_.devices.size(); ++i) {
            if (cfg_.devices[i].bus == bus.name) global.push_back(i);
        }
        if (global.empty()) {
            spdlog::warn("bus {} has no devices; not polled", bus.name);
            continue;
        }
        auto it = std::find_if(p.workers.begin(), p.workers.end(), [&](const auto& w) { return w->name() == bus.name; });
        if (it == p.workers.end()) {
            // Runs on the worker thread: hand the result to the core and return.
            auto on_result = [this, bus_name = bus.name, generation = p.bus_generation[bus.name]](modbus::poll_result r) {
                asio::post(io_, [this, bus_name, generation, r = std::move(r)]() {
                    if (stopping_ || parts_->bus_generation[bus_name] != generation) return;
                    auto& h = parts_->health[r.device];
                    if (h.record(r)) publish_availability(r.device, h.state());
                    log_bad_points(r);
                    if (h.state() != device_state::offline) release_held(r.device);
                    for (const auto& read : r.refused) remember_refused(r.device, read);
                    const auto messages = parts_->mapper->map(r, std::chrono::steady_clock::now());
                    parts_->forward.submit(messages, std::chrono::system_clock::now());
                });
            };
            p.workers.push_back(std::make_unique<modbus::bus_worker>(bus, devices_on(cfg_, bus.name), on_result));
            for (std::size_t local = 0; local < global.size(); ++local) {
                p.workers.back()->remember_refused(local, refused_for(refused, cfg_.devices[global[local]].name));
            }
            if (start_now && p.retiring.busy(bus)) {
                // A device on a line or port that takes one master at a time
                // must not see a second connection while the old one waits
                // for its answer: started when the old worker is gone.
                spdlog::info("bus {}: waiting for its previous worker to finish the request in flight", bus.name);
            } else if (start_now) {
                p.workers.back()->start();
            }
            it = std::prev(p.workers.end());
        }
        for (std::size_t local = 0; local < global.size(); ++local) p.routes[global[local]] = {it->get(), local};
    }
    // Loading and checking a large configuration leaves freed heap behind
    // (YAML nodes, the loader's copies, the old configuration on reload):
    // give it back to the system now rather than carry it.
    malloc_trim(0);
}

// Keeps a read the device refused with exception 2, so that the next start
// reads it in parts from the first poll. Losing it costs one refused request.
void app::remember_refused(const std::string& device, const modbus::refused_read& r) {
    const store::refused_read row{device, read_function(r.kind), r.start, r.count};
    if (auto done = parts_->queue->add_refused_read(row); !done) {
        spdlog::warn("device {}: cannot remember in the store that it refused the read at {}: {}", device, r.start,
                     done.error().message());
    }
}

void app::subscribe_commands() {
    auto& p = *parts_;
    for (const auto& filter : p.commands.filters()) {
        if (!p.subscribed.insert(filter).second) continue;
        // One filter per SUBSCRIBE, each checked first: a filter that cannot
        // be encoded would otherwise take every other command topic with it.
        if (const auto bad = mqtt::check_topic_filter(filter)) {
            spdlog::error("commands: cannot subscribe to {}: {}; its commands get no answer", filter, bad.message());
            continue;
        }
        p.client.subscribe(filter, mqtt::qos::at_least_once, [this](const mqtt::message& m) { on_command(m); });
    }
}

void app::arm_reload() {
    parts_->reload_signals.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec || stopping_) return;
        spdlog::info("SIGHUP received: reloading {}", config_path_);
        reload();
        arm_reload();
    });
}

// Re-reads the configuration. A file that fails validation is refused and
// the running configuration stays. Buses whose settings and devices are the
// same keep polling; the others are stopped and started anew. Changes to the
// broker, store, control or availability settings need a restart.
nlohmann::json app::reload() {
    auto& p = *parts_;
    const auto refuse = [&](std::string why) {
        spdlog::error("reload refused, the running configuration stays: {}", why);
        p.last_reload_error = why;
        return nlohmann::json{{"reloaded", false}, {"error", std::move(why)}};
    };
    if (config_path_.empty()) return refuse("the service was not started from a file");
    config::gateway next;
    try {
        next = config::load_file(config_path_);
    } catch (const config::config_error& e) {
        for (const auto& d : e.diagnostics()) spdlog::error("{}", config::to_string(d));
        return refuse(e.diagnostics().empty() ? std::string("invalid configuration")
                                              : config::to_string(e.diagnostics().front()) +
                                                    (e.diagnostics().size() > 1
                                                         ? " (and " + std::to_string(e.diagnostics().size() - 1) +
                                                               " more)"
                                                         : ""));
    } catch (const std::exception& e) {
        return refuse(e.what());
    }
    if (!(next.mqtt == cfg_.mqtt) || !(next.store == cfg_.store) || !(next.control == cfg_.control) ||
        !(next.availability.gateway_topic == cfg_.availability.gateway_topic)) {
        return refuse("the mqtt, store, control or availability.gateway_topic settings changed; restart the service "
                      "to apply them");
    }

    std::vector<std::unique_ptr<modbus::bus_worker>> kept;
    std::size_t restarted = 0;
    for (auto& w : p.workers) {
        const auto find_bus = [&](const config::gateway& g) {
            return std::find_if(g.buses.begin(), g.buses.end(), [&](const auto& b) { return b.name == w->name(); });
        };
        const auto before = find_bus(cfg_);
        const auto after = find_bus(next);
        if (after != next.buses.end() && before != cfg_.buses.end() && *before == *after &&
            devices_on(cfg_, w->name()) == devices_on(next, w->name())) {
            kept.push_back(std::move(w));
        } else {
            // Not joined here: its request in flight may take up to the
            // device's timeout, longer than the watchdog allows the core.
            ++p.bus_generation[w->name()];
            p.retiring.retire(std::move(w), [this](const std::string& bus) {
                asio::post(io_, [this, bus] { previous_worker_gone(bus); });
            });
            ++restarted;
        }
    }
    give_up_held("the configuration was reloaded before the device came back");
    cfg_ = std::move(next);
    p.mapper = std::make_unique<point_mapper>(borrowed(cfg_));
    p.commands = command_table(cfg_);
    std::map<std::string, device_health> health;
    for (const auto& d : cfg_.devices) {
        auto h = p.health.count(d.name) ? p.health[d.name] : device_health{};
        h.offline_after = d.offline_after;
        health[d.name] = h;
    }
    p.health = std::move(health);
    const auto kept_count = kept.size();
    start_buses(std::move(kept), true);
    subscribe_commands();
    ++p.reloads;
    p.last_reload_error.clear();
    spdlog::info("configuration reloaded: {} bus(es) kept polling, {} stopped, {} started; {} device(s)", kept_count,
                 restarted, p.workers.size() - kept_count, cfg_.devices.size());
    return {{"reloaded", true}, {"buses_kept", kept_count}, {"devices", cfg_.devices.size()}};
}

// A worker stopped by a reload has finished its last request: the workers
// that waited for its link (busy() in start_buses) may connect now.
void app::previous_worker_gone(const std::string& bus) {
    if (stopping_) return;
    auto& p = *parts_;
    spdlog::info("bus {}: its previous worker has stopped", bus);
    for (auto& w : p.workers) {
        if (!w->started() && !p.retiring.busy(w->settings())) w->start();
    }
}

// The watchdog is fed from the core loop itself: if the loop hangs, the pings
// stop and systemd restarts the service (WatchdogSec=).
void app::feed_watchdog(std::chrono::microseconds interval) {
    notify_watchdog();
    parts_->watchdog_timer.expires_after(interval);
    parts_->watchdog_timer.async_wait([this, interval](const boost::system::error_code& ec) {
        if (!ec) feed_watchdog(interval);
    });
}

nlohmann::json app::status() const {
    const auto& p = *parts_;
    const auto now = std::chrono::system_clock::now();
    const auto age = [&](std::optional<std::chrono::system_clock::time_point> t) -> nlohmann::json {
        if (!t) return nullptr;
        return std::chrono::duration<double>(now - *t).count();
    };
    const auto since = [](std::optional<std::chrono::system_clock::time_point> t) -> nlohmann::json {
        if (!t) return nullptr;
        return iso8601_utc_ms(*t);
    };
    const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.started).count();
    const auto c = p.client.stats();
    nlohmann::json broker = {{"host", c.server.host.empty() ? cfg_.mqtt.host : c.server.host},
                             {"port", c.server.host.empty() ? cfg_.mqtt.port : c.server.port},
                             {"failovers", c.failovers},
                             {"tls", cfg_.mqtt.tls.enabled},     {"state", state_name(p.client.state())},
                             {"connects", c.connects},           {"disconnects", c.disconnects},
                             {"last_error", c.last_error},       {"queued", c.queued},
                             {"inflight", c.inflight},           {"published", c.published},
                             {"acknowledged", c.acknowledged}, {"protocol", cfg_.mqtt.protocol == config::mqtt_protocol::v5 ? "5" : "3.1.1"},
                             {"client_id", cfg_.mqtt.client_id}, {"connected_since", since(p.connected_since)},
                             {"reconnects", c.connects > 0 ? c.connects - 1 : 0},
                             {"refused", c.refused},
                             {"downgraded", c.downgraded},
                             {"keepalive_s", c.keepalive.count()}};
    if (cfg_.mqtt.protocol == config::mqtt_protocol::v5 && p.client.state() == mqtt::link_state::connected) {
        broker["limits"] = {{"receive_maximum", c.limits.receive_maximum},
                            {"maximum_packet_size", c.limits.maximum_packet_size},
                            {"maximum_qos", static_cast<int>(c.limits.maximum_qos)},
                            {"retain_available", c.limits.retain_available},
                            {"topic_alias_maximum", c.limits.topic_alias_maximum}};
    }
    const auto q = p.queue->stats();
    const auto& qc = p.queue->counters();
    const auto& f = p.forward.stats();
    nlohmann::json queue = {{"path", p.queue->path().string()},
                            {"messages", q.rows},
                            {"bytes", q.bytes},
                            {"oldest_age_s", age(q.oldest)},
                            {"stored", f.stored},
                            {"delivered", f.delivered},
                            {"refused", f.refused},
                            {"refused_by_broker", f.refused_by_broker},
                            {"dropped", {{"by_messages", qc.dropped_by_rows},
                                         {"by_bytes", qc.dropped_by_bytes},
                                         {"by_age", qc.dropped_by_age}}},
                            {"disk_full", qc.disk_full},
                            {"commits", qc.commits},
                            {"commits_per_s", uptime > 0 ? static_cast<double>(qc.commits) / uptime : 0.0},
                            {"ledger_errors", f.ledger_errors},
                            {"lost_uncommitted", qc.lost_uncommitted},
                            {"resyncs", f.resyncs}};
    nlohmann::json buses = nlohmann::json::array();
    for (const auto& w : p.workers) {
        const auto b = w->counters();
        buses.push_back({{"name", w->name()},
                         {"started", w->started()},  // false while its predecessor finishes a request
                         {"polls", b.polls},
                         {"requests", b.requests},
                         {"failures", b.failures},
                         {"timeouts", b.timeouts},
                         {"exceptions", b.exceptions},
                         {"reconnects", b.reconnects},
                         {"utilisation", b.utilisation()}});
    }
    nlohmann::json devices = nlohmann::json::array();
    bool all_online = true;
    for (const auto& d : cfg_.devices) {
        const auto& h = p.health.at(d.name);
        if (h.state() == device_state::offline) all_online = false;
        modbus::device_counters dc;
        const auto index = static_cast<std::size_t>(&d - cfg_.devices.data());
        if (const auto [worker, local] = p.routes[index]; worker != nullptr) dc = worker->counters(local);
        devices.push_back({{"name", d.name},
                           {"bus", d.bus},
                           {"unit_id", d.unit_id},
                           {"state", to_string(h.state())},
                           {"state_since", since(h.state_since)},
                           {"poll_interval_s", std::chrono::duration<double>(d.poll_interval).count()},
                           {"last_poll_duration_s", std::chrono::duration<double>(dc.last_poll_duration).count()},
                           {"requests", dc.requests},
                           {"retries", dc.retries},
                           {"errors", {{"timeout", dc.timeouts}, {"exception", dc.exceptions}, {"other", dc.other_errors}}},
                           {"last_poll_age_s", age(h.last_poll)},
                           {"last_good_age_s", age(h.last_good)},
                           {"polls", h.polls},
                           {"missed_polls", dc.missed_polls},
                           {"failed_polls", h.failed_polls},
                           {"consecutive_failures", h.consecutive_failures},
                           {"last_error", h.last_error}});
    }
    const bool healthy = p.client.state() == mqtt::link_state::connected && all_online;
    const nlohmann::json configuration = {{"path", config_path_},
                                          {"reloads", p.reloads},
                                          {"last_reload_error", p.last_reload_error}};
    auto commands = to_json(p.command_count);
    std::size_t held = 0;
    for (const auto& [name, waiting] : p.held) held += waiting.size();
    commands["held"] = held;
    commands["pending_replies"] = *p.pending_replies;
    return {{"version", std::string(fieldbridge::version)},
            {"config", configuration},
            {"commands", commands},
            {"started", iso8601_utc_ms(started_at_)},
            {"uptime_s", uptime},
            {"healthy", healthy},
            {"broker", broker},
            {"queue", queue},
            {"buses", buses},
            {"buses_stopping", p.retiring.names()},
            {"devices", devices}};
}

nlohmann::json app::points(const std::string& device_filter) const {
    const auto& p = *parts_;
    const auto now = std::chrono::system_clock::now();
    nlohmann::json out = nlohmann::json::array();
    bool known = device_filter.empty();
    for (const auto& d : cfg_.devices) {
        if (!device_filter.empty() && d.name != device_filter) continue;
        known = true;
        for (std::size_t i = 0; i < d.points.size(); ++i) {
            const auto& pt = d.points[i];
            nlohmann::json row = {{"device", d.name},
                                  {"point", pt.name},
                                  {"unit", pt.unit},
                                  {"topic", p.mapper->topic(d.name, i)},
                                  {"value", nullptr},
                                  {"quality", "none"},
                                  {"error", ""},
                                  {"age_s", nullptr}};
            if (const auto* r = p.mapper->latest(d.name, i)) {
                const auto payload = nlohmann::json::parse(json_payload(pt, *r));
                row["value"] = payload.at("value");
                row["quality"] = payload.at("quality");
                if (payload.contains("error")) row["error"] = payload.at("error");
                row["age_s"] = std::chrono::duration<double>(now - r->time).count();
            }
            out.push_back(std::move(row));
        }
    }
    if (!known) throw std::runtime_error("no device named " + device_filter);
    return out;
}

// Where the answer to command m goes: its MQTT 5 Response Topic, with its
// Correlation Data, when it names one; else the configured reply topic. The
// payload is filled in by the caller.
static mqtt::message reply_address(const mqtt::message& m, const std::string& configured) {
    // A Response Topic that is no topic name (a wildcard, say) cannot be
    // published to; the answer then goes to the configured topic.
    const bool usable = !m.response_topic.empty() && !mqtt::check_topic_name(m.response_topic);
    return mqtt::message{usable ? m.response_topic : configured, {}, mqtt::qos::at_least_once, false, {},
                         m.correlation_data};
}

// A command from MQTT: checked here, written by the bus worker, answered on
// the reply topic in every case, except a retained one (ignored) and one on a
// topic longer than any command topic (dropped: it names no point, and its
// reply topic would be as long). Nothing a message brings is kept beyond
// the bounds in commands.hpp; what goes past one is counted.
void app::on_command(const mqtt::message& m) {
    if (stopping_) return;
    auto& p = *parts_;
    ++p.command_count.received;
    if (m.retain && !cfg_.commands.accept_retained) {
        spdlog::info("ignoring the retained command on {} (commands.accept_retained is off)", shortened(m.topic));
        return;
    }
    if (m.topic.size() > p.commands.topic_limit()) {
        ++p.command_count.topic_too_long;
        if (const auto held = p.log_limit.admit("command topic too long", std::chrono::steady_clock::now())) {
            spdlog::warn("command on {} dropped unanswered: its topic is longer than any command topic ({} bytes){}",
                         shortened(m.topic), p.commands.topic_limit(), log_limiter::suffix(*held));
        }
        return;
    }
    const auto* target = p.commands.find(m.topic);
    const auto configured_reply = p.commands.reply_topic_for(m.topic);
    if (m.response_topic.size() > max_command_topic || m.correlation_data.size() > max_correlation_data) {
        ++p.command_count.reply_address_too_long;
        return refuse_command(m.topic, mqtt::message{configured_reply, {}, mqtt::qos::at_least_once, false},
                              command_id(m.payload),
                              "the Response Topic is longer than " + std::to_string(max_command_topic) +
                                  " bytes or the Correlation Data longer than " +
                                  std::to_string(max_correlation_data));
    }
    const auto reply_topic = reply_address(m, configured_reply);
    if (m.payload.size() > max_command_payload) ++p.command_count.payload_too_large;
    if (target && target->whole_device) return on_device_command(m, *target, reply_topic);
    auto decision = decide_point_command(cfg_, target, m.topic, m.payload);
    const auto id = decision.id;
    const auto refuse = [this, topic = m.topic, reply_topic, id](const std::string& why) {
        refuse_command(topic, reply_topic, id, why);
    };
    if (!decision.write) return refuse(decision.refusal);
    const auto& device = cfg_.devices[decision.write->device];
    const auto& point = device.points[decision.write->point];
    auto [worker, local] = p.routes[decision.write->device];
    if (worker == nullptr) return refuse("device " + device.name + " is not polled");
    auto go = [this, worker, local, point_index = decision.write->point, value = std::move(decision.write->value),
               reply_topic, id, device = device.name, point] {
        worker->write(local, point_index, value, [this, reply_topic, id, device, point](modbus::point_result r) {
            // On the worker thread: back to the core.
            asio::post(io_, [this, reply_topic, id, device, point, r = std::move(r)] {
                if (!stopping_) command_done(reply_topic, id, device, point, r);
            });
        });
    };
    when_online(device.name, std::move(go), refuse);
}

void app::refuse_command(const std::string& topic, const mqtt::message& reply_topic, const std::optional<std::string>& id,
                         const std::string& why) {
    auto& p = *parts_;
    ++p.command_count.refused;
    // A client repeating a bad command must not flood the journal: one line
    // a minute per command topic, and one for all topics that name no point
    // (a flood of made-up topics is one kind of trouble, not thousands).
    const auto key = p.commands.find(topic) ? "command " + topic : std::string("command on a topic naming no point");
    if (const auto held = p.log_limit.admit(key, std::chrono::steady_clock::now())) {
        spdlog::warn("command on {} refused: {}{}", shortened(topic), shortened(why, 400), log_limiter::suffix(*held));
    }
    auto answer = reply_topic;
    answer.payload = reply_payload(id, false, why, nullptr, 0);
    send_reply(std::move(answer));
}

// Replies bypass the queue and wait in the client while the link is down or
// slow: their number is bounded, a reply past the bound is not sent (counted).
void app::send_reply(mqtt::message answer) {
    auto& p = *parts_;
    if (*p.pending_replies >= max_pending_replies) {
        ++p.command_count.replies_dropped;
        if (const auto held = p.log_limit.admit("command replies dropped", std::chrono::steady_clock::now())) {
            spdlog::warn("command reply to {} not sent: {} replies already wait for the broker{}",
                         shortened(answer.topic), max_pending_replies, log_limiter::suffix(*held));
        }
        return;
    }
    ++*p.pending_replies;
    p.client.publish(std::move(answer), [pending = p.pending_replies](std::error_code) { --*pending; });
}

// Several points of one device in one command: all are checked before any is
// written, then written in the order given, and answered together.
void app::on_device_command(const mqtt::message& m, const command_target& target, const mqtt::message& reply_topic) {
    auto parsed = parse_device_command(m.payload);
    const std::optional<std::string> id = parsed.id;
    const auto refuse = [this, topic = m.topic, reply_topic, id](const std::string& why) {
        refuse_command(topic, reply_topic, id, why);
    };
    if (!parsed.command) return refuse(parsed.error);
    const auto& device = cfg_.devices[target.device];
    struct one_write {
        std::size_t point;
        modbus::value value;
    };
    std::vector<one_write> writes;
    for (const auto& [name, v] : parsed.command->values) {
        const auto pt = std::find_if(device.points.begin(), device.points.end(), [&](const auto& x) { return x.name == name; });
        if (pt == device.points.end()) {
            return refuse("device " + device.name + " has no point named '" + shortened(name) + "'");
        }
        std::string why;
        auto value = write_value(device, *pt, v, why);
        if (!value) return refuse(why);
        writes.push_back({static_cast<std::size_t>(pt - device.points.begin()), std::move(*value)});
    }
    auto [worker, local] = parts_->routes[target.device];
    if (worker == nullptr) return refuse("device " + device.name + " is not polled");
    struct progress {
        std::size_t remaining;
        nlohmann::json values = nlohmann::json::object();
        nlohmann::json errors = nlohmann::json::object();
    };
    auto go = [this, worker, local, writes = std::move(writes), reply_topic, id, device] {
        auto state = std::make_shared<progress>(progress{writes.size()});
        for (const auto& w : writes) {
            const auto& point = device.points[w.point];
            worker->write(local, w.point, w.value, [this, state, reply_topic, id, device = device.name, point](modbus::point_result r) {
                asio::post(io_, [this, state, reply_topic, id, device, point, r = std::move(r)] {
                    if (stopping_) return;
                    if (r.error) {
                        nlohmann::json e = {{"error", r.error.message()}};
                        if (modbus::is_exception(r.error)) e["modbus_exception"] = r.error.value();
                        state->errors[point.name] = e;
                        spdlog::warn("command to {}/{} failed: {}", device, point.name, r.error.message());
                    } else {
                        state->values[point.name] = point_value(point, r.readback);
                        publish_written(device, point, r.readback);
                    }
                    if (--state->remaining > 0) return;
                    nlohmann::json j = {{"id", id ? nlohmann::json(*id) : nlohmann::json(nullptr)},
                                        {"ok", state->errors.empty()},
                                        {"values", state->values}};
                    if (!state->errors.empty()) j["errors"] = state->errors;
                    auto answer = reply_topic;
                    answer.payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                    send_reply(std::move(answer));
                });
            });
        }
    };
    when_online(device.name, std::move(go), refuse);
}

// Runs go now, unless the device is offline: then the command waits for it
// up to commands.max_age (0: refused at once), at most max_held_per_device
// per device and max_held_commands in all.
void app::when_online(const std::string& device, std::function<void()> go,
                      std::function<void(const std::string&)> give_up) {
    auto& p = *parts_;
    if (p.health.at(device).state() != device_state::offline) return go();
    const auto max_age = cfg_.commands.max_age;
    if (max_age.count() <= 0) return give_up("device " + device + " is offline");
    std::size_t held = 0;
    for (const auto& [name, waiting] : p.held) held += waiting.size();
    auto& queue = p.held[device];
    if (queue.size() >= max_held_per_device || held >= max_held_commands) {
        ++p.command_count.held_full;
        return give_up("device " + device + " is offline and " +
                       (queue.size() >= max_held_per_device
                            ? std::to_string(queue.size()) + " commands already wait for it"
                            : std::to_string(held) + " commands already wait for offline devices"));
    }
    queue.push_back({std::chrono::steady_clock::now() + max_age, std::move(go), std::move(give_up)});
    spdlog::info("command for offline device {} held for up to {} ms", device, max_age.count());
    expire_held();
}

void app::release_held(const std::string& device) {
    auto& p = *parts_;
    const auto it = p.held.find(device);
    if (it == p.held.end()) return;
    auto queue = std::move(it->second);
    p.held.erase(it);
    if (!queue.empty()) spdlog::info("device {} is back: writing {} held command(s)", device, queue.size());
    for (auto& c : queue) c.go();
}

void app::give_up_held(const std::string& why) {
    auto held = std::move(parts_->held);
    parts_->held.clear();
    for (auto& [device, queue] : held) {
        for (auto& c : queue) c.give_up(why);
    }
}

// Answers held commands whose time is up; armed for the next deadline.
void app::expire_held() {
    auto& p = *parts_;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = p.held.begin(); it != p.held.end();) {
        auto& queue = it->second;
        while (!queue.empty() && queue.front().deadline <= now) {
            auto c = std::move(queue.front());
            queue.pop_front();
            c.give_up("device " + it->first + " stayed offline for longer than commands.max_age (" +
                      std::to_string(cfg_.commands.max_age.count()) + " ms); not written");
        }
        it = queue.empty() ? p.held.erase(it) : std::next(it);
    }
    if (p.held.empty()) return;
    auto next = std::chrono::steady_clock::time_point::max();
    for (const auto& [device, queue] : p.held) next = std::min(next, queue.front().deadline);
    if (p.held_timer && p.held_timer->expiry() <= next) return;
    if (p.held_timer) p.held_timer->cancel();
    p.held_timer = std::make_unique<asio::steady_timer>(io_, next);
    p.held_timer->async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        parts_->held_timer.reset();
        expire_held();
    });
}

// `fieldbridge read` / `write` through the running service: the request
// takes its turn on the bus worker (before polls, like an MQTT command), so
// the bus is not fought over. A write is checked like an MQTT command but is
// not refused for an offline device: the operator is there to see the answer.
void app::control_access(const nlohmann::json& request, bool write, std::function<void(nlohmann::json)> respond) {
    const auto refuse = [&](const std::string& why) { respond({{"ok", false}, {"refused", true}, {"error", why}}); };
    if (!request.contains("device") || !request["device"].is_string() || !request.contains("point") ||
        !request["point"].is_string()) {
        return refuse("the request needs \"device\" and \"point\" (strings)");
    }
    if (write && !request.contains("value")) return refuse("the request needs a \"value\"");
    std::string why;
    const auto where = find_point(cfg_, request["device"].get<std::string>(), request["point"].get<std::string>(), why);
    if (!where) return refuse(why);
    const auto& device = cfg_.devices[where->first];
    const auto& point = device.points[where->second];
    std::optional<modbus::value> value;
    if (write) {
        value = write_value(device, point, request["value"], why);
        if (!value) return refuse(why);
    }
    auto [worker, local] = parts_->routes[where->first];
    if (worker == nullptr) return refuse("device " + device.name + " is not polled");
    auto done = [this, respond = std::move(respond), device = device.name, point, write](modbus::point_result r) {
        // On the worker thread: back to the core.
        asio::post(io_, [this, respond, device, point, write, r = std::move(r)] {
            respond(access_answer(point, r));
            if (write && !r.error && !stopping_) publish_written(device, point, r.readback);
        });
    };
    if (write) {
        spdlog::info("control: write of {} to {}/{}", request["value"].dump(), device.name, point.name);
        worker->write(local, where->second, std::move(*value), std::move(done));
    } else {
        worker->read(local, where->second, std::move(done));
    }
}

// What went wrong in a poll, once per device and reason per minute: a
// device that times out every second says so in the journal without
// drowning everything else.
void app::log_bad_points(const modbus::poll_result& r) {
    std::map<std::string, std::size_t> reasons;
    for (const auto& s : r.samples) {
        if (!s.quality.good) ++reasons[s.quality.error.message()];
    }
    for (const auto& [why, count] : reasons) {
        if (const auto held = parts_->log_limit.admit("poll " + r.device + why, std::chrono::steady_clock::now())) {
            spdlog::warn("device {}: {} of {} point(s) bad: {}{}", r.device, count, r.samples.size(), why,
                         log_limiter::suffix(*held));
        }
    }
}

void app::command_done(const mqtt::message& reply_topic, const std::optional<std::string>& id, const std::string& device,
                       const config::point& point, const modbus::point_result& r) {
    if (r.error) {
        spdlog::warn("command to {}/{} failed: {}", device, point.name, r.error.message());
        reply(reply_topic, id, false, r.error.message(), nullptr,
              modbus::is_exception(r.error) ? r.error.value() : 0);
        return;
    }
    reply(reply_topic, id, true, {}, point_value(point, r.readback), 0);
    publish_written(device, point, r.readback);
}

void app::publish_written(const std::string& device, const config::point& point, const std::vector<std::uint16_t>& words) {
    const auto now = std::chrono::system_clock::now();
    // The new state goes out at once (when it changed), not at the next poll;
    // the point is looked up again in case a reload came in between.
    const auto d = std::find_if(cfg_.devices.begin(), cfg_.devices.end(), [&](const auto& x) { return x.name == device; });
    if (d == cfg_.devices.end()) return;
    const auto pt = std::find_if(d->points.begin(), d->points.end(), [&](const auto& x) { return x.name == point.name; });
    if (pt == d->points.end() || !(*pt == point)) return;
    const auto index = static_cast<std::size_t>(pt - d->points.begin());
    modbus::poll_result state{device, now, {modbus::sample{index, words, {true, {}}}}, {}, {}};
    if (parts_->health[device].record_answer(now)) publish_availability(device, parts_->health[device].state());
    parts_->forward.submit(parts_->mapper->map(state, std::chrono::steady_clock::now()), now);
}

void app::reply(const mqtt::message& reply_to, const std::optional<std::string>& id, bool ok, const std::string& error,
                const nlohmann::json& value, int exception) {
    // Straight to the client, not through the queue: an answer is for the
    // caller waiting now, not worth a disk commit ahead of it.
    auto answer = reply_to;
    answer.payload = reply_payload(id, ok, error, value, exception);
    send_reply(std::move(answer));
}

namespace {

using config::availability_topic;

}  // namespace

// Retained, through the queue, so that it keeps its place among the values.
void app::publish_availability(const std::string& device, device_state state) {
    spdlog::log(state == device_state::offline ? spdlog::level::warn : spdlog::level::info, "device {} is {}",
                device, to_string(state));
    const nlohmann::json j = {{"state", to_string(state)}, {"ts", iso8601_utc_ms(std::chrono::system_clock::now())}};
    parts_->forward.submit(
        {mqtt::message{availability_topic(cfg_.availability.device_topic, cfg_, device), j.dump(),
                       mqtt::qos::at_least_once, true}},
        std::chrono::system_clock::now());
}

// After every connect: replaces the retained last will ("offline").
void app::publish_birth() {
    const nlohmann::json j = {{"state", "online"},
                              {"version", std::string(fieldbridge::version)},
                              {"since", iso8601_utc_ms(started_at_)}};
    parts_->client.publish(mqtt::message{availability_topic(cfg_.availability.gateway_topic, cfg_, ""), j.dump(),
                                         mqtt::qos::at_least_once, true});
}

// Old messages leave the queue once a minute (store.max_age).
void app::expire_queue() {
    parts_->forward.expire(std::chrono::system_clock::now());
    parts_->expiry_timer.expires_after(std::chrono::minutes(1));
    parts_->expiry_timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) expire_queue();
    });
}

void app::stop() {
    asio::post(io_, [this] { shutdown(); });
}

void app::shutdown() {
    if (stopping_.exchange(true)) return;
    auto& p = *parts_;
    if (p.held_timer) p.held_timer->cancel();
    give_up_held("the gateway is shutting down");
    notify_stopping();
    p.watchdog_timer.cancel();
    p.expiry_timer.cancel();
    p.reload_signals.cancel();
    p.control->stop();
    p.signals.cancel();
    // Polling stops first so that nothing new is produced while the client
    // says goodbye. The workers are joined off the core thread (one may be
    // inside a request for up to its timeout); run() waits for them, bounded,
    // once the core loop is over.
    p.routes.assign(p.routes.size(), {nullptr, 0});
    for (auto& w : p.workers) p.retiring.retire(std::move(w));
    p.workers.clear();
    p.shutdown_timer.expires_after(std::chrono::seconds(5));
    p.shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        spdlog::warn("broker did not take the DISCONNECT in time; closing");
        io_.stop();
    });
    const auto stop_client = [this] {
        parts_->client.stop([this] {
            parts_->shutdown_timer.cancel();
            parts_->work.reset();
            io_.stop();
        });
    };
    if (p.client.state() != mqtt::link_state::connected) return stop_client();
    // Say goodbye on the status topic (the broker drops the will on DISCONNECT),
    // then disconnect once the broker has it.
    p.client.publish(mqtt::message{availability_topic(cfg_.availability.gateway_topic, cfg_, ""),
                                   R"({"state":"offline"})", mqtt::qos::at_least_once, true},
                     [stop_client](std::error_code) { stop_client(); });
}

}  // namespace fieldbridge::gateway
