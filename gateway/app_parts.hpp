// app::parts: what the composition root (app.cpp) builds and wires, held
// for the life of app::run(). Private to app.cpp and app_status.cpp.
#pragma once

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log_limiter.hpp"
#include "gateway/app.hpp"
#include "gateway/bus_set.hpp"
#include "gateway/client_options.hpp"
#include "gateway/client_uplink.hpp"
#include "gateway/command_dispatcher.hpp"
#include "gateway/control_server.hpp"
#include "gateway/device_publisher.hpp"
#include "gateway/forwarder.hpp"
#include "gateway/counter_floors.hpp"
#include "gateway/metrics_server.hpp"
#include "gateway/periodic_timer.hpp"
#include "gateway/refused_reads.hpp"
#include "gateway/sparkplug_node.hpp"
#include "gateway/wakeup_timer.hpp"
#include "mqtt/client.hpp"
#include "sparkplug/primary_host.hpp"

namespace fieldbridge::gateway {

struct app::parts {
    using steady = std::chrono::steady_clock;
    using system = std::chrono::system_clock;

    parts(app& a, std::unique_ptr<store::message_store> s)
        : client(a.io_.get_executor(), client_options_from(a.cfg_)), queue(std::move(s)), link(client),
          forward(*queue, link, [this] { link.arm_flush(); }, forwarder_window(a.cfg_),
                  a.cfg_.publish.format == config::payload_format::sparkplug ? config::qos0_route::stored : a.cfg_.store.qos0), topics(std::make_shared<const point_topics>(a.cfg_)),
          publisher(a.cfg_, [this](const auto& messages, system::time_point t) { forward.submit(messages, t); },
                    topics),
          signals(a.io_, SIGINT, SIGTERM, SIGHUP), shutdown_timer(a.io_),
          watchdog(a.io_.get_executor()), expiry(a.io_.get_executor()), summary(a.io_.get_executor()),
          release(a.io_.get_executor()),
          held_timer(a.io_.get_executor(), [this] { dispatcher.expire(steady::now()); }), work(a.io_.get_executor()),
          buses([&a](const std::string& bus, std::uint64_t generation, modbus::poll_result r) {
              a.on_core([&a, bus, generation, r = std::move(r)] {
                  auto& p = *a.parts_;
                  if (!p.buses.current(bus, generation)) return;  // posted before its worker retired
                  if (p.publisher.poll(r, steady::now()) != modbus::device_state::offline) p.dispatcher.device_back(r.device);
                  remember_refused_reads(*p.queue, r.device, r.refused);
              });
          }, [&a](const std::string& bus) {
              a.on_core([&a, bus] {
                  spdlog::info("bus {}: its previous worker has stopped", bus);
                  a.parts_->buses.start_waiting();
              });
          }),
          dispatcher(a.cfg_, command_ports{
              .polled = [this](std::size_t device) { return buses.route(device).first != nullptr; },
              .write = [this, &a](std::size_t device, std::size_t point, const modbus::value& v, auto done) {
                  // Answered also while the gateway stops (the reply goes out
                  // ahead of the DISCONNECT): a write it did not send, and a
                  // write the device took, whose caller must not be left to
                  // guess and send it again. A failure publishes no point value.
                  auto back = [&a, done](modbus::point_result r) { a.on_core([done, r] { done(r); }, true); };
                  if (!buses.access(device, point, v, back)) {
                      done({std::make_error_code(std::errc::operation_canceled), {}});
                  }
              },
              .offline = [this](const auto& d) { return publisher.health(d).state() == modbus::device_state::offline; },
              .publish = [this](mqtt::message m, std::function<void()> done) {
                  client.publish(std::move(m), [done = std::move(done)](std::error_code) { done(); });
              },
              .written = [this](const auto&... read_back) { written(read_back...); },
              .subscribe = [this](const std::string& filter) {
                  // 5.0 No Local: the gateway's own publications (a reply
                  // that landed on a command topic, whatever let it) never
                  // come back to it as commands. Not allowed on a shared
                  // subscription [MQTT-3.8.3-4].
                  const bool shared = filter.starts_with("$share/");
                  client.subscribe(mqtt::subscription{filter, mqtt::qos::at_least_once, !shared},
                                   [this](const mqtt::message& m) {
                                       // While stopping too: refused with the reason (close()).
                                       dispatcher.on_command(m);
                                   });
              },
              .unsubscribe = [this](const std::string& filter) { client.unsubscribe(filter); },
              .wake_at = [this](steady::time_point t) { held_timer.wake_at(t); },
              .now = [] { return steady::now(); }}, topics) {}

    // A write's read-back goes out at once, not at the next poll.
    void written(const std::string& device, const config::point& point, const std::vector<std::uint16_t>& words) {
        publisher.written(device, point, words, system::now(), steady::now());
    }

    mqtt::client client;
    std::unique_ptr<store::message_store> queue;
    client_uplink link;
    forwarder forward;
    // The points' topics, shared by the mapper and the command table.
    std::shared_ptr<const point_topics> topics;
    device_publisher publisher;
    boost::asio::signal_set signals;
    boost::asio::steady_timer shutdown_timer;
    periodic_timer watchdog, expiry, summary;
    periodic_timer release;  // freed heap pages back to the system (free_memory.hpp)
    wakeup_timer held_timer;  // the earliest deadline of a held command
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
    bus_set buses;
    command_dispatcher dispatcher;
    std::unique_ptr<control_server> control;
    std::unique_ptr<metrics_server> metrics;  // metrics.listen set
    counter_floors metric_floors;             // its counters never go down
    std::unique_ptr<sparkplug_node> sparkplug;  // publish.format: sparkplug
    std::unique_ptr<sparkplug::primary_host> primary_host;  // sparkplug.primary_host_id set
    std::uint64_t sparkplug_connection = 0;  // one more with every link change
    bool sparkplug_ending = false;           // NDEATH sent (a primary host gone offline, a stop); the link drops next
    steady::time_point last_births{};        // rebirth requests closer than a second to it are not answered
    log_limiter state_log;                   // STATE messages ignored: a line a minute
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0;
    std::string last_reload_error;
    steady::time_point started = steady::now();
    std::optional<system::time_point> connected_since;
    // Reloads (app_reload.cpp): whether a file is being read, the answers
    // waiting for the next read, and the thread reading it (declared last:
    // joined before anything else of the parts goes).
    bool reload_loading = false;
    std::vector<app::reload_answer> reload_answering;  // by the read under way
    std::vector<app::reload_answer> reload_waiting;    // by the next read
    struct joined_thread {
        std::thread thread;
        ~joined_thread() {
            if (thread.joinable()) thread.join();
        }
    } reload_thread;
};

}  // namespace fieldbridge::gateway
