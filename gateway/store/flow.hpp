// Plain data of the store's MQTT flow ledger: where a stored message stands,
// and one change of it. Shared by the store and the forwarder's pure ledger.
#pragma once

#include <cstdint>

namespace fieldbridge::store {

// Where a stored message stands in its MQTT flow.
enum class flow_state : std::uint8_t {
    queued = 0,    // not sent yet (or sent on a session the broker forgot)
    sent = 1,      // PUBLISH sent with packet_id; awaiting PUBACK / PUBREC
    pubrec = 2,    // QoS 2: PUBREC received, PUBREL sent; awaiting PUBCOMP
};

// One state change of a stored message, applied with others in one transaction.
struct change {
    enum class kind : std::uint8_t { sent, pubrec, done, requeue };
    kind what = kind::done;
    std::int64_t id = 0;
    std::uint16_t packet_id = 0;  // sent
    bool dup = false;             // sent
};

}  // namespace fieldbridge::store
