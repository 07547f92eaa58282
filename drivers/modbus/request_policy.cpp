#include "drivers/modbus/request_policy.hpp"

#include <algorithm>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

request_attempts::request_attempts(int retries, std::chrono::milliseconds busy_delay, kind k)
    : retries_(std::max(retries, 0)), busy_delay_(std::max(busy_delay, std::chrono::milliseconds(0))), kind_(k) {}

request_attempts::next request_attempts::after(std::error_code error, clock::time_point now) {
    ++made_;
    if (!error || made_ > retries_) return {};
    if (is_exception(error)) {
        // Server busy is worth asking again after a wait; any other
        // exception would only be repeated.
        if (error != make_error_code(modbus_errc::server_device_busy)) return {};
        return {true, now + busy_delay_};
    }
    if (kind_ == kind::write) return {};  // it may have been taken
    return {true, now};
}

std::chrono::steady_clock::time_point paced_until(const config::device& d, int last_unit,
                                                  std::chrono::steady_clock::time_point last_request_end) {
    const auto pause = last_unit == d.unit_id ? d.request_delay : d.switch_delay;
    return pause.count() > 0 ? last_request_end + pause : std::chrono::steady_clock::time_point{};
}

}  // namespace fieldbridge::modbus
