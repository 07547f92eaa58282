// request: one Modbus request as plain data (whom it goes to, the function
// code, the registers or bits, the values written) and its reply. What a
// link carries; built by the read plan and the write plan, never by hand.
// No libmodbus, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/device_identity.hpp"
#include "drivers/modbus/read_plan.hpp"

namespace fieldbridge::modbus {

// Modbus Application Protocol v1.1b3, 6.
enum class function_code : std::uint8_t {
    read_coils = 1,
    read_discrete_inputs = 2,
    read_holding_registers = 3,
    read_input_registers = 4,
    write_single_coil = 5,
    write_single_register = 6,
    write_multiple_coils = 15,
    write_multiple_registers = 16,
    mask_write_register = 22,
    read_device_identification = 43,  // MEI type 14 (device_identification)
};

struct request {
    std::uint8_t unit = 1;
    std::chrono::milliseconds timeout{1000};      // until the answer begins
    std::chrono::milliseconds byte_timeout{500};  // longest silence between two bytes of the answer
    // Modbus TCP: how long after a connection opened the device hears a
    // request (a link that reopens for the request waits it out).
    std::chrono::milliseconds connect_pause{0};
    function_code function = function_code::read_holding_registers;
    std::uint16_t address = 0;  // FC43: the first object asked for
    std::uint16_t count = 0;    // registers or bits read or written
    identification_category category = identification_category::basic;  // FC43 only
    // Written: the registers (FC6, FC16), one 0/1 word per coil (FC5, FC15),
    // or the AND mask and the OR mask (FC22).
    std::vector<std::uint16_t> values;
    // Asked again right after it failed (request_attempts): it may take a
    // late answer to its earlier attempt as its own (late_answers).
    bool retry = false;
};

// Whether r changes what the device holds (a write): such a request is
// never sent twice unless it is certain the first did not reach the device.
inline bool changes_device(const request& r) {
    switch (r.function) {
        case function_code::read_coils:
        case function_code::read_discrete_inputs:
        case function_code::read_holding_registers:
        case function_code::read_input_registers:
        case function_code::read_device_identification:
            return false;
        case function_code::write_single_coil:
        case function_code::write_single_register:
        case function_code::write_multiple_coils:
        case function_code::write_multiple_registers:
        case function_code::mask_write_register:
            break;
    }
    return true;
}

// What a read was answered with; a write's reply carries nothing we keep.
struct reply {
    std::vector<std::uint16_t> registers;  // FC3, FC4: registers[0] is the request's address
    std::vector<std::uint8_t> bits;        // FC1, FC2: one byte per bit, non-zero when set
    identification_page identification;    // FC43
};

// A request to device d, with its unit id and timeouts; the caller says what.
inline request to_device(const config::device& d) {
    request r;
    r.unit = d.unit_id;
    r.timeout = d.timeout;
    r.byte_timeout = d.byte_timeout;
    r.connect_pause = d.connect_pause;
    return r;
}

// The function code that reads registers or bits of this kind.
inline function_code read_function(config::register_kind kind) {
    switch (kind) {
        case config::register_kind::coil:
            return function_code::read_coils;
        case config::register_kind::discrete_input:
            return function_code::read_discrete_inputs;
        case config::register_kind::input_register:
            return function_code::read_input_registers;
        case config::register_kind::holding_register:
            break;
    }
    return function_code::read_holding_registers;
}

// The request for block read r of device d.
inline request read_of(const config::device& d, const read_request& r) {
    auto q = to_device(d);
    q.function = read_function(r.kind);
    q.address = r.start;
    q.count = r.count;
    return q;
}

}  // namespace fieldbridge::modbus
