// An application message as the client publishes and delivers it. Plain
// value type.
#pragma once

#include <cstdint>
#include <string>

namespace fieldbridge::mqtt {

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

struct message {
    std::string topic;
    std::string payload;  // binary-safe
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;

    bool operator==(const message&) const = default;
};

}  // namespace fieldbridge::mqtt
