// read_plan: merges a device's points into as few block reads as the
// device allows. Pure function over the point list; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/model.hpp"

namespace fieldbridge::modbus {

struct plan_limits {
    std::uint16_t max_gap = 10;         // unused registers (or bits) bridged between two points
    std::uint16_t max_registers = 125;  // per FC3/FC4 request; clamped to 1..125
    std::uint16_t max_bits = 2000;      // per FC1/FC2 request; clamped to 1..2000
    bool merge = true;                  // false: one request per point (points on the same registers share it)
    // FC1/FC2 requests start at a multiple of this (config::device::bit_alignment); 1..16.
    std::uint16_t bit_alignment = 1;
};

// The limits a device's settings ask for.
inline plan_limits limits_of(const config::device& d) {
    return plan_limits{d.max_gap, d.max_registers_per_read, d.max_bits_per_read, d.merge_reads, d.bit_alignment};
}

struct read_request {
    config::register_kind kind;
    std::uint16_t start;
    std::uint16_t count;
    std::vector<std::size_t> points;  // indexes into the device's point vector, by address
};

// One request list per device: grouped by function code (coils FC1,
// discrete inputs FC2, holding registers FC3, input registers FC4, in that
// order), each group sorted by start address. Points sharing registers
// (bits of one register, overlapping definitions) share the read.
// A point larger than the limit is read alone in a request of its own size:
// a value is never torn across two requests (devices with a limit of 1
// register per read hold no multi-register values). A point that no single request
// can address (beyond 65535, longer than 125 registers) is left out; the
// caller reports it as not_readable. A bit request starts at a multiple of
// limits.bit_alignment, at or below its first point, and still holds at
// most max_bits; a point that cannot be read so within max_bits is read
// alone at its own address.
std::vector<read_request> plan_reads(const std::vector<config::point>& points, const plan_limits& limits);

// What to read instead of a block the device refused with exception 2
// (a read spanning registers the device does not map): the block's points
// in gap-free runs, or, when it had no gap, one request per point (bit
// requests aligned as plan_reads aligns them, within limits.max_bits). A
// lone point refused from an aligned start is read at its own address.
// Points on the same registers (bits of one register) share a part. Empty
// when there is nothing smaller to try (a lone point at its address, points
// that all lie on the refused registers).
std::vector<read_request> split_request(const read_request& refused, const std::vector<config::point>& points,
                                        const plan_limits& limits = {});

// A block read a device refused with exception 2: learned while polling,
// kept in the store, applied to the device's plan when it starts again.
struct refused_read {
    config::register_kind kind = config::register_kind::holding_register;
    std::uint16_t start = 0;
    std::uint16_t count = 0;
    bool operator==(const refused_read&) const = default;
};

// Replaces every request of `plan` that matches a refused read (same kind,
// start and count) by its parts (split_request), and the parts that were
// refused too by theirs. Refusals matching no request are ignored (the
// point map changed since).
void apply_refusals(std::vector<read_request>& plan, const std::vector<refused_read>& refused,
                    const std::vector<config::point>& points, const plan_limits& limits = {});

}  // namespace fieldbridge::modbus
