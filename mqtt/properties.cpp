#include "mqtt/properties.hpp"

#include <algorithm>

namespace fieldbridge::mqtt {

std::optional<property_kind> kind_of(std::uint8_t identifier) noexcept {
    switch (identifier) {
        case prop::payload_format_indicator:
        case prop::request_problem_information:
        case prop::request_response_information:
        case prop::maximum_qos:
        case prop::retain_available:
        case prop::wildcard_subscription_available:
        case prop::subscription_identifier_available:
        case prop::shared_subscription_available:
            return property_kind::byte;
        case prop::server_keep_alive:
        case prop::receive_maximum:
        case prop::topic_alias_maximum:
        case prop::topic_alias:
            return property_kind::two_byte;
        case prop::message_expiry_interval:
        case prop::session_expiry_interval:
        case prop::will_delay_interval:
        case prop::maximum_packet_size:
            return property_kind::four_byte;
        case prop::subscription_identifier:
            return property_kind::varint;
        case prop::content_type:
        case prop::response_topic:
        case prop::assigned_client_identifier:
        case prop::authentication_method:
        case prop::response_information:
        case prop::server_reference:
        case prop::reason_string:
            return property_kind::utf8;
        case prop::correlation_data:
        case prop::authentication_data:
            return property_kind::binary;
        case prop::user_property:
            return property_kind::utf8_pair;
        default:
            return std::nullopt;
    }
}

const property* find(const properties& props, std::uint8_t identifier) noexcept {
    const auto it = std::find_if(props.begin(), props.end(), [&](const property& p) { return p.identifier == identifier; });
    return it == props.end() ? nullptr : &*it;
}

std::optional<std::uint32_t> integer_property(const properties& props, std::uint8_t identifier) noexcept {
    const auto* p = find(props, identifier);
    if (p == nullptr) return std::nullopt;
    const auto* v = std::get_if<std::uint32_t>(&p->value);
    return v ? std::optional(*v) : std::nullopt;
}

std::optional<std::string> string_property(const properties& props, std::uint8_t identifier) {
    const auto* p = find(props, identifier);
    if (p == nullptr) return std::nullopt;
    if (const auto* s = std::get_if<std::string>(&p->value)) return *s;
    if (const auto* b = std::get_if<std::vector<std::uint8_t>>(&p->value)) return std::string(b->begin(), b->end());
    return std::nullopt;
}

namespace {

class reason_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "mqtt5"; }
    std::string message(int value) const override {
        switch (value) {
            case 0x00: return "success";
            case 0x04: return "disconnect with will message";
            case 0x10: return "no matching subscribers";
            case 0x11: return "no subscription existed";
            case 0x18: return "continue authentication";
            case 0x19: return "re-authenticate";
            case 0x80: return "unspecified error";
            case 0x81: return "malformed packet";
            case 0x82: return "protocol error";
            case 0x83: return "implementation specific error";
            case 0x84: return "unsupported protocol version";
            case 0x85: return "client identifier not valid";
            case 0x86: return "bad user name or password";
            case 0x87: return "not authorized";
            case 0x88: return "server unavailable";
            case 0x89: return "server busy";
            case 0x8A: return "banned";
            case 0x8B: return "server shutting down";
            case 0x8C: return "bad authentication method";
            case 0x8D: return "keep alive timeout";
            case 0x8E: return "session taken over";
            case 0x8F: return "topic filter invalid";
            case 0x90: return "topic name invalid";
            case 0x91: return "packet identifier in use";
            case 0x92: return "packet identifier not found";
            case 0x93: return "receive maximum exceeded";
            case 0x94: return "topic alias invalid";
            case 0x95: return "packet too large";
            case 0x96: return "message rate too high";
            case 0x97: return "quota exceeded";
            case 0x98: return "administrative action";
            case 0x99: return "payload format invalid";
            case 0x9A: return "retain not supported";
            case 0x9B: return "QoS not supported";
            case 0x9C: return "use another server";
            case 0x9D: return "server moved";
            case 0x9E: return "shared subscriptions not supported";
            case 0x9F: return "connection rate exceeded";
            case 0xA0: return "maximum connect time";
            case 0xA1: return "subscription identifiers not supported";
            case 0xA2: return "wildcard subscriptions not supported";
            default: return "reason code " + std::to_string(value);
        }
    }
};

}  // namespace

const std::error_category& reason_code_category() noexcept {
    static const reason_category c;
    return c;
}

}  // namespace fieldbridge::mqtt
