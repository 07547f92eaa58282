#include "sparkplug/primary_host.hpp"

#include <nlohmann/json.hpp>

#include "sparkplug/edge_node.hpp"

namespace fieldbridge::sparkplug {

primary_host::primary_host(std::string host_id) : id_(std::move(host_id)) {}

std::string primary_host::topic() const { return std::string(namespace_v1) + "/STATE/" + id_; }

primary_host::verdict primary_host::receive(std::string_view payload) {
    constexpr std::size_t max_state = 4096;  // {"online":true,"timestamp":...} is 45 bytes
    if (payload.size() > max_state) return {change::none, "a STATE of " + std::to_string(payload.size()) + " bytes"};
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return {change::none, "a STATE that is not a JSON object"};
    const auto online = j.find("online");
    const auto timestamp = j.find("timestamp");
    if (online == j.end() || !online->is_boolean()) return {change::none, "a STATE without \"online\": true or false"};
    if (timestamp == j.end() || !timestamp->is_number_unsigned()) {
        return {change::none, "a STATE without a \"timestamp\" in ms since 1970"};
    }
    const auto at = timestamp->get<std::uint64_t>();
    if (last_timestamp_ && at < *last_timestamp_) return {};  // stale: an older STATE arrived late
    last_timestamp_ = at;
    const bool now_online = online->get<bool>();
    if (now_online == online_) return {};
    online_ = now_online;
    return {online_ ? change::online : change::offline, {}};
}

}  // namespace fieldbridge::sparkplug
