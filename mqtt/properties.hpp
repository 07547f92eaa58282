// MQTT 5.0 properties (section 2.2.2.2): the identifiers, the wire type of
// each, and typed lookup over a property list. Pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "mqtt/packet.hpp"

namespace fieldbridge::mqtt {

namespace prop {
inline constexpr std::uint8_t payload_format_indicator = 0x01;
inline constexpr std::uint8_t message_expiry_interval = 0x02;
inline constexpr std::uint8_t content_type = 0x03;
inline constexpr std::uint8_t response_topic = 0x08;
inline constexpr std::uint8_t correlation_data = 0x09;
inline constexpr std::uint8_t subscription_identifier = 0x0B;
inline constexpr std::uint8_t session_expiry_interval = 0x11;
inline constexpr std::uint8_t assigned_client_identifier = 0x12;
inline constexpr std::uint8_t server_keep_alive = 0x13;
inline constexpr std::uint8_t authentication_method = 0x15;
inline constexpr std::uint8_t authentication_data = 0x16;
inline constexpr std::uint8_t request_problem_information = 0x17;
inline constexpr std::uint8_t will_delay_interval = 0x18;
inline constexpr std::uint8_t request_response_information = 0x19;
inline constexpr std::uint8_t response_information = 0x1A;
inline constexpr std::uint8_t server_reference = 0x1C;
inline constexpr std::uint8_t reason_string = 0x1F;
inline constexpr std::uint8_t receive_maximum = 0x21;
inline constexpr std::uint8_t topic_alias_maximum = 0x22;
inline constexpr std::uint8_t topic_alias = 0x23;
inline constexpr std::uint8_t maximum_qos = 0x24;
inline constexpr std::uint8_t retain_available = 0x25;
inline constexpr std::uint8_t user_property = 0x26;
inline constexpr std::uint8_t maximum_packet_size = 0x27;
inline constexpr std::uint8_t wildcard_subscription_available = 0x28;
inline constexpr std::uint8_t subscription_identifier_available = 0x29;
inline constexpr std::uint8_t shared_subscription_available = 0x2A;
}  // namespace prop

// How a property's value is written.
enum class property_kind { byte, two_byte, four_byte, varint, utf8, binary, utf8_pair };

// The kind of an identifier, or nullopt for one the specification does not
// define (a Malformed Packet).
std::optional<property_kind> kind_of(std::uint8_t identifier) noexcept;

// The first property with this identifier.
const property* find(const properties& props, std::uint8_t identifier) noexcept;
std::optional<std::uint32_t> integer_property(const properties& props, std::uint8_t identifier) noexcept;
std::optional<std::string> string_property(const properties& props, std::uint8_t identifier);

// A code that refuses: 3.1.1 SUBACK knows 0x80 only; 5.0 refuses with any
// reason code of 0x80 or more.
constexpr bool refusal(std::uint8_t code) noexcept { return code >= 0x80; }

// Reason codes of MQTT 5.0 (section 2.4) as error codes of the "mqtt5"
// category: the value is the reason code, the message its name.
const std::error_category& reason_code_category() noexcept;
inline std::error_code reason_code_error(std::uint8_t code) noexcept {
    return {static_cast<int>(code), reason_code_category()};
}

}  // namespace fieldbridge::mqtt
