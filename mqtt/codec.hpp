// The MQTT wire format: pure functions from packet values to bytes and from
// bytes to packet values. Nothing here allocates more than the packet at
// hand or trusts a length it has not checked against the input. Stateless,
// safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "mqtt/packet.hpp"

namespace fieldbridge::mqtt {

// Largest remaining length the 4-byte variable length integer can carry
// [MQTT-2.2.3].
inline constexpr std::uint32_t max_remaining_length = 268'435'455;

// Encodes one packet. Fails (string_too_long, invalid_utf8, invalid_topic,
// zero_packet_id, packet_too_large, ...) instead of writing a packet the
// peer would have to reject.
result<std::vector<std::uint8_t>> encode(const packet& p, protocol_version version = protocol_version::v3_1_1);

struct decode_options {
    protocol_version version = protocol_version::v3_1_1;
    // Fixed header plus remaining length; larger packets are refused as soon
    // as their length is known, before their body is buffered.
    std::size_t max_packet_size = 1 + 4 + max_remaining_length;
};

enum class decode_status { need_more, complete, error };

struct decode_result {
    decode_status status = decode_status::need_more;
    mqtt::packet packet;        // valid when status == complete
    std::size_t consumed = 0;   // bytes of input the packet occupied
    std::error_code error;      // set when status == error

    bool complete() const noexcept { return status == decode_status::complete; }
};

// User Properties kept of one decoded packet; the ones after are read and
// checked like the rest, then left out. A User Property takes 5 bytes on
// the wire and about 80 decoded: without a bound a 1 MiB packet would cost
// some 17 MB to decode. Nothing this client receives needs more.
inline constexpr std::size_t max_user_properties = 128;

// Incremental decoding: `bytes` holds whatever has been received so far,
// starting at a packet boundary. Returns need_more until a whole packet is
// present, then the packet and how many bytes it used; an error means the
// stream is not MQTT and the connection must be closed [MQTT-4.8.0-1].
decode_result decode(std::span<const std::uint8_t> bytes, const decode_options& options = {});

// The start of a PUBLISH: `bytes` begins at its first byte and may end
// anywhere after it. need_more until its topic and packet id (3.1.1; with
// 5.0 its properties too) are in; then complete with the PUBLISH without
// its payload, `consumed` = the fixed header plus its remaining length (the
// whole packet's size). An error for a malformed head.
decode_result decode_publish_head(std::span<const std::uint8_t> bytes, protocol_version version);

}  // namespace fieldbridge::mqtt
