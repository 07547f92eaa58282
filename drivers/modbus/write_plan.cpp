#include "drivers/modbus/write_plan.hpp"

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

result<write_method> write_method_for(const config::device& d, const config::point& p) {
    const bool multiple_only = d.write_function == config::write_function::fc16;
    switch (p.kind) {
        case config::register_kind::coil:
            return write_method{false,
                                multiple_only ? function_code::write_multiple_coils : function_code::write_single_coil};
        case config::register_kind::holding_register:
            if (p.bit && d.mask_write) return write_method{false, function_code::mask_write_register};
            return write_method{p.bit.has_value(), modbus::register_count(p) == 1 && !multiple_only
                                                       ? function_code::write_single_register
                                                       : function_code::write_multiple_registers};
        case config::register_kind::discrete_input:
        case config::register_kind::input_register:
            break;
    }
    return fail(modbus_errc::illegal_function);
}

result<request> write_request(const config::device& d, const config::point& p, const value& v,
                              std::uint16_t current) {
    const auto method = write_method_for(d, p);
    if (!method) return fail(method.error());
    auto words = encode(p, v, method->read_first ? current : std::uint16_t{0});
    if (!words) return fail(words.error());
    auto r = to_device(d);
    r.function = method->function;
    r.address = p.address;
    switch (method->function) {
        case function_code::write_single_coil:
        case function_code::write_multiple_coils:
            r.count = 1;
            r.values = {static_cast<std::uint16_t>(words->at(0) != 0 ? 1 : 0)};
            break;
        case function_code::mask_write_register: {
            const auto mask = static_cast<std::uint16_t>(1u << static_cast<unsigned>(*p.bit));
            r.count = 1;
            r.values = {static_cast<std::uint16_t>(~mask), static_cast<std::uint16_t>(words->at(0) & mask)};
            break;
        }
        case function_code::write_single_register:
        case function_code::write_multiple_registers:
            if (words->size() != modbus::register_count(p)) return fail(modbus_errc::wrong_register_count);
            r.count = static_cast<std::uint16_t>(words->size());
            r.values = std::move(*words);
            break;
        default:
            return fail(modbus_errc::illegal_function);
    }
    return r;
}

}  // namespace fieldbridge::modbus
