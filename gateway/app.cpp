#include "gateway/app.hpp"

#include <sysexits.h>

#include <csignal>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "gateway/app_parts.hpp"
#include "config/topic.hpp"
#include "gateway/availability.hpp"
#include "gateway/client_options.hpp"
#include "gateway/free_memory.hpp"
#include "gateway/historical_mark.hpp"
#include "gateway/metrics_report.hpp"
#include "gateway/point_access.hpp"
#include "gateway/process_figures.hpp"
#include "gateway/service_manager.hpp"
#include "gateway/status_summary.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store_options.hpp"
#include "gateway/version.hpp"

namespace fieldbridge::gateway {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using system = std::chrono::system_clock;

app::app(config::gateway cfg, std::string config_path) : cfg_(std::move(cfg)), config_path_(std::move(config_path)) {}

app::~app() = default;

int app::run() {
    started_at_ = system::now();
    const auto store_options = store_options_from(cfg_.store);
    auto queue = store::message_store::open(store_options);
    if (!queue) {
        spdlog::critical("cannot open the message queue {}: {}", store_options.path.string(), queue.error().message());
        return EX_CANTCREAT;
    }
    spdlog::info("queue {}: {} message(s) stored", store_options.path.string(), (*queue)->stats().rows);
    parts_ = std::make_unique<parts>(*this, std::move(*queue));
    auto& p = *parts_;
    p.forward.on_damaged([this] {
        spdlog::critical("queue: the database file is damaged; stopping, to be restarted with it moved aside");
        exit_code_ = EX_SOFTWARE;
        stop();
    });
    p.control = std::make_unique<control_server>(io_.get_executor(), control_socket_path(cfg_.control));
    p.control->add("status", [this](const nlohmann::json&) { return status_report(snapshot()); });
    p.control->add("points", [this](const nlohmann::json& request) {
        return points_report(cfg_, parts_->publisher.mapper(), points_query_of(request), system::now());
    });
    p.control->add_async("reload", [this](const nlohmann::json&, const control_server::responder& respond) {
        reload(respond);
    });
    for (const bool write : {false, true}) {
        p.control->add_async(write ? "write" : "read", [this, write](const nlohmann::json& request,
                                                                     const control_server::responder& respond) {
            const auto to_core = [this](std::function<void()> f) { asio::post(io_, std::move(f)); };
            run_point_access(cfg_, parts_->buses, request, write, to_core, respond,
                             [this](const auto&... read_back) {
                                 if (!stopping_) parts_->written(read_back...);
                             });
        });
    }
    if (auto r = p.control->start(); !r) {
        // The service runs without it; `fieldbridge status` will say it cannot connect.
        spdlog::error("control socket {}: {}", p.control->path().string(), r.error().message());
    }
    if (cfg_.metrics.enabled()) start_metrics();
    p.link.attach(p.forward);
    if (sparkplug()) start_sparkplug();
    p.forward.set_order(cfg_.store.order, historical_marker(cfg_));
    if (auto r = p.forward.resume(); !r) {
        spdlog::critical("cannot resume the message queue: {}", r.error().message());
        parts_.reset();
        return EX_SOFTWARE;
    }
    p.client.on_link_state([this](mqtt::link_state s) {
        spdlog::info("broker link {}", to_string(s));
        parts_->connected_since.reset();
        if (s == mqtt::link_state::connected) {
            parts_->connected_since = system::now();
            if (sparkplug()) {
                sparkplug_link(true);
            } else {
                publish_birth();  // replaces the retained last will ("offline")
            }
        } else if (s == mqtt::link_state::disconnected && sparkplug()) {
            sparkplug_link(false);
        }
        notify_status(fmt::format("broker {}:{} {}; {} device(s) on {} bus(es)", cfg_.mqtt.host, cfg_.mqtt.port,
                                  to_string(s), cfg_.devices.size(), cfg_.buses.size()));
    });
    build_buses(false);
    p.publisher.not_polled(p.buses.not_started(), system::now());  // offline, and why
    p.dispatcher.subscribe();
    wait_for_signal();
    spdlog::info("fieldbridge starting: {} bus(es), {} device(s), broker {}:{}", cfg_.buses.size(),
                 cfg_.devices.size(), cfg_.mqtt.host, cfg_.mqtt.port);
    p.client.start();
    p.buses.start_all();
    notify_ready(fmt::format("polling {} device(s) on {} bus(es); broker {}:{} connecting", cfg_.devices.size(),
                             cfg_.buses.size(), cfg_.mqtt.host, cfg_.mqtt.port));
    // Fed from the core loop itself: if the loop hangs, the pings stop and
    // systemd restarts the service (WatchdogSec=).
    if (const auto interval = watchdog_ping_interval()) p.watchdog.start(*interval, [] { notify_watchdog(); });
    // Old messages leave the queue once a minute (store.max_age).
    p.expiry.start(std::chrono::minutes(1), [this] { parts_->forward.expire(system::now()); });
    p.release.start(release_interval, [] { release_free_memory(); });
    if (const auto every = cfg_.availability.summary_interval; every.count() > 0 && !sparkplug()) p.summary.start(every, [this] {
        if (parts_->client.state() == mqtt::link_state::connected) publish_birth();
    });
    io_.run();
    // The core loop is over, so waiting here delays no watchdog ping; a
    // worker still inside a request when the time is up is left behind,
    // silenced (this also covers a run() ended by stopping the io_context).
    for (const auto& bus : p.buses.finish(steady::now() + retiring_wait)) {
        spdlog::warn("bus {}: still inside a request; exiting without waiting for it", bus);
    }
    const bool damaged = p.forward.damaged();
    parts_.reset();
    // Closed: moved aside now, as the next start's checks may not see the damage.
    if (damaged) store::move_aside(store_options.path);
    spdlog::info("fieldbridge stopped");
    return exit_code_;
}

// From a worker or joining thread: f runs on the core, unless it is stopping.
void app::on_core(std::function<void()> f, bool while_stopping) {
    asio::post(io_, [this, f = std::move(f), while_stopping] {
        if (!stopping_ || while_stopping) f();
    });
}

// Creates the workers cfg_ needs beyond those a reload kept.
std::vector<std::string> app::build_buses(bool start_now) {
    auto not_started = parts_->buses.build(cfg_, load_refused_reads(*parts_->queue, cfg_), start_now);
    // Loading a large configuration leaves freed heap behind (YAML nodes, the
    // loader's copies, the old configuration): given back now, not carried.
    release_free_memory();
    return not_started;
}

// SIGINT and SIGTERM shut down; SIGHUP reloads the configuration file.
void app::wait_for_signal() {
    parts_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec || stopping_) return;
        if (sig != SIGHUP) {
            spdlog::info("signal {} received, shutting down", sig);
            return shutdown();
        }
        spdlog::info("SIGHUP received: reloading {}", config_path_);
        reload([](const nlohmann::json&) {});  // the outcome is logged
        wait_for_signal();
    });
}

// The online message, with the summary when availability.summary_interval is set.
void app::publish_birth() {
    const bool summary = cfg_.availability.summary_interval.count() > 0;
    parts_->client.publish(birth_message(cfg_, started_at_, summary ? status_summary(snapshot()) : nullptr));
}

status_snapshot app::snapshot() const {
    const auto& p = *parts_;
    status_snapshot s{.version = std::string(fieldbridge::version), .now = system::now(), .started = started_at_,
                      .uptime = steady::now() - p.started,
                      .configuration = {config_path_, p.reloads, p.last_reload_error, p.reload_failures},
                      .commands = p.dispatcher.counters(), .held_commands = p.dispatcher.held(),
                      .pending_replies = p.dispatcher.pending_replies(),
                      .broker = {cfg_.mqtt.host, cfg_.mqtt.port, cfg_.mqtt.tls.enabled,
                                 cfg_.mqtt.protocol == config::mqtt_protocol::v5, cfg_.mqtt.client_id,
                                 p.client.state(), p.connected_since, p.client.stats()},
                      .queue = {p.queue->path().string(), p.queue->stats(), p.queue->counters(), p.forward.stats(),
                                p.link.ack_latency()},
                      .sparkplug = {}, .buses = {}, .buses_stopping = p.buses.stopping(), .devices = {}, .process = {}};
    if (p.sparkplug) {
        s.sparkplug = status_snapshot::sparkplug_part{
            cfg_.sparkplug.group_id, config::edge_node_id(cfg_.sparkplug, cfg_.mqtt), p.sparkplug->bd_seq(),
            p.sparkplug->node().born(), cfg_.sparkplug.primary_host_id,
            p.primary_host && p.primary_host->online()};
    }
    for (const auto& w : p.buses.workers()) s.buses.push_back({w->name(), w->started(), w->counters()});
    for (std::size_t i = 0; i < cfg_.devices.size(); ++i) {
        const auto& d = cfg_.devices[i];
        s.devices.push_back(
            {d.name, d.bus, d.unit_id, d.poll_interval, p.publisher.health(d.name), p.buses.counters(i),
             p.publisher.poll_durations(d.name)});
    }
    return s;
}

// metrics.listen: the Prometheus endpoint on the core loop. The service
// runs without it when the address cannot be bound (logged).
void app::start_metrics() {
    auto& p = *parts_;
    p.metrics = std::make_unique<metrics_server>(io_.get_executor(), cfg_.metrics.address, cfg_.metrics.port, [this] {
        auto s = snapshot();
        s.process = read_process_figures();  // /proc, read for a scrape only
        return metrics_report(parts_->metric_floors.raised(std::move(s)));
    });
    if (auto r = p.metrics->start(); !r) {
        spdlog::error("metrics endpoint {}:{}: {}", cfg_.metrics.address, cfg_.metrics.port, r.error().message());
        p.metrics.reset();
        return;
    }
    const bool v6 = cfg_.metrics.address.find(':') != std::string::npos;
    spdlog::info("metrics endpoint: http://{}{}{}:{}/metrics", v6 ? "[" : "", cfg_.metrics.address, v6 ? "]" : "",
                 p.metrics->port());
}

void app::stop() {
    asio::post(io_, [this] { shutdown(); });
}

void app::shutdown() {
    if (stopping_.exchange(true)) return;
    auto& p = *parts_;
    p.held_timer.cancel();
    p.dispatcher.close("the gateway is shutting down");
    notify_stopping();
    for (auto* t : {&p.watchdog, &p.expiry, &p.summary, &p.release}) t->cancel();
    reloads_end();  // before the control server closes its connections
    p.control->stop();
    if (p.metrics) p.metrics->stop();
    p.signals.cancel();
    // Polling stops first so that nothing new is produced while the client
    // says goodbye. The workers are joined off the core thread (one may be
    // inside a request for up to its timeout); run() waits for them, bounded,
    // once the core loop is over.
    p.buses.retire_all();
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
    // then disconnect once the broker has it. A Sparkplug edge node says
    // NDEATH, its will, itself ([operational-behavior-edge-node-intentional-disconnect-ndeath]).
    // The replies of writes still out at a device go ahead of the DISCONNECT
    // (within the shutdown timer's bound).
    p.client.publish(p.sparkplug ? sparkplug_goodbye() : goodbye_message(cfg_),
                     [this, stop_client](std::error_code) { parts_->dispatcher.when_writes_answered(stop_client); });
}

}  // namespace fieldbridge::gateway
