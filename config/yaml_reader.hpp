// Reading a YAML tree (config/yaml_tree) with diagnostics instead of
// exceptions: typed values with range checks, maps with unknown / duplicate /
// missing key checks. Internal to the loader. Reads only: the tree is never
// changed, so a node shared by aliases reads the same everywhere.
// Not thread-safe; one reader per load.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_error.hpp"
#include "config/diagnostic_list.hpp"
#include "config/model.hpp"
#include "config/names.hpp"
#include "config/yaml_tree.hpp"

namespace fieldbridge::config::detail {

// Collects the errors and warnings of one load. Keeps the first
// limits::max_diagnostics of each and counts the rest (error_count() counts
// all), so a file with a million mistakes costs no more than one with a few.
class diagnostics_sink {
public:
    void error(const source_mark& at, std::string message) { errors_.add(at, std::move(message)); }
    void warning(const source_mark& at, std::string message) { warnings_.add(at, std::move(message)); }
    std::size_t error_count() const noexcept { return errors_.count(); }
    const std::vector<diagnostic>& errors() const noexcept { return errors_.kept(); }
    const std::vector<diagnostic>& warnings() const noexcept { return warnings_.kept(); }
    // Errors and warnings counted but not kept.
    std::size_t errors_not_kept() const noexcept { return errors_.not_kept(); }
    std::size_t warnings_not_kept() const noexcept { return warnings_.not_kept(); }

private:
    diagnostic_list errors_;
    diagnostic_list warnings_;
};

// Where node is written, as a source_mark in file.
source_mark mark_of(const yaml_node& node, const std::string& file);

// A node of the tree with the dotted path used in messages
// ("devices.meter1.unit_id") and where it is written.
struct field {
    yaml_node node;
    std::string path;
    source_mark mark;
};

// "a map", "a list", "nothing", or the scalar itself, for "found ..." texts.
std::string describe(const yaml_node& node);

// "x-anything": a key of a map of settings that is there for the reader
// (anchors, notes) and ignored.
bool is_extension_key(std::string_view key);

// The key/value pairs of a map, in file order, each key's mark kept. Reports
// duplicate keys (the later ones are dropped); a non-map is reported with
// what was expected and yields no entries. Nothing (null) is an empty map.
struct map_entry {
    std::string key;
    source_mark key_mark;
    field value;
};
std::vector<map_entry> map_entries(const field& map, std::string_view expected, diagnostics_sink& sink);

// A map with a fixed set of keys: unknown keys are reported once (with a
// suggestion when one is close), then values are fetched by key. Keys that
// start with "x-" are extensions: never reported, never read (a place for
// anchors and notes).
class map_reader {
public:
    map_reader(const field& map, std::vector<std::string> allowed_keys, diagnostics_sink& sink,
               std::string_view expected = "a map of settings");

    bool is_map() const noexcept { return is_map_; }
    const field& self() const noexcept { return self_; }
    bool has(std::string_view key) const { return get(key).has_value(); }
    std::optional<field> get(std::string_view key) const;
    // Like get, but reports "missing required key" (with the expected form).
    std::optional<field> require(std::string_view key, std::string_view expected) const;
    // The mark of a key (for messages about the key rather than its value).
    source_mark key_mark(std::string_view key) const;

private:
    field self_;
    diagnostics_sink* sink_;
    bool is_map_ = false;
    std::vector<map_entry> entries_;
};

// Typed scalars. Each reports what it found and what is expected, and yields
// nullopt on error. hint, when given, is appended to the expected form.
std::optional<std::string> read_string(const field& f, diagnostics_sink& sink);
std::optional<std::int64_t> read_integer(const field& f, std::int64_t min, std::int64_t max, diagnostics_sink& sink,
                                         std::string_view hint = {});
std::optional<double> read_number(const field& f, diagnostics_sink& sink);
std::optional<bool> read_bool(const field& f, diagnostics_sink& sink);
std::optional<std::chrono::milliseconds> read_duration(const field& f, std::chrono::milliseconds min,
                                                       std::chrono::milliseconds max, diagnostics_sink& sink);

// One of the words of table ("register: holding").
template <class E>
std::optional<E> read_choice(const field& f, name_table<E> table, diagnostics_sink& sink);

// A field for element index of a sequence, or key of a map.
field child(const field& parent, const yaml_node& node, const std::string& path_suffix);

}  // namespace fieldbridge::config::detail
