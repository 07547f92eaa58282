#include "mqtt/error.hpp"

#include <string>

namespace fieldbridge::mqtt {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "mqtt"; }

    std::string message(int value) const override {
        switch (static_cast<mqtt_errc>(value)) {
            case mqtt_errc::malformed_remaining_length:
                return "malformed remaining length";
            case mqtt_errc::bad_fixed_header_flags:
                return "reserved fixed header flags have the wrong value";
            case mqtt_errc::invalid_qos:
                return "invalid QoS";
            case mqtt_errc::invalid_utf8:
                return "string is not well-formed UTF-8";
            case mqtt_errc::null_character:
                return "string contains U+0000";
            case mqtt_errc::zero_packet_id:
                return "packet identifier 0 is not allowed";
            case mqtt_errc::truncated_field:
                return "field extends past the end of the packet";
            case mqtt_errc::trailing_bytes:
                return "unexpected bytes after the last field";
            case mqtt_errc::packet_too_large:
                return "packet exceeds the maximum packet size";
            case mqtt_errc::unknown_packet_type:
                return "unknown packet type";
            case mqtt_errc::malformed_packet:
                return "malformed packet";
            case mqtt_errc::string_too_long:
                return "string longer than 65535 bytes";
            case mqtt_errc::invalid_topic:
                return "invalid topic name";
            case mqtt_errc::unsupported_protocol_version:
                return "protocol version not supported by this codec";
            case mqtt_errc::protocol_error:
                return "protocol error";
            case mqtt_errc::keepalive_timeout:
                return "no answer from the broker within the keepalive timeout";
            case mqtt_errc::connack_timeout:
                return "no CONNACK within the connect timeout";
            case mqtt_errc::unacceptable_protocol_version:
                return "connection refused: unacceptable protocol version";
            case mqtt_errc::identifier_rejected:
                return "connection refused: identifier rejected";
            case mqtt_errc::server_unavailable:
                return "connection refused: server unavailable";
            case mqtt_errc::bad_username_or_password:
                return "connection refused: bad user name or password";
            case mqtt_errc::not_authorized:
                return "connection refused: not authorized";
            case mqtt_errc::unknown_connack_code:
                return "connection refused: unknown return code";
            case mqtt_errc::subscription_refused:
                return "subscription refused by the broker";
            case mqtt_errc::connection_lost:
                return "connection lost";
            case mqtt_errc::connect_timeout:
                return "connect timed out";
            case mqtt_errc::client_stopped:
                return "client stopped";
            case mqtt_errc::session_not_idle:
                return "session state can only be restored while disconnected";
            case mqtt_errc::exceeds_broker_packet_size:
                return "message larger than the broker's Maximum Packet Size";
            case mqtt_errc::ledger_failed:
                return "the message queue could not record the session state; nothing was sent";
            case mqtt_errc::subscribe_too_large:
                return "subscription larger than the broker's Maximum Packet Size; not sent";
            case mqtt_errc::packet_size_unusable:
                return "the broker's Maximum Packet Size is smaller than the client's control packets";
            case mqtt_errc::refused_character:
                return "string holds a control character (U+0001-U+001F, U+007F-U+009F) or a Unicode "
                       "non-character, which MQTT servers refuse";
            case mqtt_errc::reserved_topic:
                return "topic begins with $SYS or $share, which brokers keep from clients";
        }
        return "unknown mqtt error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& mqtt_category() noexcept {
    static const category instance;
    return instance;
}

bool unsendable(std::error_code e) noexcept {
    return e == mqtt_errc::exceeds_broker_packet_size || e == mqtt_errc::invalid_topic || e == mqtt_errc::invalid_utf8 ||
           e == mqtt_errc::null_character || e == mqtt_errc::string_too_long || e == mqtt_errc::refused_character ||
           e == mqtt_errc::reserved_topic;
}

}  // namespace fieldbridge::mqtt
