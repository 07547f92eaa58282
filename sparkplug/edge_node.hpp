// The edge node side of a Sparkplug B 3.0 session: the gateway is the edge
// node, each configured device a Sparkplug device, each point a metric.
// Builds the messages the specification asks for and keeps the numbers it
// ties them with: bdSeq (the NDEATH registered as the Will and the NBIRTH
// of the same connection carry the same one; the next connection the next
// one, 0..255), seq (0 in NBIRTH, then one more in every message of the
// session, 255 -> 0), and the aliases the births bind to metric names (data
// messages carry the alias alone). Pure: the caller gives the time and
// publishes what it gets; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/message.hpp"
#include "sparkplug/payload.hpp"

namespace fieldbridge::sparkplug {

enum class message_type { nbirth, ndeath, dbirth, ddeath, ndata, ddata, ncmd, dcmd };

// "NBIRTH", "DDATA", ...
std::string_view to_string(message_type t);

inline constexpr std::string_view namespace_v1 = "spBv1.0";

// Whether a topic is a DDATA (spBv1.0/<group>/DDATA/...) of any group, edge
// node or device.
bool is_device_data(std::string_view t);
inline constexpr std::string_view rebirth_metric = "Node Control/Rebirth";
inline constexpr std::string_view bdseq_metric = "bdSeq";
// The Quality property of a metric (6.4.9.1): a Signed 32-bit value.
inline constexpr std::string_view quality_property = "Quality";
inline constexpr std::uint32_t quality_bad = 0;
inline constexpr std::uint32_t quality_good = 192;

struct metric_definition {
    std::string name;
    data_type type = data_type::float64;
    std::string unit;  // the engUnit property of the births when not empty
    bool writable = false;
};

struct device_definition {
    std::string name;
    std::vector<metric_definition> metrics;
};

struct edge_node_settings {
    std::string group_id;
    std::string edge_node_id;
};

// One metric's new reading in a data message: a value (null_value when the
// reading is bad, which adds the Quality property 0; the first good value
// after a bad one carries Quality 192).
struct metric_update {
    std::size_t metric = 0;
    wire_value value;
    std::uint64_t timestamp = 0;  // ms since 1970, the poll's time
    bool historical = false;      // stored while nobody could see it, published late
};

// The metrics one NCMD or DCMD may carry: a write of every point of the
// largest device the configuration allows (10 000 points) fits, with room
// for a metric named more than once.
inline constexpr std::size_t max_command_metrics = 20'000;

// A device metric a DCMD asks to write.
struct metric_write {
    std::size_t device = 0;
    std::size_t metric = 0;
    wire_value value;
};

// What an NCMD or DCMD asks for: a rebirth, writes, and what was refused
// (each with the reason, for the log and the counters: Sparkplug has no
// reply message).
struct command_request {
    bool rebirth = false;
    std::vector<metric_write> writes;
    std::vector<std::string> refused;
};

class edge_node {
public:
    // `previous`: the node a reload replaces, in the same MQTT session. A
    // metric it had (the same device and metric names) keeps its alias, and
    // a new one gets a number never given before: a DCMD by alias sent
    // before the host saw the reload's births writes the metric it meant,
    // or none.
    edge_node(edge_node_settings settings, std::vector<device_definition> devices,
              const edge_node* previous = nullptr);

    // spBv1.0/<group>/<TYPE>/<edge node>[/<device>]
    std::string topic(message_type t) const;
    std::string topic(message_type t, std::size_t device) const;

    // Whether a topic is in this node's group namespace (spBv1.0/<group>/):
    // a message of the Sparkplug session.
    bool in_namespace(std::string_view t) const { return t.starts_with(group_prefix_); }
    // Whether a topic is a DBIRTH of one of this node's devices.
    bool device_birth(std::string_view t) const { return device_of(t, dbirth_prefix_).has_value(); }

    // The topics to subscribe to: this node's NCMD and its devices' DCMD.
    std::vector<std::string> command_filters() const;

    // The NDEATH to register as the Will of the next connection (QoS 1, not
    // retained, the bdSeq metric alone, no seq).
    mqtt::message will(std::uint64_t now_ms) const;

    // A connection (an MQTT session) is up, or a rebirth was asked: NBIRTH
    // (seq 0, bdSeq, Node Control/Rebirth = false) and a DBIRTH for each
    // device that is online, each metric with its latest value.
    std::vector<mqtt::message> births(std::uint64_t now_ms);

    // A connection ended (it registered the current bdSeq in its Will): the
    // next Will and births carry the next bdSeq, and nothing is published
    // until births() again.
    void session_ended();
    bool born() const { return born_; }

    // A device came online (DBIRTH, when the node is born) or went offline
    // (DDEATH). Repeats of the same state give nothing.
    std::optional<mqtt::message> device_online(std::size_t device, std::uint64_t now_ms);
    std::optional<mqtt::message> device_offline(std::size_t device, std::uint64_t now_ms);

    // New readings of a device: kept (the next birth carries them) and,
    // when the node is born and the device online, a DDATA of them by alias.
    std::optional<mqtt::message> data(std::size_t device, const std::vector<metric_update>& updates,
                                      std::uint64_t now_ms);

    // The service's path, where data goes through the durable store and
    // waits there while no host can see it: a device's readings are kept
    // (the next birth carries them) and become a DDATA for the store, its
    // metrics by name (a reload may renumber the aliases before it leaves)
    // and without seq. hand_over() finishes it as it leaves. nullopt when
    // updates holds no metric of the device, or the device is not online
    // (its DBIRTH carries them).
    std::optional<mqtt::message> stored_data(std::size_t device, const std::vector<metric_update>& updates,
                                             std::uint64_t now_ms);

    // A message is handed to the client: a DDATA of this node's devices
    // (from stored_data()) gets the session's next seq and its metrics their
    // aliases; a metric is is_historical when the host already has a newer
    // reading of it in this session (from a birth or an earlier
    // DDATA), when its device is offline or the node not born, or when no
    // metric of that name is configured any more (it keeps its name then).
    // Its payload timestamp becomes now_ms, the time it is sent. Anything
    // else is returned unchanged.
    mqtt::message hand_over(mqtt::message m, std::uint64_t now_ms);
    // Whether m may be handed over now: a DDATA of a device waits while the
    // device has no DBIRTH in this session (the node not born, or the
    // device offline) [payloads-dbirth-order]. So does a stored DDATA of a
    // device this node does not have (a reload or restart took it out, or
    // changed the group or edge node id): no DBIRTH will come for it, and
    // without one it would go out with no seq and unknown metrics; it stays
    // stored until the device is configured again or the queue's bounds
    // drop it. Anything else may go.
    bool ready(const mqtt::message& m) const;

    // The bdSeq of the next Will and births (one kept across restarts).
    void set_bd_seq(std::uint8_t value) { bd_seq_ = value; }

    // An NCMD or DCMD for this node (anything else: nullopt). Metrics are
    // found by name or by the alias of the births. One of more than
    // max_command_metrics metrics is refused whole, before it is decoded.
    std::optional<command_request> command(std::string_view topic, std::string_view payload) const;

    std::uint8_t bd_seq() const { return bd_seq_; }
    // The seq the next message of the session will carry.
    std::uint8_t next_seq() const { return seq_; }

    // The alias of a device metric (unique across the node; the node's own
    // metrics have none).
    std::uint64_t alias(std::size_t device, std::size_t metric) const {
        return aliases_[device].empty() ? first_alias_[device] + metric : aliases_[device][metric];
    }
    // The device of that name.
    std::optional<std::size_t> device_named(std::string_view name) const { return device_index(name); }
    // Whether the device is online as the node knows it (born or not).
    bool device_is_online(std::size_t device) const { return online_.at(device); }

    std::size_t device_count() const { return devices_.size(); }
    const device_definition& device(std::size_t d) const { return devices_[d]; }

private:
    struct metric_state {
        wire_value value;  // null_value before the first reading, and when bad
        bool known = false;
        std::uint64_t timestamp = 0;
        // The time of the reading the host has as current in this session
        // (hand_over()); 0: none.
        std::uint64_t told = 0;
    };

    // Keeps the readings and returns them as metrics by name (the stored
    // path) or by alias (data()).
    payload record(std::size_t device, const std::vector<metric_update>& updates, std::uint64_t now_ms,
                   bool by_name);
    std::optional<std::size_t> device_index(std::string_view name) const;
    // The device a topic names after `prefix` (one of the *_prefix_ below).
    std::optional<std::size_t> device_of(std::string_view t, std::string_view prefix) const;
    // Looked for at `hint` first (a caller going through metrics in point
    // order finds each at the first look), then in by_name_.
    std::optional<std::size_t> metric_index(std::size_t device, std::string_view name, std::size_t hint = 0) const;
    // The device's metric whose alias this is.
    std::optional<std::size_t> metric_of_alias(std::size_t device, std::uint64_t alias) const;

    mqtt::message make(message_type t, std::optional<std::size_t> device, payload p);
    mqtt::message device_birth(std::size_t device, std::uint64_t now_ms);
    std::uint64_t next();

    edge_node_settings settings_;
    // Built once: spBv1.0/<group>/, and the device topics' heads
    // (spBv1.0/<group>/DDATA/<edge node>/, the same with DBIRTH and DCMD).
    std::string group_prefix_;
    std::string ddata_prefix_;
    std::string dbirth_prefix_;
    std::string dcmd_prefix_;
    std::vector<device_definition> devices_;
    // Aliases: a device's metrics numbered on from first_alias_, or (a
    // device a reload changed) each its own in aliases_, with by_alias_
    // (alias, metric) sorted for DCMD. next_alias_: past every alias given.
    std::vector<std::uint64_t> first_alias_;
    std::vector<std::vector<std::uint64_t>> aliases_;
    std::vector<std::vector<std::pair<std::uint64_t, std::uint32_t>>> by_alias_;
    std::uint64_t next_alias_ = 1;
    // Per device, its metrics' indices sorted by name (4 bytes a metric):
    // a DCMD of many names, or a stored DDATA whose points were renumbered
    // by a reload, finds each name without a walk of every metric.
    std::vector<std::vector<std::uint32_t>> by_name_;
    // The devices' indices sorted by name: every stored DDATA (ready(),
    // hand_over()) and every DCMD finds its device without a walk of all.
    std::vector<std::uint32_t> devices_by_name_;
    std::vector<std::vector<metric_state>> latest_;
    std::vector<bool> online_;
    std::uint8_t bd_seq_ = 0;
    std::uint8_t seq_ = 0;
    bool born_ = false;
};

}  // namespace fieldbridge::sparkplug
