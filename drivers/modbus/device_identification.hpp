// device_identification: Read Device Identification (function 43, MEI type
// 14; Modbus Application Protocol v1.1b3, 6.21) as pure framing and
// parsing. libmodbus neither builds this request nor frames its answer (its
// length is in the objects, not in a byte count), so the link backends send
// the PDU made here and cut the answer with answer_extent(): on TCP the MBAP
// header carries the length and this checks it, on an RTU line it is the
// only way to tell where the answer ends. No I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "drivers/modbus/device_identity.hpp"

namespace fieldbridge::modbus {

inline constexpr std::uint8_t mei_function = 0x2B;  // function 43, Encapsulated Interface Transport
inline constexpr std::uint8_t mei_device_identification = 0x0E;  // its MEI type 14

// The request PDU: a stream access to `category` from object `first`.
std::array<std::uint8_t, 4> identification_request(identification_category category, std::uint8_t first);

// A device's answer PDU for `page` (what the simulator sends; objects of
// up to 255 bytes each, the caller keeps the whole within 253 bytes).
std::vector<std::uint8_t> identification_answer(const identification_page& page);

enum class extent_state : std::uint8_t {
    incomplete,  // more bytes are needed to tell
    complete,    // the answer is `length` bytes long
    invalid,     // not an answer to the request (wrong function, beyond 253 bytes)
};

struct answer_extent_result {
    extent_state state = extent_state::incomplete;
    std::size_t length = 0;
};

// How long the answer PDU starting at pdu[0] (the function code) is: an
// exception answer (0xAB, code) or a Read Device Identification answer,
// whose objects are walked; bytes after the answer are not looked at.
answer_extent_result answer_extent(std::span<const std::uint8_t> pdu);

// What a whole answer PDU says: the page, or the device's Modbus exception,
// or invalid_response (not a well-formed answer to a request for
// `category`: wrong MEI type or category, a count that does not match the
// objects, bytes left over, more_follows other than 0x00/0xFF).
result<identification_page> parse_identification(std::span<const std::uint8_t> pdu,
                                                 identification_category category);

// An answer ADU as received so far, cut down to its PDU once complete:
// state `complete` with `pdu` inside `frame`; `invalid` for a frame that is
// not an answer from `unit` (wrong unit id or CRC). Modbus TCP answers are
// framed by mbap.hpp.
struct answer_cut {
    extent_state state = extent_state::incomplete;
    std::span<const std::uint8_t> pdu;
};
// RTU: unit, PDU, CRC.
answer_cut cut_rtu_answer(std::span<const std::uint8_t> frame, std::uint8_t unit);

// The specification's name of a basic or regular object ("VendorName"), or
// empty for a private or reserved id.
std::string_view object_name(std::uint8_t id);

}  // namespace fieldbridge::modbus
