// schema_keys: every key the configuration has, per section, with the form
// of its value (kind, range, choices) and a line of description. The loader
// takes each section's allowed keys and each integer's and duration's range
// from here, `fieldbridge schema` turns the whole table into a JSON Schema
// (json_schema.hpp), and a test puts every key at the edges of its range
// through both, so the loader, the schema and this table cannot drift
// apart. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldbridge::config {

enum class section {
    root,
    mqtt,
    mqtt_reconnect,
    mqtt_tls,
    publish,
    store,
    control,
    metrics,
    commands,
    availability,
    sparkplug,
    profile,  // one entry of profiles
    bus,      // one entry of buses
    device,   // one entry of devices
    simulator_faults,
    point,
    simulate,
};

enum class value_kind {
    string,  // any string (may be empty)
    nonempty_string,
    name,         // letters, digits, '_', '.', '-'
    integer,      // min..max
    integer_set,  // one of `integers`
    number,       // any number, or >= number_min
    boolean,
    duration,          // "250ms", "30s", "5m", "1h", in duration_min..duration_max
    seconds,           // a duration in whole seconds, 0..duration_max
    seconds_or_never,  // whole seconds, or "never"
    choice,            // one of `choices` (a choice that reads as a number may be written as one)
    nested,            // a map: the keys of `nested`
    map_of,            // name -> a map of `nested`'s keys
    list_of,           // a list of maps of `nested`'s keys
    list_of_strings,
    listen_address,  // IPv4:PORT or [IPv6]:PORT
};

struct key_spec {
    std::string_view name;
    value_kind kind = value_kind::string;
    std::string_view description;
    std::int64_t min = 0;  // integer
    std::int64_t max = 0;
    std::optional<double> number_min;
    std::chrono::milliseconds duration_min{0};
    std::chrono::milliseconds duration_max{0};
    std::vector<std::string> choices;
    std::vector<std::int64_t> integers;
    section nested = section::root;
    bool required = false;
};

// The keys of a section, in the order the documentation lists them.
const std::vector<key_spec>& keys_of(section s);
// Their names, as the loader's map_reader wants them.
std::vector<std::string> key_names(section s);
// The key of that name in the section; nullptr when there is none.
const key_spec* find_key(section s, std::string_view name);
// The keys of a bus of each type (besides `type`).
std::vector<std::string> tcp_bus_keys();
std::vector<std::string> rtu_bus_keys();
// For messages and the schema's titles: "mqtt", "devices.<name>", ...
std::string_view section_path(section s);

// The rule for names used as map keys and point names.
inline constexpr std::string_view name_pattern = "^[A-Za-z0-9_.-]+$";

}  // namespace fieldbridge::config
