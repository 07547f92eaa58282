// The MQTT client's link state and counters as plain data, for whoever
// reports them (status, metrics) without the client and its Asio.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mqtt/server_address.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge::mqtt {

enum class link_state { disconnected, connecting, connected };

struct client_stats {
    std::uint64_t published = 0;     // publish() calls
    std::uint64_t acknowledged = 0;  // completed without error (QoS 0: written)
    std::uint64_t failed = 0;        // completed with an error (client stopped, 5.0 refusal)
    std::uint64_t refused = 0;       // of those, refused by the broker (5.0 reason code >= 0x80)
    std::uint64_t downgraded = 0;    // QoS 2 messages the broker acknowledged with PUBACK (took them at QoS 1)
    std::uint64_t received = 0;      // messages delivered to subscriptions
    std::uint64_t connects = 0;      // CONNACKs accepted
    std::uint64_t disconnects = 0;   // links lost or closed after a CONNACK
    std::size_t queued = 0;          // waiting for the link or the in-flight window
    std::size_t inflight = 0;        // QoS 1/2 sent, not yet acknowledged
    std::size_t unwritten_bytes = 0;  // encoded packets not yet taken by the link (a slow uplink's backlog)
    std::string last_error;          // why the last link ended or the last attempt failed
    server_limits limits;            // what the broker announced (5.0) for the current link
    std::chrono::seconds keepalive{0};  // in force: the broker's Server Keep Alive if it set one
    server_address server;           // the address in use or being tried
    std::uint64_t failovers = 0;     // moves to the next address after a failed attempt
};

}  // namespace fieldbridge::mqtt
