// stored_value: a point's value as kept between polls, in 16 bytes. A
// gateway keeps two per point (the latest reading and the last published
// one); numbers and booleans sit in place, a string (rare: a device's name
// or serial number) on the heap. Also says "no reading yet" and "bad
// reading", which modbus::value cannot. Pure; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::gateway {

class stored_value {
public:
    enum class kind : std::uint8_t { unset, bad, boolean, signed_integer, unsigned_integer, real, text };

    stored_value() noexcept = default;
    // nullopt is a bad reading.
    explicit stored_value(const std::optional<modbus::value>& v);
    stored_value(const stored_value& other);
    stored_value(stored_value&& other) noexcept;
    stored_value& operator=(const stored_value& other);
    stored_value& operator=(stored_value&& other) noexcept;
    ~stored_value();

    kind what() const noexcept { return kind_; }
    bool is_set() const noexcept { return kind_ != kind::unset; }
    bool is_bad() const noexcept { return kind_ == kind::bad; }

    // The value back; nullopt when unset or bad.
    std::optional<modbus::value> get() const;
    // A number (integers and reals) as a double; nullopt for anything else.
    std::optional<double> number() const noexcept;

    // Same kind and same value (a real compared with ==: NaN is unequal to itself).
    friend bool operator==(const stored_value& a, const stored_value& b) noexcept;

private:
    void release() noexcept;

    union payload {
        bool boolean;
        std::int64_t signed_integer;
        std::uint64_t unsigned_integer;
        double real;
        std::string* text;  // owned
    };
    payload payload_{.unsigned_integer = 0};
    kind kind_ = kind::unset;
};

static_assert(sizeof(stored_value) == 16);

}  // namespace fieldbridge::gateway
