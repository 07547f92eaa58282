#include "gateway/point_mapper.hpp"

#include <algorithm>
#include <stdexcept>

#include "config/topic.hpp"

namespace fieldbridge::gateway {

mqtt::qos to_mqtt(config::quality_of_service q) {
    switch (q) {
        case config::quality_of_service::at_most_once:
            return mqtt::qos::at_most_once;
        case config::quality_of_service::at_least_once:
            return mqtt::qos::at_least_once;
        case config::quality_of_service::exactly_once:
            return mqtt::qos::exactly_once;
    }
    return mqtt::qos::at_least_once;
}

point_mapper::point_mapper(std::shared_ptr<const config::gateway> shared) : cfg_(std::move(shared)) {
    const auto& cfg = *cfg_;
    const std::chrono::milliseconds heartbeat = cfg.publish.heartbeat;
    for (const auto& device : cfg.devices) {
        const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(),
                                      [&](const config::bus& b) { return b.name == device.bus; });
        if (bus == cfg.buses.end()) throw std::invalid_argument("device " + device.name + ": unknown bus");
        device_state state{&device, {}};
        state.points.reserve(device.points.size());
        for (const auto& p : device.points) {
            const auto& tmpl = p.topic ? *p.topic : cfg.publish.topic_template;
            state.points.push_back(
                point_state{config::expand_topic(tmpl, cfg.publish, device, p, *bus), point_filter(p.deadband, heartbeat), std::nullopt});
        }
        devices_.emplace(device.name, std::move(state));
    }
}

const std::string& point_mapper::topic(const std::string& device, std::size_t point) const {
    return devices_.at(device).points.at(point).topic;
}

const reading* point_mapper::latest(const std::string& device, std::size_t point) const {
    const auto it = devices_.find(device);
    if (it == devices_.end() || point >= it->second.points.size()) return nullptr;
    const auto& l = it->second.points[point].latest;
    return l ? &*l : nullptr;
}

std::vector<mqtt::message> point_mapper::map(const modbus::poll_result& result,
                                             std::chrono::steady_clock::time_point now) {
    std::vector<mqtt::message> out;
    const auto it = devices_.find(result.device);
    if (it == devices_.end()) {
        counters_.unknown += result.samples.size();
        return out;
    }
    for (const auto& sample : result.samples) map_sample(it->second, sample, result.time, now, out);
    return out;
}

std::vector<mqtt::message> point_mapper::map_point(const std::string& device, std::size_t point,
                                                   const std::vector<std::uint16_t>& words,
                                                   std::chrono::system_clock::time_point time,
                                                   std::chrono::steady_clock::time_point now) {
    std::vector<mqtt::message> out;
    const auto it = devices_.find(device);
    if (it == devices_.end()) {
        ++counters_.unknown;
        return out;
    }
    map_sample(it->second, modbus::sample{point, words, {true, {}}}, time, now, out);
    return out;
}

void point_mapper::map_sample(device_state& state, const modbus::sample& sample,
                              std::chrono::system_clock::time_point time, std::chrono::steady_clock::time_point now,
                              std::vector<mqtt::message>& out) {
    ++counters_.samples;
    if (sample.point >= state.points.size()) {
        ++counters_.unknown;
        return;
    }
    const auto& p = state.device->points[sample.point];
    reading r{std::nullopt, sample.quality.error, time};
    if (sample.quality.good) {
        auto decoded = modbus::decode(p, sample.words);
        if (decoded) {
            r.value = std::move(*decoded);
        } else {
            ++counters_.decode_errors;
            r.error = decoded.error();
        }
    }
    if (!r.value) ++counters_.bad;
    auto& ps = state.points[sample.point];
    ps.latest = r;
    if (!ps.filter.offer(r.value, now)) {
        ++counters_.suppressed;
        return;
    }
    std::optional<std::string> payload;
    if (cfg_->publish.format == config::payload_format::json) {
        payload = json_payload(p, r);
    } else {
        payload = raw_payload(p, r);
    }
    if (!payload) {
        ++counters_.suppressed;
        return;
    }
    ++counters_.published;
    out.push_back(mqtt::message{ps.topic, std::move(*payload), to_mqtt(p.qos), p.retain});
}

}  // namespace fieldbridge::gateway
