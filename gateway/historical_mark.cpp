#include "gateway/historical_mark.hpp"

#include <variant>

#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::gateway {
namespace {

// {"value":1} -> {"value":1,"historical":true}; anything else stays.
void mark_json_object(std::string& payload) {
    const auto close = payload.find_last_not_of(" \t\r\n");
    const auto open = payload.find_first_not_of(" \t\r\n");
    if (close == std::string::npos || payload[close] != '}' || payload[open] != '{') return;
    const auto before = payload.find_last_not_of(" \t\r\n", close - 1);
    const bool empty_object = before == open;
    payload.insert(close, empty_object ? "\"historical\":true" : ",\"historical\":true");
}

void mark_sparkplug(std::string& payload) {
    auto decoded = sparkplug::decode(payload);
    auto* p = std::get_if<sparkplug::payload>(&decoded);
    if (p == nullptr) return;
    for (auto& metric : p->metrics) metric.is_historical = true;
    payload = sparkplug::encode(*p);
}

}  // namespace

void mark_historical(mqtt::message& m, config::payload_format format, config::mqtt_protocol protocol) {
    m.retain = false;
    switch (format) {
        case config::payload_format::json:
        case config::payload_format::device:
            mark_json_object(m.payload);
            break;
        case config::payload_format::sparkplug:
            mark_sparkplug(m.payload);
            break;
        case config::payload_format::raw:
        case config::payload_format::templated:
            break;
    }
    if (protocol == config::mqtt_protocol::v5) m.user_properties.emplace_back("historical", "true");
}

std::function<void(mqtt::message&)> historical_marker(const config::gateway& cfg) {
    return [&cfg](mqtt::message& m) { mark_historical(m, cfg.publish.format, cfg.mqtt.protocol); };
}

}  // namespace fieldbridge::gateway
