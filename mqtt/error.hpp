// mqtt_errc: every failure the MQTT layer reports, as std::error_code values
// of the "mqtt" category. CONNACK return codes keep their own enumerators so
// that an operator can tell "bad password" from "server unavailable".
#pragma once

#include <system_error>

namespace fieldbridge::mqtt {

enum class mqtt_errc {
    // Decoder: the bytes are not a well-formed packet; the link must be closed.
    malformed_remaining_length = 1,  // more than 4 length bytes [MQTT-2.2.3]
    bad_fixed_header_flags,          // reserved flag bits wrong [MQTT-2.2.2-1], [MQTT-2.2.2-2]
    invalid_qos,                     // QoS 3 [MQTT-3.3.1-4]
    invalid_utf8,                    // ill-formed UTF-8 [MQTT-1.5.3-1]
    null_character,                  // U+0000 in a string [MQTT-1.5.3-2]
    zero_packet_id,                  // packet identifier 0 where one is required [MQTT-2.3.1-1]
    truncated_field,                 // a field runs past the end of the packet
    trailing_bytes,                  // bytes left over after the last field
    packet_too_large,                // remaining length above the configured maximum
    unknown_packet_type,             // packet type 0 or 15 in MQTT 3.1.1
    malformed_packet,                // any other structural violation
    // Encoder: the value cannot be represented on the wire.
    string_too_long,
    invalid_topic,
    unsupported_protocol_version,
    // Session: protocol-level failures.
    protocol_error,
    keepalive_timeout,
    connack_timeout,
    // CONNACK return codes 1..5 [MQTT-3.2.2.3].
    unacceptable_protocol_version,
    identifier_rejected,
    server_unavailable,
    bad_username_or_password,
    not_authorized,
    unknown_connack_code,
    subscription_refused,  // SUBACK return code 0x80
    // Client and transport.
    connection_lost,
    connect_timeout,
    client_stopped,
    session_not_idle,
    exceeds_broker_packet_size,  // 5.0: larger than the CONNACK's Maximum Packet Size [MQTT-3.1.2-24]
    ledger_failed,               // the owner could not record the session state before a write
    subscribe_too_large,         // 5.0: a SUBSCRIBE larger than the CONNACK's Maximum Packet Size; not sent
    packet_size_unusable,        // 5.0: a CONNACK's Maximum Packet Size below the client's control packets
    refused_character,           // a control character or non-character a server refuses [MQTT-1.5.3]
    reserved_topic,              // a topic the broker keeps from clients ($SYS/..., $share/...)
};

const std::error_category& mqtt_category() noexcept;

inline std::error_code make_error_code(mqtt_errc e) noexcept { return {static_cast<int>(e), mqtt_category()}; }

// A message the session completed with this error cannot be sent as it is,
// on this link or any later one (larger than the broker takes, a topic no
// server takes): its owner drops it instead of keeping it for the next try.
bool unsendable(std::error_code e) noexcept;

}  // namespace fieldbridge::mqtt

template <>
struct std::is_error_code_enum<fieldbridge::mqtt::mqtt_errc> : std::true_type {};
