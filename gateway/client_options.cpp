#include "gateway/client_options.hpp"

#include <algorithm>

#include "config/topic.hpp"
#include "gateway/forwarder.hpp"
#include "mqtt/tls_transport.hpp"

namespace fieldbridge::gateway {

namespace {

mqtt::client_options client_options_from(const config::broker& b) {
    mqtt::client_options o;
    o.version = b.protocol == config::mqtt_protocol::v5 ? mqtt::protocol_version::v5 : mqtt::protocol_version::v3_1_1;
    o.host = b.host;
    o.port = b.port;
    for (const auto& [host, port] : b.failover) o.failover.push_back({host, port == 0 ? b.port : port});
    o.client_id = b.client_id;
    o.keepalive = b.keepalive;
    o.max_inflight = b.max_inflight;
    o.username = b.username;
    o.password = b.password;
    o.clean_session = b.clean_session;
    o.session_expiry = b.session_expiry ? static_cast<std::uint32_t>(b.session_expiry->count())
                                        : (b.clean_session ? 0U : 0xFFFFFFFFU);
    o.tls.enabled = b.tls.enabled;
    o.tls.ca_file = b.tls.ca_file;
    o.tls.cert_file = b.tls.cert_file;
    o.tls.key_file = b.tls.key_file;
    o.tls.verify_hostname = b.tls.verify_hostname;
    o.connect_timeout = b.connect_timeout;
    o.reconnect_min = b.reconnect_min;
    o.reconnect_max = b.reconnect_max;
    return o;
}

}  // namespace

std::size_t forwarder_window(std::size_t max_inflight) {
    return std::max<std::size_t>(forwarder::default_window, max_inflight);
}

std::size_t forwarder_window(const config::gateway& cfg) { return forwarder_window(cfg.mqtt.max_inflight); }

mqtt::will_message gateway_will(const config::gateway& cfg) {
    return mqtt::will_message{config::status_topic(cfg),
                              R"({"state":"offline"})", mqtt::qos::at_least_once, true, {}};
}

mqtt::client_options client_options_from(const config::gateway& cfg) {
    auto o = client_options_from(cfg.mqtt);
    o.will = gateway_will(cfg);
    return o;
}

std::vector<config::diagnostic> tls_file_problems(const config::gateway& cfg) {
    const auto& b = cfg.mqtt;
    if (!b.tls.enabled) return {};
    const auto why = mqtt::tls_files_error(client_options_from(cfg).tls);
    if (!why) return {};
    return {config::diagnostic{b.mark.file, b.mark.line, b.mark.column,
                               "mqtt.tls." + *why +
                                   "; expected readable PEM files: the CA that signed the broker's certificate, and "
                                   "for a client certificate its chain and its private key"}};
}

}  // namespace fieldbridge::gateway
