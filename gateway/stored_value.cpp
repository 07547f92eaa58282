#include "gateway/stored_value.hpp"

#include <type_traits>
#include <utility>
#include <variant>

namespace fieldbridge::gateway {

stored_value::stored_value(const std::optional<modbus::value>& v) {
    if (!v) {
        kind_ = kind::bad;
        return;
    }
    std::visit(
        [this](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, bool>) {
                payload_.boolean = x;
                kind_ = kind::boolean;
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                payload_.signed_integer = x;
                kind_ = kind::signed_integer;
            } else if constexpr (std::is_same_v<T, std::uint64_t>) {
                payload_.unsigned_integer = x;
                kind_ = kind::unsigned_integer;
            } else if constexpr (std::is_same_v<T, double>) {
                payload_.real = x;
                kind_ = kind::real;
            } else {
                payload_.text = new std::string(x);
                kind_ = kind::text;
            }
        },
        *v);
}

stored_value::stored_value(const stored_value& other) : payload_(other.payload_), kind_(other.kind_) {
    if (kind_ == kind::text) payload_.text = new std::string(*other.payload_.text);
}

stored_value::stored_value(stored_value&& other) noexcept : payload_(other.payload_), kind_(other.kind_) {
    other.kind_ = kind::unset;
}

stored_value& stored_value::operator=(const stored_value& other) {
    if (this != &other) *this = stored_value(other);
    return *this;
}

stored_value& stored_value::operator=(stored_value&& other) noexcept {
    if (this != &other) {
        release();
        payload_ = other.payload_;
        kind_ = std::exchange(other.kind_, kind::unset);
    }
    return *this;
}

stored_value::~stored_value() { release(); }

void stored_value::release() noexcept {
    if (kind_ == kind::text) delete payload_.text;
    kind_ = kind::unset;
}

std::optional<modbus::value> stored_value::get() const {
    switch (kind_) {
        case kind::unset:
        case kind::bad:
            return std::nullopt;
        case kind::boolean:
            return modbus::value{payload_.boolean};
        case kind::signed_integer:
            return modbus::value{payload_.signed_integer};
        case kind::unsigned_integer:
            return modbus::value{payload_.unsigned_integer};
        case kind::real:
            return modbus::value{payload_.real};
        case kind::text:
            return modbus::value{*payload_.text};
    }
    return std::nullopt;
}

std::optional<double> stored_value::number() const noexcept {
    switch (kind_) {
        case kind::signed_integer:
            return static_cast<double>(payload_.signed_integer);
        case kind::unsigned_integer:
            return static_cast<double>(payload_.unsigned_integer);
        case kind::real:
            return payload_.real;
        default:
            return std::nullopt;
    }
}

bool operator==(const stored_value& a, const stored_value& b) noexcept {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
        case stored_value::kind::unset:
        case stored_value::kind::bad:
            return true;
        case stored_value::kind::boolean:
            return a.payload_.boolean == b.payload_.boolean;
        case stored_value::kind::signed_integer:
            return a.payload_.signed_integer == b.payload_.signed_integer;
        case stored_value::kind::unsigned_integer:
            return a.payload_.unsigned_integer == b.payload_.unsigned_integer;
        case stored_value::kind::real:
            return a.payload_.real == b.payload_.real;
        case stored_value::kind::text:
            return *a.payload_.text == *b.payload_.text;
    }
    return false;
}

}  // namespace fieldbridge::gateway
