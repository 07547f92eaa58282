// Equal point lists kept once. Devices that list the same points (a list
// copied from device to device, or generated) end up holding one list, as
// devices made from one profile do: the memory of a configuration grows
// with its distinct lists, not with its devices. Two lists are equal when
// every point is, field by field; where they were written (source_mark)
// does not count, so after sharing a device's points carry the marks of
// the first device that listed them. Run after validation: diagnostics
// name each device's own lines.
#pragma once

#include <cstddef>

#include "config/model.hpp"

namespace fieldbridge::config {

// Lists compared with each other per hash value, at most: a file of
// thousands of lists that differ but hash alike (crafted to) costs
// thousands times this many comparisons, not thousands squared; a list
// past it is kept on its own.
inline constexpr std::size_t max_lists_per_hash = 16;

// Every device (and profile) whose list equals an earlier one's takes that
// one; contents are unchanged. Returns the number of list comparisons made.
std::size_t share_equal_point_lists(gateway& gw);

// A copy of gw whose point lists are copies too (shared where gw's are):
// made while the parse's memory is still held, it lands in one place
// instead of between the parse's freed pieces, so that freeing the parse
// gives whole pages back.
gateway compact_copy(const gateway& gw);

}  // namespace fieldbridge::config
