// Topics a broker keeps from its clients. Topic names that begin with '$'
// are the server's [MQTT-4.7.2]; of those, names that begin with $SYS (the
// broker's own figures) or $share (shared subscriptions, MQTT 5.0 4.8.2) are
// refused to clients' PUBLISHes: mosquitto acknowledges a QoS 1 PUBLISH
// there at 3.1.1 and drops it, and refuses it at 5.0 with 0x87, for any
// name that begins with those letters ($SYSTEM/x and $shared too;
// tests/mqtt/broker_code_points_test.cpp). Other '$' topics ($aws/..., say)
// are each broker's to allow. Pure, header-only.
#pragma once

#include <string_view>

namespace fieldbridge {

// "$SYS" or "$share" when topic begins with it, else empty.
inline std::string_view reserved_topic_prefix(std::string_view topic) noexcept {
    for (const std::string_view prefix : {std::string_view("$SYS"), std::string_view("$share")}) {
        if (topic.substr(0, prefix.size()) == prefix) return prefix;
    }
    return {};
}

}  // namespace fieldbridge
