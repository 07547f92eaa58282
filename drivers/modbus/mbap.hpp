// mbap: Modbus TCP framing (Modbus Messaging on TCP/IP Implementation Guide
// v1.0b, 3.1.3): the 7-byte MBAP header (transaction id, protocol id 0, the
// length of what follows it, unit id) in front of a PDU (pdu.hpp). Pure
// functions over bytes; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fieldbridge::modbus {

inline constexpr std::size_t mbap_header_size = 7;

// The request ADU: the header for `transaction` and `unit`, then the PDU
// (at most max_pdu_size bytes).
std::vector<std::uint8_t> mbap_frame(std::uint16_t transaction, std::uint8_t unit,
                                     std::span<const std::uint8_t> pdu);

struct mbap_header {
    std::uint16_t transaction = 0;
    std::uint8_t unit = 0;
    std::size_t frame_size = 0;  // the whole ADU, header included
};

// The header of a frame whose first mbap_header_size bytes are `header`;
// frame_size 0 when it cannot start a Modbus frame (a protocol id other
// than 0, a length below 2 or beyond a PDU of max_pdu_size bytes): the
// stream is out of step.
mbap_header parse_mbap_header(std::span<const std::uint8_t, mbap_header_size> header);

}  // namespace fieldbridge::modbus
