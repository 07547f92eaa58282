// mosquitto_sub on a test broker, subscribed at QoS 2 to one topic filter,
// printing every message it receives with its QoS and retain flag; the test
// reads what arrived so far at any time. With a client id it keeps a
// persistent session (clean session off). Stopped when the object goes.
// Not thread-safe: one test thread owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"

namespace fieldbridge::testing {

struct received {
    std::string topic;
    int qos = -1;
    bool retain = false;
    std::string payload;
    // options::mqtt5: the user properties, "key:value" each, space-separated.
    std::string user_properties;
};

// For subscriber::find: an availability or status payload whose "state" is `state`.
inline std::function<bool(const nlohmann::json&)> state_is(std::string state) {
    return [state = std::move(state)](const nlohmann::json& j) {
        return j.is_object() && j.contains("state") && j.at("state") == state;
    };
}

class subscriber {
public:
    struct options {
        // Non-empty: this client id and a persistent session (mosquitto_sub -c).
        std::string client_id;
        // MQTT 5.0, subscribed with Retain As Published: the retain flag of
        // each message is the publisher's, and its user properties are read.
        bool mqtt5 = false;
    };

    subscriber(const mosquitto_broker& broker, const std::string& filter);
    subscriber(const mosquitto_broker& broker, const std::string& filter, const options& o);

    const std::string& client_id() const { return client_id_; }
    // Whether the broker has logged this client's SUBSCRIBE within timeout:
    // from then on nothing published to the filter is missed.
    bool wait_subscribed(std::chrono::milliseconds timeout) const;

    // Everything received so far, in arrival order.
    std::vector<received> messages() const;
    // The newest message on topic whose JSON payload satisfies pred (any JSON when pred is empty).
    std::optional<received> find(const std::string& topic,
                                 const std::function<bool(const nlohmann::json&)>& pred = {}) const;
    // Messages received on topic so far.
    std::size_t count(const std::string& topic) const;
    // mosquitto_sub's output, for failure messages.
    std::string dump() const { return process_.output(); }

private:
    const mosquitto_broker& broker_;
    std::string client_id_;
    bool mqtt5_ = false;
    child_process process_;
};

}  // namespace fieldbridge::testing
