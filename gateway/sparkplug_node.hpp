// The gateway as a Sparkplug B edge node (publish.format: sparkplug): the
// configuration's devices and points become the node's devices and metrics,
// a poll's published readings a DDATA for the durable store, device health
// DBIRTH and DDEATH, each connection's Will (NDEATH) and births, and NCMD or
// DCMD a rebirth or point writes. The session bookkeeping is
// sparkplug::edge_node's. Pure: the caller gives the time and publishes;
// core thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "gateway/payload.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packet.hpp"
#include "sparkplug/edge_node.hpp"

namespace fieldbridge::gateway {

// One point write a DCMD asks for, its value as a command's JSON value (so
// that it is checked like one).
struct sparkplug_write {
    std::size_t device = 0;
    std::size_t point = 0;
    nlohmann::json value;
};

struct sparkplug_command {
    bool rebirth = false;
    std::vector<sparkplug_write> writes;
    std::vector<std::string> refused;  // why, for the log and the counters
};

// ms since 1970 (0 before it).
std::uint64_t epoch_ms(std::chrono::system_clock::time_point t);

class sparkplug_node {
public:
    using time_point = std::chrono::system_clock::time_point;

    // bd_seq: the number the first connection's Will and births carry.
    // previous: the node a reload replaces (its aliases are kept, as
    // edge_node says).
    sparkplug_node(const config::gateway& cfg, std::uint8_t bd_seq, const sparkplug_node* previous = nullptr);

    // The Will of the next connection: NDEATH with the current bdSeq.
    mqtt::will_message will(time_point now) const;
    // That NDEATH as a message, for the gateway to publish itself (before a
    // clean stop, or when a primary host went offline).
    mqtt::message death(time_point now) const { return node_.will(epoch_ms(now)); }
    // The link is up (or a rebirth was asked): NBIRTH and the DBIRTHs of
    // the devices online, to go out ahead of any data.
    std::vector<mqtt::message> births(time_point now);
    // The link went down: the next connection carries the next bdSeq.
    void session_ended() { node_.session_ended(); }
    std::uint8_t bd_seq() const { return node_.bd_seq(); }

    // The published readings of one poll of configured device `device` (or
    // a write's read-back): a DDATA for the store, nullopt when empty.
    std::optional<mqtt::message> data(std::size_t device, const std::vector<point_reading>& readings);
    // The device's health changed: DBIRTH (online) or DDEATH (offline)
    // when the node is born; nothing for unknown or a repeat.
    std::optional<mqtt::message> device_state(std::size_t device, modbus::device_state state, time_point now);

    // A reload replaces this node with `next`: a DDEATH for each device this
    // node has born that is not online in `next` (taken out, renamed, its
    // bus not started). The rebirth that follows has no DBIRTH for it, and
    // a host would keep it alive with its last values.
    std::vector<mqtt::message> deaths_before(const sparkplug_node& next, time_point now);

    // A DDATA leaves for the broker: seq and aliases (edge_node::hand_over).
    mqtt::message hand_over(mqtt::message m, time_point now) { return node_.hand_over(std::move(m), epoch_ms(now)); }
    // A stored DDATA waits for its device's DBIRTH (edge_node::ready).
    bool ready(const mqtt::message& m) const { return node_.ready(m); }

    // NCMD and DCMD filters to subscribe to.
    std::vector<std::string> command_filters() const { return node_.command_filters(); }
    // A message on a command filter; nullopt when it is not for this node.
    std::optional<sparkplug_command> command(std::string_view topic, std::string_view payload) const;

    const sparkplug::edge_node& node() const { return node_; }

private:
    const config::gateway* cfg_;
    sparkplug::edge_node node_;
};

// Whether a rebirth asked for (NCMD Node Control/Rebirth) goes out now, or
// why not. Births restate every device: a request within a second of the
// last births, or while the uplink still holds more than
// rebirth_backlog_bytes not yet written (births that would only pile up
// behind what is waiting, a few MB each with many points), is put off; the
// host asks again.
inline constexpr std::size_t rebirth_backlog_bytes = std::size_t{1} << 20;
std::optional<std::string> rebirth_put_off(std::chrono::steady_clock::duration since_births,
                                           std::size_t unwritten_bytes);

}  // namespace fieldbridge::gateway
