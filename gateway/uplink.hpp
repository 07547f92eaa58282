// uplink: what the forwarder needs of the MQTT client, so that the
// store-and-forward logic runs the same against the real client
// (client_uplink) and against the pure session in the model-based tests.
// Calls come from the owner's one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <system_error>
#include <vector>

#include "mqtt/message.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge::gateway {

class uplink {
public:
    virtual ~uplink() = default;

    // The link is up (CONNACK accepted) and messages handed over leave now.
    virtual bool connected() const = 0;
    // Whether m may be handed over now; one that may not stays stored and
    // is looked at again after forwarder::rewind().
    virtual bool ready(const mqtt::message&) const { return true; }
    // Queues m; `token` comes back through the forwarder's on_completed(),
    // possibly before publish() returns (QoS 0 is complete once written).
    virtual void publish(mqtt::message m, std::uint64_t token) = 0;
    // Takes back the queued messages whose token `mine` accepts, and with
    // in_flight (only while disconnected) their flows in progress too,
    // without completing them.
    virtual std::vector<std::uint64_t> withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) = 0;
    // Takes back the queued messages (not in flight) that `which` accepts,
    // chosen by message and token, without completing them.
    virtual std::vector<std::uint64_t> withdraw_queued(
        const std::function<bool(const mqtt::message&, std::uint64_t)>& which) = 0;
    // Restores a persisted session before the first connection.
    virtual std::error_code restore_session(mqtt::session_state state) = 0;
    // Adds flows reloaded from the store while disconnected.
    virtual std::error_code resume_flows(std::vector<mqtt::inflight_entry> flows) = 0;
    // Closes the link after the current handler, whatever state it is in;
    // the client reconnects as after any lost link.
    virtual void drop_link() = 0;
    // Where each outgoing flow stands, and the incoming QoS 2 ids held.
    virtual void flows(std::vector<mqtt::flow_status>& out) const = 0;
    // The tokens of flows the client started again as new messages since
    // the last call, because the broker had no session for them or because
    // the link went before a write took their PUBLISH
    // (mqtt::session::take_restarted): the ledger may still have them in flight.
    virtual std::vector<std::uint64_t> take_restarted() = 0;
    virtual const std::set<std::uint16_t>& incoming_qos2() const = 0;
};

}  // namespace fieldbridge::gateway
