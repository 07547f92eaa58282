#include "gateway/point_mapper.hpp"

#include "gateway/sparkplug_node.hpp"

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

point_mapper::point_mapper(std::shared_ptr<const config::gateway> shared, std::shared_ptr<const point_topics> topics)
    : cfg_(std::move(shared)), topics_(topics ? std::move(topics) : std::make_shared<const point_topics>(*cfg_)) {
    const auto& cfg = *cfg_;
    std::size_t count = 0;
    for (const auto& device : cfg.devices) count += device.points.size();
    if (topics_->size() != count) throw std::invalid_argument("the points' topics are of another configuration");
    points_.resize(count);
    for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
        const auto& device = cfg.devices[di];
        if (!topics_->placed(di)) throw std::invalid_argument("device " + device.name + ": unknown bus");
        std::string device_topic;
        if (cfg.publish.format == config::payload_format::device) {
            const auto b = std::find_if(cfg.buses.begin(), cfg.buses.end(),
                                        [&](const config::bus& x) { return x.name == device.bus; });
            device_topic = config::expand_topic(cfg.publish.device_topic, cfg.publish, device, config::point{}, *b);
        }
        devices_.emplace(device.name, device_state{&device, topics_->index(di, 0), di, std::move(device_topic)});
    }
}

const point_mapper::point_state* point_mapper::find(const std::string& device, std::size_t point) const {
    const auto it = devices_.find(device);
    if (it == devices_.end() || point >= it->second.device->points.size()) return nullptr;
    return &points_[it->second.first + point];
}

std::string_view point_mapper::topic(const std::string& device, std::size_t point) const {
    const auto* ps = find(device, point);
    if (ps == nullptr) throw std::out_of_range("no point " + std::to_string(point) + " of device " + device);
    return topics_->topic(static_cast<std::size_t>(ps - points_.data()));
}

std::optional<reading> point_mapper::latest(const std::string& device, std::size_t point) const {
    const auto* ps = find(device, point);
    if (ps == nullptr || !ps->latest.is_set()) return std::nullopt;
    return reading{ps->latest.get(), ps->latest_error, ps->latest_time};
}

std::vector<mqtt::message> point_mapper::map(const modbus::poll_result& result,
                                             std::chrono::steady_clock::time_point now) {
    std::vector<mqtt::message> out;
    const auto it = devices_.find(result.device);
    if (it == devices_.end()) {
        counters_.unknown += result.samples.size();
        return out;
    }
    std::vector<point_reading> batch;
    for (const auto& sample : result.samples) map_sample(it->second, sample, result.time, now, out, batch);
    device_message(it->second, batch, result.time, out);
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
    std::vector<point_reading> batch;
    map_sample(it->second, modbus::sample{point, words, {true, {}}}, time, now, out, batch);
    device_message(it->second, batch, time, out);
    return out;
}

void point_mapper::map_sample(device_state& state, const modbus::sample& sample,
                              std::chrono::system_clock::time_point time, std::chrono::steady_clock::time_point now,
                              std::vector<mqtt::message>& out, std::vector<point_reading>& batch) {
    ++counters_.samples;
    if (sample.point >= state.device->points.size()) {
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
    auto& ps = points_[state.first + sample.point];
    ps.latest = stored_value(r.value);
    ps.latest_error = r.error;
    ps.latest_time = time;
    if (!offer(ps.filter, filter_settings{p.deadband, cfg_->publish.heartbeat}, ps.latest, now)) {
        ++counters_.suppressed;
        return;
    }
    if (cfg_->publish.format == config::payload_format::device ||
        cfg_->publish.format == config::payload_format::sparkplug) {
        ++counters_.published;
        batch.push_back(point_reading{&p, std::move(r)});
        return;
    }
    std::optional<std::string> payload;
    switch (cfg_->publish.format) {
        case config::payload_format::json:
            payload = json_payload(p, r);
            break;
        case config::payload_format::templated:
            // validate() refuses a template format with a point that has none.
            if (const auto* t = config::effective_template(cfg_->publish, *state.device, p)) {
                payload = template_payload(*t, p, state.device->name, r, sample.words);
            }
            break;
        default:
            payload = raw_payload(p, r);
            break;
    }
    if (!payload) {
        ++counters_.suppressed;
        return;
    }
    ++counters_.published;
    out.push_back(mqtt::message{std::string(topics_->topic(state.first + sample.point)), std::move(*payload),
                                to_mqtt(p.qos), p.retain});
}

// The device's highest QoS among the points in the message; retained when
// any of them is.
void point_mapper::device_message(const device_state& state, const std::vector<point_reading>& batch,
                                  std::chrono::system_clock::time_point time, std::vector<mqtt::message>& out) const {
    if (batch.empty()) return;
    if (cfg_->publish.format == config::payload_format::sparkplug) {
        if (sparkplug_ == nullptr) return;
        if (auto m = sparkplug_->data(state.index, batch)) out.push_back(std::move(*m));
        return;
    }
    auto qos = config::quality_of_service::at_most_once;
    bool retain = false;
    for (const auto& pr : batch) {
        qos = std::max(qos, pr.point->qos);
        retain = retain || pr.point->retain;
    }
    out.push_back(mqtt::message{state.topic, device_payload(state.device->name, batch, time), to_mqtt(qos), retain});
}

}  // namespace fieldbridge::gateway
