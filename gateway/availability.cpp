#include "gateway/availability.hpp"

#include <nlohmann/json.hpp>

#include "config/topic.hpp"
#include "gateway/payload.hpp"
#include "gateway/version.hpp"

namespace fieldbridge::gateway {

mqtt::message birth_message(const config::gateway& cfg, std::chrono::system_clock::time_point started,
                            nlohmann::json summary) {
    nlohmann::json j = {{"state", "online"}, {"version", std::string(fieldbridge::version)}, {"since", iso8601_utc_ms(started)}};
    if (!summary.is_null()) j["summary"] = std::move(summary);
    return mqtt::message{config::status_topic(cfg), j.dump(),
                         mqtt::qos::at_least_once, true};
}

mqtt::message goodbye_message(const config::gateway& cfg) {
    return mqtt::message{config::status_topic(cfg),
                         R"({"state":"offline"})", mqtt::qos::at_least_once, true};
}

mqtt::message availability_message(const config::gateway& cfg, const std::string& device,
                                   modbus::device_state state, std::chrono::system_clock::time_point now) {
    const nlohmann::json j = {{"state", to_string(state)}, {"ts", iso8601_utc_ms(now)}};
    return mqtt::message{config::availability_topic(cfg.availability.device_topic, cfg, device), j.dump(),
                         mqtt::qos::at_least_once, true};
}

}  // namespace fieldbridge::gateway
