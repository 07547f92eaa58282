// The gateway service, wired together: one io_context thread (the core) owns
// the MQTT client, the queue, the point mapper and the command dispatcher;
// one bus_worker thread per bus polls and posts its results to the core.
// Construct, then run() on the thread that should be the core.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

struct status_snapshot;
struct reload_candidate;

class app {
public:
    // config_path: where the configuration came from, for reload (SIGHUP).
    explicit app(config::gateway cfg, std::string config_path = {});
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    // Runs until SIGINT or SIGTERM, or stop(). Returns the process exit code.
    int run();

    // Thread-safe: asks run() to shut down (stop polling, flush, DISCONNECT).
    void stop();

private:
    void shutdown();
    // f runs on the core thread, unless the gateway is stopping by then
    // (with while_stopping: even then, as long as the core loop runs).
    void on_core(std::function<void()> f, bool while_stopping = false);
    status_snapshot snapshot() const;
    void publish_birth();
    // publish.format: sparkplug (app_sparkplug.cpp).
    bool sparkplug() const { return cfg_.publish.format == config::payload_format::sparkplug; }
    void start_sparkplug();
    void sparkplug_link(bool up);
    void sparkplug_births();
    void sparkplug_command(const mqtt::message& m);
    void sparkplug_reconfigured();
    mqtt::message sparkplug_goodbye();
    void register_sparkplug_will();
    void primary_host_state(const mqtt::message& m);
    // Builds the bus workers; one line per bus that could not start
    // (bus_set::not_started() gives why, by bus).
    std::vector<std::string> build_buses(bool start_now);
    void start_metrics();
    void wait_for_signal();
    // Reloads the configuration file (app_reload.cpp): read and checked on a
    // thread of its own, applied on the core thread, then answered.
    using reload_answer = std::function<void(nlohmann::json)>;
    void reload(reload_answer answer);
    void read_for_reload();
    void reload_read(reload_candidate candidate);
    void reloads_end();
    nlohmann::json apply_reload(reload_candidate candidate);

    config::gateway cfg_;
    std::string config_path_;
    boost::asio::io_context io_;
    std::atomic<bool> stopping_{false};
    std::chrono::system_clock::time_point started_at_;
    int exit_code_ = 0;  // of run(): not 0 when it stopped on a fault (systemd restarts it)
    struct parts;
    std::unique_ptr<parts> parts_;
};

}  // namespace fieldbridge::gateway
