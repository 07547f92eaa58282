// pdu: the protocol data units of the requests a link sends and of their
// answers (Modbus Application Protocol v1.1b3, 6 and 7), as pure functions
// over bytes: what a backend that frames its own bytes (mbap.hpp) puts on
// the wire and what it makes of the answer. No I/O; safe from any thread.
//
// An answer is checked as libmodbus checks it: the function code (or its
// exception form), the byte count and length a read's quantity implies, and
// for a write of several registers or coils the address and quantity echoed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "drivers/modbus/request.hpp"

namespace fieldbridge::modbus {

// The largest PDU (function code and data) a Modbus frame carries.
inline constexpr std::size_t max_pdu_size = 253;

// The request PDU for r. wrong_register_count: a quantity outside what the
// function allows (reads of 1..125 registers or 1..2000 bits, writes of
// 1..123 registers or 1..1968 coils), or values that do not match it.
result<std::vector<std::uint8_t>> request_pdu(const request& r);

// What answer PDU `pdu` (function code first) says to request r: empty,
// with what a read returned in `answer`; the device's Modbus exception
// (unknown_exception for a code outside 1..11); or invalid_response (not
// an answer to r: another function, a wrong byte count or length, an echo
// that does not match).
std::error_code parse_answer(const request& r, std::span<const std::uint8_t> pdu, reply& answer);

}  // namespace fieldbridge::modbus
