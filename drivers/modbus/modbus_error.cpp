#include "drivers/modbus/modbus_error.hpp"

#include <string>

namespace fieldbridge::modbus {
namespace {

class modbus_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "modbus"; }

    std::string message(int value) const override {
        switch (static_cast<modbus_errc>(value)) {
            case modbus_errc::illegal_function:
                return "Modbus exception 1: illegal function";
            case modbus_errc::illegal_data_address:
                return "Modbus exception 2: illegal data address";
            case modbus_errc::illegal_data_value:
                return "Modbus exception 3: illegal data value";
            case modbus_errc::server_device_failure:
                return "Modbus exception 4: server device failure";
            case modbus_errc::acknowledge:
                return "Modbus exception 5: acknowledge (request accepted, still processing)";
            case modbus_errc::server_device_busy:
                return "Modbus exception 6: server device busy";
            case modbus_errc::negative_acknowledge:
                return "Modbus exception 7: negative acknowledge";
            case modbus_errc::memory_parity_error:
                return "Modbus exception 8: memory parity error";
            case modbus_errc::gateway_path_unavailable:
                return "Modbus exception 10: gateway path unavailable";
            case modbus_errc::gateway_target_failed:
                return "Modbus exception 11: gateway target device failed to respond";
            case modbus_errc::timeout:
                return "no response from the device within the timeout";
            case modbus_errc::connection_failed:
                return "connection to the bus failed";
            case modbus_errc::invalid_response:
                return "invalid response from the device (CRC, unit id, length or function code)";
            case modbus_errc::unknown_exception:
                return "Modbus exception with an unknown code";
            case modbus_errc::wrong_register_count:
                return "wrong number of registers for the point's data type";
            case modbus_errc::value_out_of_range:
                return "value out of range for the point";
            case modbus_errc::not_a_number:
                return "value is not a finite number";
            case modbus_errc::invalid_string:
                return "string contains characters that are not printable UTF-8";
            case modbus_errc::string_too_long:
                return "string longer than the point's registers hold";
            case modbus_errc::wrong_value_type:
                return "value has the wrong type for the point";
            case modbus_errc::invalid_point:
                return "point definition cannot be encoded or decoded (scale 0, bit above 15, ...)";
            case modbus_errc::not_readable:
                return "point does not fit in one Modbus request";
            case modbus_errc::not_sent:
                return "the bus stopped before the write was sent";
            case modbus_errc::restarted_by_reload:
                return "the bus was restarted by a configuration reload before the write was sent";
            case modbus_errc::gateway_stopping:
                return "the gateway is stopping; the write was not sent";
            case modbus_errc::written_not_read_back:
                return "the device took the write; it was not read back because the bus stopped (a configuration "
                       "reload or the gateway stopping)";
            case modbus_errc::device_offline:
                return "the device is offline (no good value in its last polls): not sent";
            case modbus_errc::block_silent:
                return "the device did not answer this block in its last polls while answering its others: asked "
                       "again every offline_poll_interval, not in this poll";
            case modbus_errc::write_cut_short:
                return "the bus stopped (a configuration reload or the gateway stopping) while the write was out: "
                       "the device may have taken it";
        }
        return "unknown Modbus error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& modbus_category() noexcept {
    static const modbus_category_impl category;
    return category;
}

std::error_code make_error_code(modbus_errc e) noexcept { return {static_cast<int>(e), modbus_category()}; }

bool is_exception(std::error_code code) noexcept {
    return code.category() == modbus_category() &&
           ((code.value() >= 1 && code.value() <= 11) || code.value() == static_cast<int>(modbus_errc::unknown_exception));
}

}  // namespace fieldbridge::modbus
