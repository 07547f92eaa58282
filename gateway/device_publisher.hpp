// What the devices' answers become: each poll result and each write's
// read-back updates the device's health (device_health), whose changes go
// out as retained availability messages, and the point mapper turns the
// values into point messages. Everything is handed to `submit` (the
// forwarder), in that order, so availability keeps its place among the
// values. Core thread only; does no I/O of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log_limiter.hpp"
#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "gateway/histogram.hpp"
#include "gateway/point_mapper.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

class device_publisher {
public:
    using submit_handler =
        std::function<void(const std::vector<mqtt::message>&, std::chrono::system_clock::time_point)>;

    // cfg must outlive the publisher, or be replaced through reconfigure().
    // topics: cfg's points' topics, shared with the command table (expanded
    // here when not given).
    device_publisher(const config::gateway& cfg, submit_handler submit,
                     std::shared_ptr<const point_topics> topics = nullptr);

    // After the owner replaced the configuration: a new point map; the
    // health of devices still configured is kept, under the new
    // offline_after. The retained availability follows the reload: a state
    // the new offline_after changed, or said before on a topic the device
    // no longer has, is said on its topic now; a topic no device has any
    // longer (the device removed, its topic moved) is cleared (an empty
    // retained message). With Sparkplug the owner rebirths instead.
    // The devices on the buses of `not_started` (as for not_polled()) are
    // offline before anything is said: a device whose new bus has no worker
    // is said offline, never online first.
    void reconfigure(const config::gateway& cfg, std::shared_ptr<const point_topics> topics,
                     std::chrono::system_clock::time_point now,
                     const std::map<std::string, std::string>& not_started = {});

    // A poll result of a current bus worker. Returns the device's state after it.
    modbus::device_state poll(const modbus::poll_result& r, std::chrono::steady_clock::time_point now);
    // A write read the point back as `words` at `time`: the device is there,
    // and the point's new state goes out at once (when it changed). Ignored
    // when the point is no longer configured as it was (a reload came in between).
    void written(const std::string& device, const config::point& point,
                 const std::vector<std::uint16_t>& words, std::chrono::system_clock::time_point time,
                 std::chrono::steady_clock::time_point now);

    // The devices on the buses of `not_started` (bus name -> why no worker
    // polls it) are offline for that reason (device_health::record_not_polled),
    // said at once where that changes their state.
    void not_polled(const std::map<std::string, std::string>& not_started,
                    std::chrono::system_clock::time_point now);

    // format: sparkplug: readings become the node's DDATA (through submit)
    // and health changes its DBIRTH and DDEATH, handed to publish_now (not
    // stored: a birth states the present, and the next connection's births
    // restate it). The node must outlive the publisher or be replaced.
    void set_sparkplug(sparkplug_node* node, std::function<void(mqtt::message)> publish_now);

    const modbus::device_health& health(const std::string& device) const { return devices_.at(device).health; }
    // How long the device's polls took.
    const histogram& poll_durations(const std::string& device) const { return devices_.at(device).polls; }
    const point_mapper& mapper() const { return *mapper_; }

private:
    void publish_availability(const std::string& device, modbus::device_state state,
                              std::chrono::system_clock::time_point now);
    struct device_record;
    void restate_availability(const std::map<std::string, device_record>& before,
                              std::chrono::system_clock::time_point now);
    // Hands over the device's availability when its state `changed`, and
    // the messages `values` maps: the availability first, except a DBIRTH
    // going out at once, which comes after the readings it carries.
    void publish(const std::string& device, bool changed, std::chrono::system_clock::time_point at,
                 const std::function<std::vector<mqtt::message>()>& values);
    void log_bad_points(const modbus::poll_result& r, std::chrono::steady_clock::time_point now);

    const config::gateway* cfg_;
    submit_handler submit_;
    std::unique_ptr<point_mapper> mapper_;
    // The retained availability message last handed over for a device.
    struct said_availability {
        std::string topic;
        modbus::device_state state = modbus::device_state::unknown;
    };
    struct device_record {
        modbus::device_health health;
        histogram polls;
        std::optional<said_availability> said;
    };
    std::map<std::string, device_record> devices_;
    log_limiter log_limit_;  // repeating device errors
    sparkplug_node* sparkplug_ = nullptr;
    std::function<void(mqtt::message)> publish_now_;
};

}  // namespace fieldbridge::gateway
