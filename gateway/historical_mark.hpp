// How a message store.order: fresh_first sends behind the live ones is
// marked as historical, by payload format:
//   json, device  "historical":true added to the payload's JSON object
//   sparkplug     every metric is_historical (a DDATA the store kept)
//   raw, template the payload as it is (its shape is the operator's)
// and, over MQTT 5.0, a user property historical=true on every format. A
// historical message is never retained: the broker's retained value stays
// the current one. Pure.
#pragma once

#include <functional>

#include "config/model.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

void mark_historical(mqtt::message& m, config::payload_format format, config::mqtt_protocol protocol);

// mark_historical with the format and protocol cfg holds when a message is
// marked, not when the marker was made (a reload may change the format);
// cfg must outlive it.
std::function<void(mqtt::message&)> historical_marker(const config::gateway& cfg);

}  // namespace fieldbridge::gateway
