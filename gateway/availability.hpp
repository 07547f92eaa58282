// The retained availability messages: the gateway's own (birth after every
// connect, goodbye before a clean disconnect; the last will says "offline"
// when the link dies) and each device's, as its health changes. Pure.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

// {"state":"online","version":..,"since":..} on availability.gateway_topic,
// with "summary" when one is given (status_summary).
mqtt::message birth_message(const config::gateway& cfg, std::chrono::system_clock::time_point started,
                            nlohmann::json summary = nullptr);
// {"state":"offline"} on availability.gateway_topic.
mqtt::message goodbye_message(const config::gateway& cfg);
// {"state":..,"ts":..} on the device's availability.device_topic.
mqtt::message availability_message(const config::gateway& cfg, const std::string& device,
                                   modbus::device_state state, std::chrono::system_clock::time_point now);

}  // namespace fieldbridge::gateway
