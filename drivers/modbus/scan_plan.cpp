#include "drivers/modbus/scan_plan.hpp"

#include <algorithm>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

std::vector<request> scan_probes(std::uint8_t unit, std::chrono::milliseconds timeout) {
    std::vector<request> probes;
    for (const auto f : {function_code::read_holding_registers, function_code::read_input_registers}) {
        request r;
        r.unit = unit;
        r.timeout = timeout;
        r.byte_timeout = std::min(timeout, std::chrono::milliseconds(500));
        r.function = f;
        r.address = 0;
        r.count = 1;
        probes.push_back(r);
    }
    request identify = probes.back();
    identify.function = function_code::read_device_identification;
    identify.count = 0;
    identify.category = identification_category::basic;
    probes.push_back(identify);
    return probes;
}

std::optional<request> identification_follow_up(const request& asked, const identification_page& answer,
                                                std::size_t pages) {
    if (!answer.more_follows || pages >= max_identification_pages || answer.next_object <= asked.address)
        return std::nullopt;
    request next = asked;
    next.address = answer.next_object;
    return next;
}

namespace {
// Exceptions 10 and 11 come from a gateway in front of the unit (a Modbus
// TCP to RTU gateway): the path is down or the unit behind it is silent.
bool got_an_answer(const probe_result& r) {
    return !r.error ||
           (is_exception(r.error) && r.error != make_error_code(modbus_errc::gateway_path_unavailable) &&
            r.error != make_error_code(modbus_errc::gateway_target_failed));
}
}  // namespace

bool probe_again(const probe_result& r) {
    return got_an_answer(r);
}

bool answered(const unit_result& u) {
    return std::any_of(u.probes.begin(), u.probes.end(), got_an_answer);
}

}  // namespace fieldbridge::modbus
