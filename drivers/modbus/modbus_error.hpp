// modbus_errc: the error codes of the Modbus driver as one std::error_code
// category. Values 1..11 are the Modbus exception codes exactly as a device
// sends them, so `code.value()` is what an operator looks up in a datasheet;
// the driver's own conditions (transport, decoding) live above 100.
// Stateless; the category object is a function-local static and thread-safe.
#pragma once

#include <system_error>
#include <type_traits>

namespace fieldbridge::modbus {

enum class modbus_errc {
    // Modbus exception codes (Modbus Application Protocol v1.1b3, 7).
    illegal_function = 1,
    illegal_data_address = 2,
    illegal_data_value = 3,
    server_device_failure = 4,
    acknowledge = 5,
    server_device_busy = 6,
    negative_acknowledge = 7,
    memory_parity_error = 8,
    gateway_path_unavailable = 10,
    gateway_target_failed = 11,

    // Transport.
    timeout = 101,
    connection_failed,
    invalid_response,   // bad CRC, wrong unit id, wrong length, unexpected function code
    unknown_exception,  // an exception code outside 1..11

    // Value codec.
    wrong_register_count = 201,
    value_out_of_range,
    not_a_number,
    invalid_string,
    string_too_long,
    wrong_value_type,
    invalid_point,  // a point the codec cannot handle (scale 0, bit > 15, ...)
    not_readable,   // the point lies outside what one request can address

    // Bus worker: a write or read queued and never sent, and why.
    not_sent = 301,       // the worker stopped
    restarted_by_reload,  // a configuration reload replaced the bus's worker
    gateway_stopping,     // the gateway shuts down
    // ... and a write the worker's stop cut short once it had gone out.
    written_not_read_back,  // the device answered the write; the read-back was not done
    write_cut_short,        // stopped while the write was out: the device may have taken it
    // A write queued for, or a block read of, a device the worker holds
    // offline (device_health): not sent.
    device_offline,
    // A block read held back by silent_blocks: it got no answer in its
    // last polls while the device answered its other blocks. Not sent.
    block_silent,
};

const std::error_category& modbus_category() noexcept;

std::error_code make_error_code(modbus_errc e) noexcept;

// True for the codes a device sends as a Modbus exception response.
bool is_exception(std::error_code code) noexcept;

}  // namespace fieldbridge::modbus

template <>
struct std::is_error_code_enum<fieldbridge::modbus::modbus_errc> : std::true_type {};
