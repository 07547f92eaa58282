// The MQTT client settings a configuration asks for: broker, credentials,
// TLS, reconnect, and the last will on availability.gateway_topic. Pure;
// the app builds its client from it and tests build the CONNECT from it.
#pragma once

#include "config/model.hpp"
#include "mqtt/client.hpp"

namespace fieldbridge::gateway {

mqtt::client_options client_options_from(const config::gateway& cfg);

// The last will: {"state":"offline"}, retained, on the gateway's status topic.
mqtt::will_message gateway_will(const config::gateway& cfg);

}  // namespace fieldbridge::gateway
