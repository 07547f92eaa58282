#include "gateway/sparkplug_node.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "sparkplug/metric_mapping.hpp"

namespace fieldbridge::gateway {
namespace {

sparkplug::edge_node make_node(const config::gateway& cfg, std::uint8_t bd_seq,
                               const sparkplug::edge_node* previous) {
    sparkplug::edge_node node({cfg.sparkplug.group_id, config::edge_node_id(cfg.sparkplug, cfg.mqtt)},
                              sparkplug::devices_of(cfg), previous);
    node.set_bd_seq(bd_seq);
    return node;
}

nlohmann::json to_json(const modbus::value& v) {
    return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

}  // namespace

std::uint64_t epoch_ms(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

sparkplug_node::sparkplug_node(const config::gateway& cfg, std::uint8_t bd_seq, const sparkplug_node* previous)
    : cfg_(&cfg), node_(make_node(cfg, bd_seq, previous != nullptr ? &previous->node_ : nullptr)) {}

std::vector<mqtt::message> sparkplug_node::deaths_before(const sparkplug_node& next, time_point now) {
    std::vector<mqtt::message> out;
    if (!node_.born()) return out;  // nothing was born in this session
    for (std::size_t d = 0; d < node_.device_count(); ++d) {
        if (!node_.device_is_online(d)) continue;
        const auto there = next.node_.device_named(node_.device(d).name);
        if (there && next.node_.device_is_online(*there)) continue;
        if (auto death = node_.device_offline(d, epoch_ms(now))) out.push_back(std::move(*death));
    }
    return out;
}

mqtt::will_message sparkplug_node::will(time_point now) const {
    auto m = death(now);
    return mqtt::will_message{std::move(m.topic), std::move(m.payload), m.qos, m.retain, {}};
}

std::vector<mqtt::message> sparkplug_node::births(time_point now) { return node_.births(epoch_ms(now)); }

std::optional<mqtt::message> sparkplug_node::data(std::size_t device, const std::vector<point_reading>& readings) {
    if (device >= cfg_->devices.size() || readings.empty()) return std::nullopt;
    const auto& points = cfg_->devices[device].points.items();
    std::vector<sparkplug::metric_update> updates;
    updates.reserve(readings.size());
    std::uint64_t latest = 0;
    for (const auto& r : readings) {
        if (r.point < points.data() || r.point >= points.data() + points.size()) continue;
        const auto k = static_cast<std::size_t>(r.point - points.data());
        const auto at = epoch_ms(r.value.time);
        latest = std::max(latest, at);
        updates.push_back(sparkplug::metric_update{k, sparkplug::to_wire(sparkplug::metric_type(*r.point), r.value.value), at, false});
    }
    return node_.stored_data(device, updates, latest);
}

std::optional<mqtt::message> sparkplug_node::device_state(std::size_t device, modbus::device_state state,
                                                          time_point now) {
    if (device >= cfg_->devices.size()) return std::nullopt;
    switch (state) {
        case modbus::device_state::online:
            return node_.device_online(device, epoch_ms(now));
        case modbus::device_state::offline:
            return node_.device_offline(device, epoch_ms(now));
        case modbus::device_state::unknown:
            break;
    }
    return std::nullopt;
}

std::optional<sparkplug_command> sparkplug_node::command(std::string_view topic, std::string_view payload) const {
    auto request = node_.command(topic, payload);
    if (!request) return std::nullopt;
    sparkplug_command out{request->rebirth, {}, std::move(request->refused)};
    // A metric named more than once: its last value is written, once (a
    // DCMD writes at most each point of its device).
    std::vector<bool> last(request->writes.size(), true);
    std::set<std::pair<std::size_t, std::size_t>> later;  // named after the one looked at
    for (std::size_t i = request->writes.size(); i-- > 0;) {
        last[i] = later.insert({request->writes[i].device, request->writes[i].metric}).second;
    }
    for (std::size_t i = 0; i < request->writes.size(); ++i) {
        const auto& w = request->writes[i];
        if (!last[i]) {
            out.refused.push_back("DCMD " + node_.device(w.device).name + " " +
                                  node_.device(w.device).metrics[w.metric].name +
                                  ": named again later in the same DCMD; the last value is written");
            continue;
        }
        const auto& def = node_.device(w.device);
        const auto value = sparkplug::from_wire(def.metrics[w.metric].type, w.value);
        if (const auto* why = std::get_if<std::string>(&value)) {
            out.refused.push_back("DCMD " + def.name + " " + def.metrics[w.metric].name + ": " + *why);
            continue;
        }
        out.writes.push_back({w.device, w.metric, to_json(std::get<modbus::value>(value))});
    }
    return out;
}

std::optional<std::string> rebirth_put_off(std::chrono::steady_clock::duration since_births,
                                           std::size_t unwritten_bytes) {
    if (since_births < std::chrono::seconds(1))
        return "births went out less than a second ago";
    if (unwritten_bytes > rebirth_backlog_bytes) {
        return std::to_string(unwritten_bytes) +
               " bytes wait to be written to the broker (the last births among them)";
    }
    return std::nullopt;
}

}  // namespace fieldbridge::gateway
