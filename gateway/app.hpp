// The gateway service: one io_context thread owns the MQTT client and the
// point mapper; one bus_worker thread per bus polls and posts its results to
// that io_context. Construct, then run() on the thread that should be the core.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include <memory>

#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "gateway/commands.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

using modbus::device_health;
using modbus::device_state;

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
    void feed_watchdog(std::chrono::microseconds interval);
    void expire_queue();
    nlohmann::json status() const;
    nlohmann::json points(const std::string& device_filter) const;
    void log_bad_points(const modbus::poll_result& r);
    void remember_refused(const std::string& device, const modbus::refused_read& r);
    void publish_availability(const std::string& device, device_state state);
    void publish_birth();
    void on_command(const mqtt::message& m);
    void on_device_command(const mqtt::message& m, const command_target& target, const mqtt::message& reply_topic);
    void refuse_command(const std::string& topic, const mqtt::message& reply_to, const std::optional<std::string>& id,
                        const std::string& why);
    void send_reply(mqtt::message answer);
    void when_online(const std::string& device, std::function<void()> go, std::function<void(const std::string&)> give_up);
    void release_held(const std::string& device);
    void give_up_held(const std::string& why);
    void expire_held();
    void command_done(const mqtt::message& reply_to, const std::optional<std::string>& id, const std::string& device,
                      const config::point& point, const modbus::point_result& r);
    // Publishes a point's state read back after a write, without waiting for the next poll.
    void publish_written(const std::string& device, const config::point& point, const std::vector<std::uint16_t>& words);
    void start_buses(std::vector<std::unique_ptr<modbus::bus_worker>> running, bool start_now);
    void previous_worker_gone(const std::string& bus);
    void subscribe_commands();
    void arm_reload();
    nlohmann::json reload();
    // Control socket: one-shot read or write of a point through its bus worker.
    void control_access(const nlohmann::json& request, bool write, std::function<void(nlohmann::json)> respond);
    void reply(const mqtt::message& reply_to, const std::optional<std::string>& id, bool ok, const std::string& error,
               const nlohmann::json& value, int exception);

    config::gateway cfg_;
    std::string config_path_;
    boost::asio::io_context io_;
    std::atomic<bool> stopping_{false};
    std::chrono::system_clock::time_point started_at_;
    struct parts;
    std::unique_ptr<parts> parts_;
};

}  // namespace fieldbridge::gateway
