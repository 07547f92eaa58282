#include "gateway/point_filter.hpp"

#include <cmath>
#include <variant>

namespace fieldbridge::gateway {
namespace {

std::optional<double> as_number(const modbus::value& v) {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
    return std::nullopt;
}

}  // namespace

bool point_filter::changed(const std::optional<modbus::value>& value) const {
    if (value.has_value() != last_.has_value()) return true;  // quality changed
    if (!value) return false;                                 // still bad
    if (value->index() != last_->index()) return true;
    const auto now_number = as_number(*value);
    const auto last_number = as_number(*last_);
    if (now_number && last_number) {
        // Both NaN: unchanged; one NaN: changed; otherwise beyond the band.
        if (std::isnan(*now_number) || std::isnan(*last_number))
            return std::isnan(*now_number) != std::isnan(*last_number);
        if (deadband_ > 0.0) return std::fabs(*now_number - *last_number) >= deadband_;
    }
    return *value != *last_;
}

bool point_filter::offer(const std::optional<modbus::value>& value, clock::time_point now) {
    const bool heartbeat_due = heartbeat_.count() > 0 && now - last_time_ >= heartbeat_;
    if (published_ && !heartbeat_due && !changed(value)) return false;
    published_ = true;
    last_ = value;
    last_time_ = now;
    return true;
}

}  // namespace fieldbridge::gateway
