// poll_writes: what the bus worker decides about writes let in between the
// block reads of a poll. Pure functions over values; safe from any thread.
//
// A command does not wait for a long poll to end: the worker lets writes in
// between two block reads, at most writes_between_reads of them, so that a
// flood of commands still leaves the polls their turn. A sample read before
// such a write of the same registers holds the value the write replaced;
// handed over after the write's read-back, it would publish the old value as
// a change. It is left out of the poll result (dropped_overwritten): the
// read-back carries the new value and the next poll reads the point again.
// A sample left out is neither good nor bad: device health does not count it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/poll_result.hpp"

namespace fieldbridge::modbus {

// Writes (and one-shot reads) done between two block reads of the bus, and
// before a poll starts: commands go ahead of the next block at normal rates,
// and a stream of them leaves every block its turn.
inline constexpr std::size_t writes_between_reads = 4;

// The registers (or bits) a write of one point changes, or may have changed
// when it went out without an answer.
struct written_registers {
    config::register_kind kind = config::register_kind::holding_register;
    std::uint32_t start = 0;
    std::uint32_t count = 0;
    bool operator==(const written_registers&) const = default;
};

// What a write of point p changes: its registers (the whole register for a
// bit of one), or its coil.
written_registers written_by(const config::point& p);

// Whether reading point p reads anything `w` wrote.
bool overlaps(const written_registers& w, const config::point& p);

// Removes from `samples` (of a device with these points) every sample of a
// point that a write in `written` overlaps; returns how many it removed.
std::size_t drop_overwritten(std::vector<sample>& samples, const std::vector<config::point>& points,
                             const std::vector<written_registers>& written);

}  // namespace fieldbridge::modbus
