// Turns bus worker results into MQTT messages: decode each sample with the
// point's codec settings, filter (change, deadband, heartbeat), and format
// topic and payload. Pure apart from the clock passed in; owned by the core
// thread, not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "gateway/payload.hpp"
#include "gateway/point_filter.hpp"
#include "gateway/point_topics.hpp"
#include "gateway/stored_value.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

class sparkplug_node;

class point_mapper {
public:
    // Shares the configuration, which must not change while the mapper
    // lives (the points are not copied: a 50,000-point gateway keeps one
    // copy of its point map). The points' topics are shared with the
    // command table; without them the mapper expands its own.
    explicit point_mapper(std::shared_ptr<const config::gateway> cfg,
                          std::shared_ptr<const point_topics> topics = nullptr);
    explicit point_mapper(config::gateway cfg)
        : point_mapper(std::make_shared<const config::gateway>(std::move(cfg))) {}

    // Messages to publish for one poll result, in point order. Samples of an
    // unknown device or point are counted and skipped.
    std::vector<mqtt::message> map(const modbus::poll_result& result, std::chrono::steady_clock::time_point now);

    // Messages for one point's new registers outside the poll schedule (a
    // write read back at `time`): mapped, filtered and counted like a good
    // sample of that point in a poll. An unknown device or point is counted
    // and gives none.
    std::vector<mqtt::message> map_point(const std::string& device, std::size_t point,
                                         const std::vector<std::uint16_t>& words,
                                         std::chrono::system_clock::time_point time,
                                         std::chrono::steady_clock::time_point now);

    // format: sparkplug: the edge node that makes each poll's DDATA (none:
    // nothing is published); it must outlive the mapper.
    void set_sparkplug(sparkplug_node* node) { sparkplug_ = node; }

    // The publish topic of a point (for tests and `check`); valid while the
    // mapper lives.
    std::string_view topic(const std::string& device, std::size_t point) const;

    struct counters {
        std::uint64_t samples = 0, published = 0, suppressed = 0, bad = 0, decode_errors = 0, unknown = 0;
    };
    const counters& stats() const { return counters_; }

    const config::gateway& configuration() const { return *cfg_; }

    // The latest reading of a point (whether published or not), or nullopt
    // before its first poll or for an unknown point.
    std::optional<reading> latest(const std::string& device, std::size_t point) const;

private:
    // What the mapper keeps of one point between polls: 64 bytes (a gateway
    // of 100,000 points keeps 100,000 of them). The settings stay in the
    // configuration, the topic in topics_.
    struct point_state {
        filter_state filter;
        stored_value latest;  // unset before the first reading
        std::error_code latest_error;
        std::chrono::system_clock::time_point latest_time{};
    };
    struct device_state {
        const config::device* device;
        std::size_t first;  // its first point in points_ and topics_
        std::size_t index;  // in the configuration's devices
        std::string topic;  // format: device, its publish.device_topic
    };
    const point_state* find(const std::string& device, std::size_t point) const;

    // Decodes, filters and formats one sample of the device; appends the
    // message, if any, to out, or with format: device its reading to batch.
    void map_sample(device_state& state, const modbus::sample& sample, std::chrono::system_clock::time_point time,
                    std::chrono::steady_clock::time_point now, std::vector<mqtt::message>& out,
                    std::vector<point_reading>& batch);
    // format: device: one message of the batch's readings, if any.
    void device_message(const device_state& state, const std::vector<point_reading>& batch,
                        std::chrono::system_clock::time_point time, std::vector<mqtt::message>& out) const;

    std::shared_ptr<const config::gateway> cfg_;
    std::unordered_map<std::string, device_state> devices_;
    std::vector<point_state> points_;  // every device's points, device after device
    std::shared_ptr<const point_topics> topics_;
    counters counters_;
    sparkplug_node* sparkplug_ = nullptr;
};

mqtt::qos to_mqtt(config::quality_of_service q);

}  // namespace fieldbridge::gateway
