// One row of the queue as the store hands it out: the message and where its
// MQTT flow stands. Plain value type.
#pragma once

#include <chrono>
#include <cstdint>

#include "gateway/store/flow.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::store {

struct stored_message {
    std::int64_t id = 0;  // increasing: the order messages were produced in
    mqtt::message message;
    flow_state state = flow_state::queued;
    std::uint16_t packet_id = 0;
    bool dup = false;
    std::chrono::system_clock::time_point created;

    bool operator==(const stored_message&) const = default;
};

}  // namespace fieldbridge::store
