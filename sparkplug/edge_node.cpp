#include "sparkplug/edge_node.hpp"

#include <algorithm>
#include <unordered_map>

#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::sparkplug {
namespace {

std::string type_text(message_type t) { return std::string(to_string(t)); }

// The bdSeq metric of NDEATH and NBIRTH (Int64).
metric bdseq(std::uint8_t value, std::uint64_t now_ms) {
    metric bd;
    bd.name = std::string(bdseq_metric);
    bd.datatype = data_type::int64;
    bd.timestamp = now_ms;
    bd.value = std::uint64_t{value};
    return bd;
}

// The indices 0..count-1 sorted by name_of(index), equal names in index
// order: a name is then found by binary search (find_by_name).
template <class NameOf>
std::vector<std::uint32_t> sorted_by_name(std::size_t count, NameOf name_of) {
    std::vector<std::uint32_t> sorted(count);
    for (std::size_t k = 0; k < count; ++k)
        sorted[k] = static_cast<std::uint32_t>(k);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return name_of(a) < name_of(b); });
    return sorted;
}

// The first index in `sorted` (from sorted_by_name) whose name is `name`.
template <class NameOf>
std::optional<std::size_t> find_by_name(const std::vector<std::uint32_t>& sorted, std::string_view name,
                                        NameOf name_of) {
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), name,
                                     [&](std::uint32_t k, std::string_view n) { return name_of(k) < n; });
    if (it == sorted.end() || name_of(*it) != name)
        return std::nullopt;
    return *it;
}

}  // namespace

std::string_view to_string(message_type t) {
    switch (t) {
        case message_type::nbirth:
            return "NBIRTH";
        case message_type::ndeath:
            return "NDEATH";
        case message_type::dbirth:
            return "DBIRTH";
        case message_type::ddeath:
            return "DDEATH";
        case message_type::ndata:
            return "NDATA";
        case message_type::ddata:
            return "DDATA";
        case message_type::ncmd:
            return "NCMD";
        case message_type::dcmd:
            return "DCMD";
    }
    return "?";
}

edge_node::edge_node(edge_node_settings settings, std::vector<device_definition> devices,
                     const edge_node* previous)
    : settings_(std::move(settings)),
      group_prefix_(std::string(namespace_v1) + "/" + settings_.group_id + "/"),
      ddata_prefix_(topic(message_type::ddata) + "/"),
      dbirth_prefix_(topic(message_type::dbirth) + "/"),
      dcmd_prefix_(topic(message_type::dcmd) + "/"),
      devices_(std::move(devices)),
      online_(devices_.size(), false) {
    first_alias_.reserve(devices_.size());
    aliases_.resize(devices_.size());
    by_alias_.resize(devices_.size());
    latest_.reserve(devices_.size());
    by_name_.reserve(devices_.size());
    if (previous != nullptr) next_alias_ = previous->next_alias_;
    for (std::size_t di = 0; di < devices_.size(); ++di) {
        const auto& d = devices_[di];
        latest_.emplace_back(d.metrics.size());
        by_name_.push_back(sorted_by_name(
            d.metrics.size(), [&](std::uint32_t k) -> const std::string& { return d.metrics[k].name; }));
        first_alias_.push_back(next_alias_);
        const auto before = previous != nullptr ? previous->device_index(d.name) : std::nullopt;
        if (!before) {
            next_alias_ += d.metrics.size();
            continue;
        }
        // The metrics the previous node had keep their aliases.
        std::vector<std::uint64_t> kept(d.metrics.size());
        bool in_a_row = true;
        for (std::size_t k = 0; k < d.metrics.size(); ++k) {
            const auto was = previous->metric_index(*before, d.metrics[k].name, k);
            kept[k] = was ? previous->alias(*before, *was) : next_alias_++;
            in_a_row = in_a_row && kept[k] == kept[0] + k;
        }
        if (in_a_row) {
            if (!kept.empty()) first_alias_.back() = kept[0];
            continue;
        }
        auto& sorted = by_alias_[di];
        sorted.reserve(kept.size());
        for (std::size_t k = 0; k < kept.size(); ++k) sorted.emplace_back(kept[k], static_cast<std::uint32_t>(k));
        std::sort(sorted.begin(), sorted.end());
        aliases_[di] = std::move(kept);
    }
    devices_by_name_ = sorted_by_name(
        devices_.size(), [&](std::uint32_t k) -> const std::string& { return devices_[k].name; });
}

std::optional<std::size_t> edge_node::metric_of_alias(std::size_t device, std::uint64_t alias) const {
    if (aliases_[device].empty()) {
        if (alias < first_alias_[device] || alias - first_alias_[device] >= devices_[device].metrics.size())
            return std::nullopt;
        return static_cast<std::size_t>(alias - first_alias_[device]);
    }
    const auto& sorted = by_alias_[device];
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), std::pair<std::uint64_t, std::uint32_t>{alias, 0});
    if (it == sorted.end() || it->first != alias) return std::nullopt;
    return it->second;
}

std::string edge_node::topic(message_type t) const {
    return group_prefix_ + type_text(t) + "/" + settings_.edge_node_id;
}

std::string edge_node::topic(message_type t, std::size_t device) const {
    return topic(t) + "/" + devices_.at(device).name;
}

std::vector<std::string> edge_node::command_filters() const {
    return {topic(message_type::ncmd), topic(message_type::dcmd) + "/+"};
}

std::uint64_t edge_node::next() {
    const std::uint64_t s = seq_;
    seq_ = static_cast<std::uint8_t>(seq_ + 1);  // 255 -> 0
    return s;
}

mqtt::message edge_node::make(message_type t, std::optional<std::size_t> device, payload p) {
    if (t != message_type::ndeath) p.seq = next();
    return mqtt::message{device ? topic(t, *device) : topic(t), encode(p), mqtt::qos::at_most_once, false};
}

mqtt::message edge_node::will(std::uint64_t now_ms) const {
    payload p;
    p.timestamp = now_ms;
    p.metrics.push_back(bdseq(bd_seq_, now_ms));
    // [payloads-ndeath-will-message-qos] QoS 1, [payloads-ndeath-will-message-retain] not retained.
    return mqtt::message{topic(message_type::ndeath), encode(p), mqtt::qos::at_least_once, false};
}

std::vector<mqtt::message> edge_node::births(std::uint64_t now_ms) {
    std::vector<mqtt::message> out;
    seq_ = 0;  // [payloads-nbirth-seq]
    born_ = true;
    payload p;
    p.timestamp = now_ms;
    p.metrics.push_back(bdseq(bd_seq_, now_ms));
    metric rebirth;
    rebirth.name = std::string(rebirth_metric);
    rebirth.datatype = data_type::boolean;
    rebirth.timestamp = now_ms;
    rebirth.value = false;
    p.metrics.push_back(std::move(rebirth));
    out.push_back(make(message_type::nbirth, std::nullopt, std::move(p)));
    for (std::size_t d = 0; d < devices_.size(); ++d) {
        if (online_[d]) out.push_back(device_birth(d, now_ms));
    }
    return out;
}

void edge_node::session_ended() {
    // Every connection registered a Will with this bdSeq: the next one
    // carries the next number, births or not.
    born_ = false;
    bd_seq_ = static_cast<std::uint8_t>(bd_seq_ + 1);
}

mqtt::message edge_node::device_birth(std::size_t device, std::uint64_t now_ms) {
    const auto& def = devices_[device];
    payload p;
    p.timestamp = now_ms;
    p.metrics.reserve(def.metrics.size());
    for (std::size_t k = 0; k < def.metrics.size(); ++k) {
        const auto& m = def.metrics[k];
        const auto& state = latest_[device][k];
        metric out;
        out.name = m.name;
        out.alias = alias(device, k);
        out.datatype = m.type;  // [payloads-metric-datatype-req]
        // A metric not read yet is null and has no reading time: the
        // reading that follows is newer whenever it was taken.
        if (state.known) out.timestamp = state.timestamp;
        latest_[device][k].told = state.known ? state.timestamp : 0;
        out.value = state.value;
        if (!m.unit.empty()) out.properties.push_back(property{"engUnit", data_type::string, m.unit});
        if (state.known && std::holds_alternative<null_value>(state.value)) {
            out.properties.push_back(property{std::string(quality_property), data_type::int32, quality_bad});
        }
        p.metrics.push_back(std::move(out));
    }
    return make(message_type::dbirth, device, std::move(p));
}

std::optional<mqtt::message> edge_node::device_online(std::size_t device, std::uint64_t now_ms) {
    if (online_.at(device)) return std::nullopt;
    online_[device] = true;
    if (!born_) return std::nullopt;
    return device_birth(device, now_ms);
}

std::optional<mqtt::message> edge_node::device_offline(std::size_t device, std::uint64_t now_ms) {
    if (!online_.at(device)) return std::nullopt;
    online_[device] = false;
    if (!born_) return std::nullopt;
    payload p;
    p.timestamp = now_ms;
    return make(message_type::ddeath, device, std::move(p));
}

payload edge_node::record(std::size_t device, const std::vector<metric_update>& updates, std::uint64_t now_ms,
                          bool by_name) {
    auto& states = latest_.at(device);
    payload p;
    p.timestamp = now_ms;
    for (const auto& u : updates) {
        if (u.metric >= states.size()) continue;
        auto& state = states[u.metric];
        const bool was_bad = state.known && std::holds_alternative<null_value>(state.value);
        const bool bad = std::holds_alternative<null_value>(u.value);
        if (!u.historical) {
            state.value = u.value;
            state.known = true;
            state.timestamp = u.timestamp;
        }
        metric out;
        if (by_name) {
            out.name = devices_[device].metrics[u.metric].name;
        } else {
            out.alias = alias(device, u.metric);  // alias only: the births bound it
        }
        out.timestamp = u.timestamp;
        out.is_historical = u.historical;
        out.value = u.value;
        if (bad) {
            out.properties.push_back(property{std::string(quality_property), data_type::int32, quality_bad});
        } else if (was_bad && !u.historical) {
            // Good again: said, for a host that keeps the last Quality it saw.
            out.properties.push_back(property{std::string(quality_property), data_type::int32, quality_good});
        }
        p.metrics.push_back(std::move(out));
    }
    return p;
}

std::optional<mqtt::message> edge_node::data(std::size_t device, const std::vector<metric_update>& updates,
                                             std::uint64_t now_ms) {
    auto p = record(device, updates, now_ms, false);
    // [payloads-dbirth-order] no DDATA of a device before its DBIRTH.
    if (!born_ || !online_[device] || p.metrics.empty()) return std::nullopt;
    return make(message_type::ddata, device, std::move(p));
}

std::optional<mqtt::message> edge_node::stored_data(std::size_t device, const std::vector<metric_update>& updates,
                                                    std::uint64_t now_ms) {
    auto p = record(device, updates, now_ms, true);
    // Offline (or not yet online): kept for its next DBIRTH; a host has no
    // device to give the readings to.
    if (p.metrics.empty() || !online_[device]) return std::nullopt;
    return mqtt::message{topic(message_type::ddata, device), encode(p), mqtt::qos::at_most_once, false};
}

std::optional<std::size_t> edge_node::device_index(std::string_view name) const {
    return find_by_name(devices_by_name_, name,
                        [&](std::uint32_t k) -> const std::string& { return devices_[k].name; });
}

std::optional<std::size_t> edge_node::metric_index(std::size_t device, std::string_view name,
                                                   std::size_t hint) const {
    const auto& metrics = devices_[device].metrics;
    if (hint < metrics.size() && metrics[hint].name == name)
        return hint;
    return find_by_name(by_name_[device], name,
                        [&](std::uint32_t k) -> const std::string& { return metrics[k].name; });
}

bool is_device_data(std::string_view t) {
    // spBv1.0/<group>/DDATA/<edge node>/<device>
    const std::string_view ns = namespace_v1;
    if (!t.starts_with(ns) || t.size() == ns.size() || t[ns.size()] != '/') return false;
    t.remove_prefix(ns.size() + 1);
    const auto group_end = t.find('/');
    return group_end != std::string_view::npos && t.substr(group_end + 1).starts_with("DDATA/");
}

std::optional<std::size_t> edge_node::device_of(std::string_view t, std::string_view prefix) const {
    if (!t.starts_with(prefix)) return std::nullopt;
    return device_index(t.substr(prefix.size()));
}

bool edge_node::ready(const mqtt::message& m) const {
    if (const auto device = device_of(m.topic, ddata_prefix_)) return born_ && online_[*device];
    return !is_device_data(m.topic);
}

mqtt::message edge_node::hand_over(mqtt::message m, std::uint64_t now_ms) {
    const auto device = device_of(m.topic, ddata_prefix_);
    if (!device) return m;
    auto decoded = decode(m.payload);
    auto* p = std::get_if<payload>(&decoded);
    if (p == nullptr) return m;  // not one stored_data() made
    const bool live = born_ && online_[*device];
    std::size_t next_metric = 0;  // stored_data() writes metrics in point order: each is found at the first look
    for (auto& metric : p->metrics) {
        const auto k = metric.name ? metric_index(*device, *metric.name, next_metric) : std::nullopt;
        if (!k) {
            metric.is_historical = true;
            continue;
        }
        next_metric = *k + 1;
        metric.alias = alias(*device, *k);
        metric.name.reset();
        auto& state = latest_[*device][*k];
        const auto at = metric.timestamp.value_or(0);
        if (metric.is_historical || !live || (state.told != 0 && at < state.told)) {
            metric.is_historical = true;
        } else {
            state.told = at;
        }
    }
    p->seq = next();
    // [tck-id-topics-ddata-timestamp]: the payload's time is when it is
    // sent; each metric keeps the time it was read.
    p->timestamp = now_ms;
    m.payload = encode(*p);
    return m;
}

std::optional<command_request> edge_node::command(std::string_view topic_text, std::string_view bytes) const {
    const auto ncmd = topic(message_type::ncmd);
    std::optional<std::size_t> device;
    if (topic_text != ncmd) {
        if (!topic_text.starts_with(dcmd_prefix_)) return std::nullopt;
        const auto name = topic_text.substr(dcmd_prefix_.size());
        device = device_index(name);
        if (!device) {
            return command_request{false, {}, {"DCMD for " + std::string(name) + ", which is not a device of this node"}};
        }
    }
    command_request request;
    auto decoded = decode(bytes, max_command_metrics);
    if (auto* e = std::get_if<decode_error>(&decoded)) {
        request.refused.push_back(std::string(device ? "DCMD" : "NCMD") + ": " + e->why);
        return request;
    }
    const auto& p = std::get<payload>(decoded);
    std::size_t next_metric = 0;  // a DCMD in point order finds each name at the first look
    for (const auto& m : p.metrics) {
        const std::string label = m.name ? *m.name : "alias " + std::to_string(m.alias.value_or(0));
        if (!device) {
            if (m.name && *m.name == rebirth_metric) {
                if (const auto* b = std::get_if<bool>(&m.value); b && *b) request.rebirth = true;
                continue;
            }
            request.refused.push_back("NCMD " + label + ": not a node control this edge node offers (it offers " +
                                      std::string(rebirth_metric) + ")");
            continue;
        }
        const auto& def = devices_[*device];
        std::optional<std::size_t> index;
        if (m.name) {
            index = metric_index(*device, *m.name, next_metric);
        } else if (m.alias) {
            index = metric_of_alias(*device, *m.alias);
        }
        if (index)
            next_metric = *index + 1;
        if (!index) {
            request.refused.push_back("DCMD " + def.name + " " + label + ": no such metric on this device");
        } else if (!def.metrics[*index].writable) {
            request.refused.push_back("DCMD " + def.name + " " + def.metrics[*index].name + ": not writable");
        } else if (std::holds_alternative<null_value>(m.value)) {
            request.refused.push_back("DCMD " + def.name + " " + def.metrics[*index].name + ": no value");
        } else {
            request.writes.push_back(metric_write{*device, *index, m.value});
        }
    }
    return request;
}

}  // namespace fieldbridge::sparkplug
