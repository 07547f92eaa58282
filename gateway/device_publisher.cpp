#include "gateway/device_publisher.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/log_context.hpp"
#include "config/topic.hpp"
#include "gateway/availability.hpp"
#include "gateway/sparkplug_node.hpp"

namespace fieldbridge::gateway {
namespace {

// The owner's configuration, lent to the mapper without a copy: the
// mapper is replaced whenever the configuration is (reconfigure).
std::shared_ptr<const config::gateway> borrowed(const config::gateway& cfg) {
    return std::shared_ptr<const config::gateway>(&cfg, [](const config::gateway*) {});
}

}  // namespace

device_publisher::device_publisher(const config::gateway& cfg, submit_handler submit,
                                   std::shared_ptr<const point_topics> topics)
    : cfg_(&cfg), submit_(std::move(submit)) {
    reconfigure(cfg, std::move(topics), std::chrono::system_clock::now());
}

void device_publisher::reconfigure(const config::gateway& cfg, std::shared_ptr<const point_topics> topics,
                                   std::chrono::system_clock::time_point now,
                                   const std::map<std::string, std::string>& not_started) {
    cfg_ = &cfg;
    mapper_ = std::make_unique<point_mapper>(borrowed(cfg), std::move(topics));
    mapper_->set_sparkplug(sparkplug_);
    std::map<std::string, device_record> devices;
    for (const auto& d : cfg.devices) {
        const auto it = devices_.find(d.name);
        auto& state = devices[d.name] = it != devices_.end() ? it->second : device_record{};
        state.health.set_offline_after(d.offline_after, now);
        if (const auto why = not_started.find(d.bus); why != not_started.end()) {
            state.health.record_not_polled(now, why->second);
        }
    }
    auto before = std::exchange(devices_, std::move(devices));
    if (sparkplug_ == nullptr) restate_availability(before, now);
}

void device_publisher::restate_availability(const std::map<std::string, device_record>& before,
                                            std::chrono::system_clock::time_point now) {
    std::vector<std::string> topics;  // each device's, in configuration order
    for (const auto& d : cfg_->devices) {
        topics.push_back(config::availability_topic(cfg_->availability.device_topic, *cfg_, d.name));
    }
    const std::set<std::string> in_use(topics.begin(), topics.end());
    // Cleared first: a topic that moved to another device is said anew after
    // (it is in use, so never cleared, and that device said it elsewhere).
    std::set<std::string> cleared;
    for (const auto& [name, r] : before) {
        if (r.said && !in_use.contains(r.said->topic)) cleared.insert(r.said->topic);
    }
    std::vector<mqtt::message> clear;
    for (const auto& topic : cleared) {
        spdlog::info("availability topic {} is no device's after the reload: its retained state is cleared", topic);
        clear.push_back(mqtt::message{topic, "", mqtt::qos::at_least_once, true});
    }
    if (!clear.empty()) submit_(clear, now);
    for (std::size_t i = 0; i < cfg_->devices.size(); ++i) {
        const auto& name = cfg_->devices[i].name;
        const auto& r = devices_.at(name);
        // Nothing said yet: its first poll says it (none comes without a worker).
        if (!r.said && !r.health.not_polled) continue;
        if (!r.said || r.said->topic != topics[i] || r.said->state != r.health.state()) {
            publish_availability(name, r.health.state(), now);
        }
    }
}

modbus::device_state device_publisher::poll(const modbus::poll_result& r,
                                            std::chrono::steady_clock::time_point now) {
    const log_scope on_device(log_field::device, r.device);
    auto& device = devices_[r.device];
    device.polls.observe(r.duration);
    auto& h = device.health;
    const bool changed = h.record(r);
    log_bad_points(r, now);
    publish(r.device, changed, std::chrono::system_clock::now(), [&] { return mapper_->map(r, now); });
    return h.state();
}

void device_publisher::written(const std::string& device, const config::point& point,
                               const std::vector<std::uint16_t>& words,
                               std::chrono::system_clock::time_point time,
                               std::chrono::steady_clock::time_point now) {
    const auto& devices = cfg_->devices;
    const auto d =
        std::find_if(devices.begin(), devices.end(), [&](const auto& x) { return x.name == device; });
    if (d == devices.end()) return;
    const auto pt =
        std::find_if(d->points.begin(), d->points.end(), [&](const auto& x) { return x.name == point.name; });
    if (pt == d->points.end() || !(*pt == point)) return;
    const log_scope on_device(log_field::device, device);
    const log_scope on_point(log_field::point, point.name);
    auto& h = devices_[device].health;
    const bool back = h.record_answer(time);  // an answer: any change is to online
    const auto index = static_cast<std::size_t>(pt - d->points.begin());
    publish(device, back, time, [&] { return mapper_->map_point(device, index, words, time, now); });
}

void device_publisher::not_polled(const std::map<std::string, std::string>& not_started,
                                  std::chrono::system_clock::time_point now) {
    for (const auto& d : cfg_->devices) {
        const auto why = not_started.find(d.bus);
        if (why == not_started.end()) continue;
        const bool changed = devices_[d.name].health.record_not_polled(now, why->second);
        publish(d.name, changed, now, [] { return std::vector<mqtt::message>{}; });
    }
}

void device_publisher::publish(const std::string& device, bool changed, std::chrono::system_clock::time_point at,
                               const std::function<std::vector<mqtt::message>()>& values) {
    const auto state = devices_.at(device).health.state();
    // Back online while the Sparkplug node is born: the readings are taken
    // before the DBIRTH, which goes out at once and carries them. Otherwise
    // after the availability, as the values that follow it (a DDATA for the
    // store while the node is not born: it keeps its place in the history).
    const bool values_first = changed && sparkplug_ != nullptr && sparkplug_->node().born() &&
                              state == modbus::device_state::online;
    std::vector<mqtt::message> taken;
    if (values_first) taken = values();
    if (changed) publish_availability(device, state, at);
    if (!values_first) taken = values();
    submit_(taken, at);
}

void device_publisher::set_sparkplug(sparkplug_node* node, std::function<void(mqtt::message)> publish_now) {
    sparkplug_ = node;
    publish_now_ = std::move(publish_now);
    mapper_->set_sparkplug(node);
}

// Retained, through the queue, so that it keeps its place among the values;
// with Sparkplug a DBIRTH or DDEATH, at once.
void device_publisher::publish_availability(const std::string& device, modbus::device_state state,
                                            std::chrono::system_clock::time_point now) {
    spdlog::log(state == modbus::device_state::offline ? spdlog::level::warn : spdlog::level::info,
                "device {} is {}", device, to_string(state));
    if (sparkplug_ != nullptr) {
        const auto& devices = cfg_->devices;
        const auto d = std::find_if(devices.begin(), devices.end(), [&](const auto& x) { return x.name == device; });
        if (d == devices.end()) return;
        auto m = sparkplug_->device_state(static_cast<std::size_t>(d - devices.begin()), state, now);
        if (m && publish_now_) publish_now_(std::move(*m));
        return;
    }
    auto m = availability_message(*cfg_, device, state, now);
    devices_[device].said = said_availability{m.topic, state};
    submit_({std::move(m)}, now);
}

// What went wrong in a poll, once per device and reason per minute: a
// device that times out every second says so in the journal without
// drowning everything else.
void device_publisher::log_bad_points(const modbus::poll_result& r,
                                      std::chrono::steady_clock::time_point now) {
    std::map<std::string, std::size_t> reasons;
    for (const auto& s : r.samples) {
        if (!s.quality.good) ++reasons[s.quality.error.message()];
    }
    for (const auto& [why, count] : reasons) {
        if (const auto held = log_limit_.admit("poll " + r.device + why, now)) {
            spdlog::warn("device {}: {} of {} point(s) bad: {}{}", r.device, count, r.samples.size(), why,
                         log_limiter::suffix(*held));
        }
    }
}

}  // namespace fieldbridge::gateway
