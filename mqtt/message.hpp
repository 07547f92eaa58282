// An application message as the client publishes and delivers it. Plain
// value type.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fieldbridge::mqtt {

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

struct message {
    std::string topic;
    std::string payload;  // binary-safe
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;
    // MQTT 5.0 request/response: where the answer to this message goes, and
    // the bytes that tie the answer to it. Empty: absent (always in 3.1.1).
    // Not kept by the store-and-forward queue (point data never has them).
    std::string response_topic{};
    std::string correlation_data{};
    // MQTT 5.0 user properties, name and value, in order. Empty in 3.1.1.
    // Not kept by the store either: the forwarder adds the one it uses
    // (historical) as a message leaves.
    std::vector<std::pair<std::string, std::string>> user_properties{};

    bool operator==(const message&) const = default;
};

}  // namespace fieldbridge::mqtt
