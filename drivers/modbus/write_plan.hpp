// write_plan: which Modbus function writes a point, and the request that
// carries a value to it. Pure functions over the device's settings, the
// point and the value; safe from any thread.
//
//   coil                          FC5, or FC15 for a device that takes only
//                                 the "multiple" functions (write_function fc16)
//   bit of a holding register     FC22 mask write with mask_write (the device
//                                 changes the one bit itself, atomically);
//                                 else read the register (FC3) and write it
//                                 back changed: not atomic against another master
//   holding register(s)           FC6 for one register, FC16 for several or
//                                 for a device that refuses FC6 (fc16)
//   discrete input, input register  not writable: illegal_function
#pragma once

#include <cstdint>

#include "common/result.hpp"
#include "config/model.hpp"
#include "drivers/modbus/request.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

struct write_method {
    // Read the register first (FC3): the write keeps its other bits.
    bool read_first = false;
    function_code function = function_code::write_single_register;
    bool operator==(const write_method&) const = default;
};

// How point p of device d is written.
result<write_method> write_method_for(const config::device& d, const config::point& p);

// The request writing v to point p of device d by write_method_for's method:
// v encoded (checked against the point's type and range), `current` the
// register as read first when the method reads first.
result<request> write_request(const config::device& d, const config::point& p, const value& v,
                              std::uint16_t current = 0);

}  // namespace fieldbridge::modbus
