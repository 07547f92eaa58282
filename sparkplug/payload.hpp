// A Sparkplug B payload as plain values (Eclipse Sparkplug 3.0, chapter 6):
// what the edge node builds and the codec turns into protobuf bytes and
// back. No protobuf type appears here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace fieldbridge::sparkplug {

// Metric and property data types; the numbers are the specification's
// (6.4.16) and go on the wire.
enum class data_type : std::uint32_t {
    unknown = 0,
    int8 = 1,
    int16 = 2,
    int32 = 3,
    int64 = 4,
    uint8 = 5,
    uint16 = 6,
    uint32 = 7,
    uint64 = 8,
    float32 = 9,  // "Float"
    float64 = 10,  // "Double"
    boolean = 11,
    string = 12,
    datetime = 13,
    text = 14,
};

// A metric's or property's value as it travels: int_value (uint32) carries
// Int8..Int32 and UInt8..UInt32, long_value (uint64) Int64, UInt64 and
// DateTime, signed ones in two's complement. null: is_null, no value.
struct null_value {
    bool operator==(const null_value&) const = default;
};
using wire_value = std::variant<null_value, std::uint32_t, std::uint64_t, float, double, bool, std::string>;

struct property {
    std::string key;
    data_type type = data_type::string;
    wire_value value;
    bool operator==(const property&) const = default;
};

struct metric {
    std::optional<std::string> name;  // in births; data messages may carry the alias alone
    std::optional<std::uint64_t> alias;
    std::optional<std::uint64_t> timestamp;  // ms since 1970, UTC
    std::optional<data_type> datatype;       // in births; optional in data messages
    bool is_historical = false;
    bool is_transient = false;
    wire_value value;  // null_value: is_null
    std::vector<property> properties;
    bool operator==(const metric&) const = default;
};

struct payload {
    std::optional<std::uint64_t> timestamp;  // ms since 1970, UTC
    std::vector<metric> metrics;
    std::optional<std::uint64_t> seq;  // 0..255; none in NDEATH
    std::optional<std::string> uuid;
    std::optional<std::string> body;
    bool operator==(const payload&) const = default;
};

}  // namespace fieldbridge::sparkplug
