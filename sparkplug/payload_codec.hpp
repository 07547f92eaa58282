// Sparkplug B payloads to protobuf bytes and back, through the code
// protoc-c generates from sparkplug_b.proto. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "sparkplug/payload.hpp"

namespace fieldbridge::sparkplug {

// Strings that are not UTF-8 (a device's string register) go out with
// U+FFFD in place of what does not decode, and without NUL characters,
// which a protobuf string of this codec cannot hold.
std::string encode(const payload& p);

struct decode_error {
    std::string why;
};

// Bytes that are not a Sparkplug B payload (not protobuf, a value of the
// wrong wire type, more than most_metrics metrics, more than
// max_payload_bytes) give why; the metrics are counted before anything is
// allocated for them (a metric of two bytes takes a few hundred once
// decoded). Text is cleaned as on encode.
inline constexpr std::size_t max_metrics = 100'000;
inline constexpr std::size_t max_payload_bytes = 16U << 20U;
std::variant<payload, decode_error> decode(std::string_view bytes, std::size_t most_metrics = max_metrics);

}  // namespace fieldbridge::sparkplug
