// The MQTT control packets as plain values, one struct per packet type, held
// in the `packet` variant. Fields are those of MQTT 3.1.1; every packet that
// carries properties in MQTT 5.0 already has a `props` member and an ack has
// a reason code, so that the 5.0 codec fills them in without changing the
// shape. Value types, no thread-safety concerns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mqtt/message.hpp"

namespace fieldbridge::mqtt {

// The protocol level byte of CONNECT [MQTT-3.1.2-2].
enum class protocol_version : std::uint8_t { v3_1_1 = 4, v5 = 5 };

// Fixed header packet type, bits 7-4 of byte 1 [MQTT-2.2.1].
enum class packet_type : std::uint8_t {
    connect = 1,
    connack = 2,
    publish = 3,
    puback = 4,
    pubrec = 5,
    pubrel = 6,
    pubcomp = 7,
    subscribe = 8,
    suback = 9,
    unsubscribe = 10,
    unsuback = 11,
    pingreq = 12,
    pingresp = 13,
    disconnect = 14,
    auth = 15,  // 5.0 only
};

// An MQTT 5.0 property: identifier and value. MQTT 3.1.1 has none, so the
// 3.1.1 codec leaves these lists empty and never writes them.
struct property {
    std::uint8_t identifier = 0;
    std::variant<std::uint32_t, std::string, std::vector<std::uint8_t>, std::pair<std::string, std::string>> value;

    bool operator==(const property&) const = default;
};
using properties = std::vector<property>;

struct will_message {
    std::string topic;
    std::string payload;
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;
    properties props;

    bool operator==(const will_message&) const = default;
};

struct connect {
    protocol_version version = protocol_version::v3_1_1;
    std::string client_id;
    bool clean_session = true;
    std::uint16_t keepalive_seconds = 0;
    std::optional<will_message> will;
    std::optional<std::string> username;
    std::optional<std::string> password;  // binary data on the wire
    properties props;

    bool operator==(const connect&) const = default;
};

// CONNACK return codes [MQTT-3.2.2.3].
enum class connack_code : std::uint8_t {
    accepted = 0,
    unacceptable_protocol_version = 1,
    identifier_rejected = 2,
    server_unavailable = 3,
    bad_username_or_password = 4,
    not_authorized = 5,
};

struct connack {
    bool session_present = false;
    std::uint8_t return_code = 0;  // connack_code in 3.1.1, reason code in 5.0
    properties props;

    bool operator==(const connack&) const = default;
};

struct publish {
    std::string topic;
    std::string payload;
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;
    bool dup = false;
    std::uint16_t packet_id = 0;  // present on the wire only for QoS 1 and 2
    properties props;

    bool operator==(const publish&) const = default;
};

// The four acknowledgements of the publish flows share a shape. In 5.0 a
// reason code of 0x80 or more is a refusal.
struct puback {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0;  // 5.0 only
    properties props;
    bool operator==(const puback&) const = default;
};
struct pubrec {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0;
    properties props;
    bool operator==(const pubrec&) const = default;
};
struct pubrel {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0;
    properties props;
    bool operator==(const pubrel&) const = default;
};
struct pubcomp {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0;
    properties props;
    bool operator==(const pubcomp&) const = default;
};

struct subscription {
    std::string filter;
    mqtt::qos max_qos = qos::at_most_once;
    // Subscription options of 5.0 (bits 2-5 of the options byte).
    bool no_local = false;
    bool retain_as_published = false;
    std::uint8_t retain_handling = 0;  // 0 send retained, 1 only on a new subscription, 2 never
    bool operator==(const subscription&) const = default;
};

struct subscribe {
    std::uint16_t packet_id = 0;
    std::vector<subscription> subscriptions;
    properties props;
    bool operator==(const subscribe&) const = default;
};

// SUBACK return code for a refused subscription [MQTT-3.9.3].
inline constexpr std::uint8_t suback_failure = 0x80;

struct suback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes;  // granted QoS, or suback_failure (5.0: a reason code >= 0x80)
    properties props;
    bool operator==(const suback&) const = default;
};

struct unsubscribe {
    std::uint16_t packet_id = 0;
    std::vector<std::string> filters;
    properties props;
    bool operator==(const unsubscribe&) const = default;
};

struct unsuback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> reason_codes;  // 5.0 only
    properties props;
    bool operator==(const unsuback&) const = default;
};

struct pingreq {
    bool operator==(const pingreq&) const = default;
};
struct pingresp {
    bool operator==(const pingresp&) const = default;
};

struct disconnect {
    std::uint8_t reason_code = 0;  // 5.0 only
    properties props;
    bool operator==(const disconnect&) const = default;
};

// 5.0 enhanced authentication; this client does not start it, so one from
// the server ends the connection.
struct auth {
    std::uint8_t reason_code = 0;
    properties props;
    bool operator==(const auth&) const = default;
};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback,
                            unsubscribe, unsuback, pingreq, pingresp, disconnect, auth>;

// The fixed-header type of a packet value.
packet_type type_of(const packet& p) noexcept;

// A short name for logs: "PUBLISH", "CONNACK", ...
const char* name_of(packet_type t) noexcept;

}  // namespace fieldbridge::mqtt
