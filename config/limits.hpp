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

// Lists and maps in brackets ([ ] and { }) inside each other. A
// configuration nests a few levels; the parser holds every bracket of a
// deeper nest in memory before it can refuse it.
inline constexpr std::size_t max_flow_depth = 64;
// Tokens (scalars, brackets, ',' and ':') of the lists and maps in
// brackets that begin on one line outside brackets: the parser holds about
// 130 bytes for each until that line's collections close (a JSON document
// is one). A point written { name: a, register: holding, address: 0 } is
// 13 tokens; a list of 70 000 of them in brackets passes the bound, one per
// line (- { ... }) does not.
inline constexpr std::size_t max_flow_tokens = 1'000'000;

// Memory a load may grow by while the YAML parser reads its files (the main
// file and each included one, with the trees of those read before), read
// between chunks of 16 KiB of text: what yaml-cpp holds while it reads is
// out of reach of the bounds above, and some files (tokens in brackets
// after a line break the scan above reads differently) make it hundreds of
// bytes for each byte read. 200 000 points written out take about 70 MB, a
// JSON document at max_flow_tokens about 140 MB; a block list of 3 million
// one-character items (about 90 % of a file at the size bound) reaches it.
inline constexpr std::size_t max_parse_heap_bytes = 192u * 1024 * 1024;

inline constexpr std::size_t max_devices = 5'000;
// Keys of one map (merged keys included): the largest map a configuration
// needs is `devices`. Each key read is kept with its path and marks while
// its map is read (about 400 bytes): a file of a million keys in one map
// took 600 MB before anything else could refuse it.
inline constexpr std::size_t max_map_keys = 2 * max_devices;
// Bytes of one map key (device, bus and profile names are keys): every key
// below it carries it in its path while the file is read.
inline constexpr std::size_t max_key_bytes = 256;
// A bus serves at least one device, so no plant needs more buses than
// devices; a profile is a device model, of which a plant has a few dozen.
// Each is kept with its settings while the file is read (a profile with a
// device's whole set of defaults): a file of a million empty profiles would
// take a gigabyte.
inline constexpr std::size_t max_buses = max_devices;
inline constexpr std::size_t max_profiles = 1'000;
inline constexpr std::size_t max_points_per_device = 10'000;
// Entries of the other lists: brokers to fail over to, and the register
// ranges a simulated device lacks (or does not answer: each list alone).
inline constexpr std::size_t max_failover_brokers = 64;
inline constexpr std::size_t max_unmapped_ranges = 1'000;
// Points of all devices together; a profile's points count once per device
// that uses it (each is polled, mapped and published on its own).
inline constexpr std::size_t max_points_total = 200'000;
// Points written in profiles, all profiles together (a list written once and
// named by several profiles through an alias counts once per profile).
inline constexpr std::size_t max_profile_points = max_points_total;

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
