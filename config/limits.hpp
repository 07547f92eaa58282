// The bounds of one configuration load. A file past any of them is refused
// with a file:line:col error naming the bound, before it can exhaust the
// memory of a small gateway: a 512 MB box must survive `fieldbridge check`
// on any file, including a hostile one ("billion laughs" aliases, an
// !include of /dev/zero). Documented in docs/configuration.md, "Limits".
#pragma once

#include <cstddef>
#include <cstdint>

namespace fieldbridge::config::limits {

// Bytes of one file (the main file or one included file). 50 000 points
// written out one by one take about 5.5 MB.
inline constexpr std::size_t max_file_bytes = 16u * 1024 * 1024;

// Bytes of the main file and every file it includes, together (a file
// included many times counts once: it is read once).
inline constexpr std::size_t max_total_bytes = 32u * 1024 * 1024;

// Files included from included files, counted from the main file (1: the
// main file includes a file that includes nothing).
inline constexpr int max_include_depth = 16;

// YAML nodes (scalars, lists, maps, keys included) after every alias is
// expanded, summed over the main file and each !include where it is used.
// 50 000 points written out one by one are about 760 000 nodes.
inline constexpr std::uint64_t max_nodes = 5'000'000;

inline constexpr std::size_t max_devices = 5'000;
inline constexpr std::size_t max_points_per_device = 10'000;
// Points of all devices together; a profile's points count once per device
// that uses it (each is polled, mapped and published on its own).
inline constexpr std::size_t max_points_total = 200'000;

// Bytes of every point's publish topic together: the gateway keeps them
// all in memory (and a template of a few bytes can make topics of 65 535).
// 200 000 points with topics of 300 bytes come to 60 MB.
inline constexpr std::size_t max_topic_bytes = 64u * 1024 * 1024;

// Errors (and, apart, warnings) listed for one load; past it they are
// counted ("... and 12345 more errors").
inline constexpr std::size_t max_diagnostics = 1'000;
// Bytes of one error or warning message kept; a longer one (it quotes a
// name or a value of the file) is cut, its length named. 1 000 messages of
// this size are 4 MB, whatever the file.
inline constexpr std::size_t max_diagnostic_bytes = 4'096;

}  // namespace fieldbridge::config::limits
