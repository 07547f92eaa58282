#include "sparkplug/metric_mapping.hpp"

#include <cmath>

namespace fieldbridge::sparkplug {
namespace {

bool is_signed(data_type t) {
    return t == data_type::int8 || t == data_type::int16 || t == data_type::int32 || t == data_type::int64;
}

// The value as a signed or unsigned 64-bit integer (doubles rounded).
struct integer {
    bool negative = false;
    std::uint64_t bits = 0;  // two's complement when negative
};

std::optional<integer> as_integer(const modbus::value& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return integer{*i < 0, static_cast<std::uint64_t>(*i)};
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return integer{false, *u};
    if (const auto* d = std::get_if<double>(&v)) {
        if (!std::isfinite(*d)) return std::nullopt;
        const double r = std::round(*d);
        if (r < -9.2e18 || r > 1.8e19) return std::nullopt;
        if (r < 0) return integer{true, static_cast<std::uint64_t>(static_cast<std::int64_t>(r))};
        return integer{false, static_cast<std::uint64_t>(r)};
    }
    if (const auto* b = std::get_if<bool>(&v)) return integer{false, *b ? 1U : 0U};
    return std::nullopt;
}

std::optional<double> as_double(const modbus::value& v) {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
    if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
    return std::nullopt;
}

}  // namespace

data_type metric_type(const config::point& p) {
    using config::data_type;
    if (p.type == data_type::boolean) return sparkplug::data_type::boolean;
    if (p.type == data_type::string) return sparkplug::data_type::string;
    if (p.scale != 1.0 || p.offset != 0.0) return sparkplug::data_type::float64;
    switch (p.type) {
        case data_type::int16:
            return sparkplug::data_type::int16;
        case data_type::uint16:
            return sparkplug::data_type::uint16;
        case data_type::int32:
            return sparkplug::data_type::int32;
        case data_type::uint32:
            return sparkplug::data_type::uint32;
        case data_type::int64:
            return sparkplug::data_type::int64;
        case data_type::uint64:
            return sparkplug::data_type::uint64;
        case data_type::float32:
            return sparkplug::data_type::float32;
        default:
            return sparkplug::data_type::float64;
    }
}

wire_value to_wire(data_type t, const std::optional<modbus::value>& v) {
    if (!v) return null_value{};
    switch (t) {
        case data_type::boolean: {
            if (const auto* b = std::get_if<bool>(&*v)) return *b;
            const auto d = as_double(*v);
            if (!d) return null_value{};
            return *d != 0.0;
        }
        case data_type::string:
        case data_type::text:
            if (const auto* s = std::get_if<std::string>(&*v)) return *s;
            return null_value{};
        case data_type::float32:
        case data_type::float64: {
            const auto d = as_double(*v);
            if (!d || !std::isfinite(*d)) return null_value{};
            if (t == data_type::float32) return static_cast<float>(*d);
            return *d;
        }
        case data_type::int8:
        case data_type::int16:
        case data_type::int32:
        case data_type::uint8:
        case data_type::uint16:
        case data_type::uint32: {
            const auto i = as_integer(*v);
            if (!i) return null_value{};
            return static_cast<std::uint32_t>(i->bits);  // the low 32 bits: a sign-extended Int8..Int32 too
        }
        case data_type::int64:
        case data_type::uint64:
        case data_type::datetime: {
            const auto i = as_integer(*v);
            if (!i) return null_value{};
            return i->bits;
        }
        default:
            return null_value{};
    }
}

std::variant<modbus::value, std::string> from_wire(data_type t, const wire_value& v) {
    if (std::holds_alternative<null_value>(v)) return std::string("no value (null)");
    if (t == data_type::boolean) {
        if (const auto* b = std::get_if<bool>(&v)) return modbus::value{*b};
        return std::string("expected a boolean_value for a Boolean metric");
    }
    if (t == data_type::string || t == data_type::text) {
        if (const auto* s = std::get_if<std::string>(&v)) return modbus::value{*s};
        return std::string("expected a string_value for a String metric");
    }
    if (std::holds_alternative<bool>(v) || std::holds_alternative<std::string>(v)) {
        return std::string("expected a number for a numeric metric");
    }
    if (const auto* f = std::get_if<float>(&v)) return modbus::value{static_cast<double>(*f)};
    if (const auto* d = std::get_if<double>(&v)) return modbus::value{*d};
    if (const auto* u32 = std::get_if<std::uint32_t>(&v)) {
        // Signed values by their own width: Int16 -1 is 0xFFFFFFFF from a
        // host that sign-extends and 0x0000FFFF from one that does not.
        switch (t) {
            case data_type::int8:
                return modbus::value{static_cast<std::int64_t>(static_cast<std::int8_t>(*u32 & 0xFFU))};
            case data_type::int16:
                return modbus::value{static_cast<std::int64_t>(static_cast<std::int16_t>(*u32 & 0xFFFFU))};
            case data_type::int32:
            case data_type::int64:
                return modbus::value{static_cast<std::int64_t>(static_cast<std::int32_t>(*u32))};
            default:
                return modbus::value{static_cast<std::uint64_t>(*u32)};
        }
    }
    const auto u64 = std::get<std::uint64_t>(v);
    if (is_signed(t)) return modbus::value{static_cast<std::int64_t>(u64)};
    return modbus::value{u64};
}

std::vector<device_definition> devices_of(const config::gateway& cfg) {
    std::vector<device_definition> out;
    out.reserve(cfg.devices.size());
    for (const auto& d : cfg.devices) {
        device_definition def;
        def.name = d.name;
        def.metrics.reserve(d.points.size());
        for (const auto& p : d.points) def.metrics.push_back(metric_definition{p.name, metric_type(p), p.unit, p.writable});
        out.push_back(std::move(def));
    }
    return out;
}

}  // namespace fieldbridge::sparkplug
