// The MQTT client settings a configuration asks for: broker, credentials,
// TLS, reconnect, and the last will on availability.gateway_topic. Pure;
// the app builds its client from it and tests build the CONNECT from it.
#pragma once

#include <cstddef>
#include <vector>

#include "config/config_error.hpp"
#include "config/model.hpp"
#include "mqtt/client.hpp"

namespace fieldbridge::gateway {

mqtt::client_options client_options_from(const config::gateway& cfg);

// How many messages the forwarder hands the client before their
// acknowledgements: forwarder::default_window (1 000), or the client's in-flight limit
// (mqtt.max_inflight) when that is more. At that limit the forwarder hands
// the next messages over once half of them are acknowledged, so that one
// commit records hundreds of them going out, not the few each read of
// acknowledgements brings (docs/performance.md).
std::size_t forwarder_window(std::size_t max_inflight);
std::size_t forwarder_window(const config::gateway& cfg);

// The last will: {"state":"offline"}, retained, on the gateway's status topic.
mqtt::will_message gateway_will(const config::gateway& cfg);

// With mqtt.tls.enabled: a diagnostic at the mqtt section when its CA,
// certificate or key file cannot be used (mqtt::tls_files_error), so that
// `check` and `run` refuse it before a connection is tried. (A reload
// keeps the mqtt settings, and the files in use, as they are.)
std::vector<config::diagnostic> tls_file_problems(const config::gateway& cfg);

}  // namespace fieldbridge::gateway
