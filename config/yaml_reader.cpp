#include "config/yaml_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>
#include <unordered_map>

#include "common/shortened.hpp"
#include "config/duration.hpp"
#include "config/limits.hpp"
#include "config/suggestion.hpp"

namespace fieldbridge::config::detail {

source_mark mark_of(const yaml_node& node, const std::string& file) {
    const yaml_mark m = node.mark();
    if (m.line <= 0) return source_mark{file, 0, 0};
    return source_mark{file, m.line, m.column};
}

std::string describe(const yaml_node& node) {
    if (!node.IsDefined() || node.IsNull()) return "nothing";
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a map";
    const std::string_view s = node.scalar_view();
    // Where a file is not read (only a profile and a point list are).
    if (node.Tag() == "!include") return "!include " + shortened(std::string(s), 80);
    if (s.empty()) return "an empty string";
    if (s.size() > 40) return "\"" + std::string(s.substr(0, 37)) + "...\"";
    return std::string(s);
}

bool is_extension_key(std::string_view key) { return key.starts_with("x-"); }

field child(const field& parent, const yaml_node& node, const std::string& path_suffix) {
    field f{node, parent.path.empty() ? path_suffix : parent.path + path_suffix, mark_of(node, parent.mark.file)};
    if (f.path.starts_with('.')) f.path.erase(0, 1);
    return f;
}

namespace {

std::string join(const std::vector<std::string>& words, std::string_view separator = ", ") {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += separator;
        out += w;
    }
    return out;
}

void report(diagnostics_sink& sink, const field& f, const std::string& what) {
    sink.error(f.mark, f.path + ": " + what);
}

bool expect_scalar(const field& f, std::string_view expected, diagnostics_sink& sink) {
    if (f.node.IsScalar() && f.node.Tag() == "!include") {
        report(sink, f, "found " + describe(f.node) + "; expected " + std::string(expected) +
                            " (!include is read only for a profile or a point list)");
        return false;
    }
    if (f.node.IsScalar()) return true;
    report(sink, f, "found " + describe(f.node) + "; expected " + std::string(expected));
    return false;
}

std::optional<std::int64_t> parse_integer(std::string_view s) {
    bool negative = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) return std::nullopt;
    std::uint64_t magnitude = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    constexpr std::uint64_t limit = static_cast<std::uint64_t>(INT64_MAX);
    if (magnitude > limit) return std::nullopt;
    const auto value = static_cast<std::int64_t>(magnitude);
    return negative ? -value : value;
}

}  // namespace

namespace {

// The entries of a map as it is written, keys looked up by name: linearly
// while the map is small (most are), through an index once it is not, so a
// map of a million keys does not take a million squared.
class entry_list {
public:
    std::vector<map_entry>& entries() { return out_; }

    const map_entry* find(const std::string& name) {
        constexpr std::size_t small_map = 16;
        if (out_.size() <= small_map) {
            const auto it = std::find_if(out_.begin(), out_.end(), [&](const map_entry& e) { return e.key == name; });
            return it == out_.end() ? nullptr : &*it;
        }
        if (index_.empty()) {
            for (std::size_t i = 0; i < out_.size(); ++i) index_.emplace(out_[i].key, i);
        }
        const auto it = index_.find(name);
        return it == index_.end() ? nullptr : &out_[it->second];
    }

    void add(map_entry e) {
        if (!index_.empty()) index_.emplace(e.key, out_.size());
        out_.push_back(std::move(e));
    }

private:
    std::vector<map_entry> out_;
    std::unordered_map<std::string, std::size_t> index_;  // key -> position in out_, for large maps
};

// Merge keys ("<<: *defaults") nested deeper than this are refused: each
// level is a map merged into the one that merges it.
constexpr int max_merge_depth = 32;

bool is_merge_key(const yaml_node& key) { return key.IsScalar() && key.Tag() == "?" && key.scalar_view() == "<<"; }

// collected: the entries read so far for one map, in every merged map too.
void collect_entries(const field& map, diagnostics_sink& sink, int depth, entry_list& list, std::size_t& collected);

// The pairs of the map(s) a merge key names that list has no key for yet.
void merge_into(const field& merge, const std::string& parent_path, diagnostics_sink& sink, int depth,
                entry_list& list, std::size_t& collected) {
    const std::string expected = "a map or a list of maps to merge (<<: *defaults or <<: [*a, *b])";
    if (depth >= max_merge_depth) {
        report(sink, merge, "merge keys nested deeper than " + std::to_string(max_merge_depth) + "; expected " +
                                "fewer maps merged into maps");
        return;
    }
    std::vector<field> sources;
    if (merge.node.IsMap()) {
        sources.push_back(merge);
    } else if (merge.node.IsSequence()) {
        std::size_t i = 0;
        for (const auto item : merge.node) {
            field f{item, merge.path, mark_of(item, merge.mark.file)};
            if (!item.IsMap()) {
                report(sink, f, "[" + std::to_string(i) + "] is " + describe(item) + "; expected " + expected);
            } else {
                sources.push_back(std::move(f));
            }
            ++i;
        }
    } else {
        report(sink, merge, "found " + describe(merge.node) + "; expected " + expected);
        return;
    }
    for (const auto& source : sources) {
        entry_list merged;
        field from = source;
        from.path = parent_path;  // the entries are named as keys of the merging map
        collect_entries(from, sink, depth + 1, merged, collected);
        for (auto& e : merged.entries()) {
            if (!list.find(e.key)) list.add(std::move(e));
        }
    }
}

void collect_entries(const field& map, diagnostics_sink& sink, int depth, entry_list& list, std::size_t& collected) {
    std::vector<field> merges;
    for (const auto& [key, item] : map.node.pairs()) {
        const source_mark key_mark = mark_of(key, map.mark.file);
        if (!key.IsScalar()) {
            sink.error(key_mark, map.path + ": a key is " + describe(key) + "; expected a plain name");
            continue;
        }
        const std::string name = key.Scalar();
        if (collected >= limits::max_map_keys) {
            sink.error(key_mark, (map.path.empty() ? name : map.path + "." + name) + ": more than " +
                                     std::to_string(limits::max_map_keys) +
                                     " keys in one map (merged maps included); expected at most " +
                                     std::to_string(limits::max_map_keys) + " (the keys after it are not read)");
            return;
        }
        ++collected;
        if (name.size() > limits::max_key_bytes) {
            // Every key below it would carry it in its path.
            sink.error(key_mark, (map.path.empty() ? std::string("top level") : map.path) + ": a key of " +
                                     std::to_string(name.size()) + " bytes; expected at most " +
                                     std::to_string(limits::max_key_bytes) + " bytes");
            continue;
        }
        const std::string path = map.path.empty() ? name : map.path + "." + name;
        // A key without a value ("bus:") has the mark of whatever follows it;
        // point at the key instead.
        field value{item, path, item.IsNull() ? key_mark : mark_of(item, map.mark.file)};
        if (is_merge_key(key)) {
            // Merged after the map's own keys: those win wherever written.
            merges.push_back(std::move(value));
            continue;
        }
        if (const map_entry* first = list.find(name)) {
            sink.error(key_mark, path + ": duplicate key (first at line " + std::to_string(first->key_mark.line) +
                                     "); expected each key once: remove or rename one");
            continue;
        }
        list.add(map_entry{name, key_mark, std::move(value)});
    }
    for (const auto& merge : merges) merge_into(merge, map.path, sink, depth, list, collected);
}

}  // namespace

std::vector<map_entry> map_entries(const field& map, std::string_view expected, diagnostics_sink& sink) {
    if (map.node.IsNull() || !map.node.IsDefined()) return {};
    if (!map.node.IsMap()) {
        report(sink, map, "found " + describe(map.node) + "; expected " + std::string(expected));
        return {};
    }
    entry_list list;
    std::size_t collected = 0;
    collect_entries(map, sink, 0, list, collected);
    return std::move(list.entries());
}

map_reader::map_reader(const field& map, std::vector<std::string> allowed_keys, diagnostics_sink& sink,
                       std::string_view expected)
    : self_(map), sink_(&sink) {
    is_map_ = map.node.IsMap() || map.node.IsNull() || !map.node.IsDefined();
    entries_ = map_entries(map, expected, sink);
    // Only the allowed keys are kept for get(); the entries are handles on
    // the tree, so dropping them changes nothing another alias reads.
    std::vector<map_entry> allowed;
    allowed.reserve(entries_.size());
    for (auto& e : entries_) {
        if (std::find(allowed_keys.begin(), allowed_keys.end(), e.key) != allowed_keys.end()) {
            allowed.push_back(std::move(e));
            continue;
        }
        if (is_extension_key(e.key)) continue;
        std::string message = e.value.path + ": unknown key";
        if (const auto guess = closest_match(e.key, allowed_keys)) {
            message += "; did you mean " + *guess + "?";
        } else {
            message += "; expected one of: " + join(allowed_keys);
        }
        sink.error(e.key_mark, message);
    }
    entries_ = std::move(allowed);
}

std::optional<field> map_reader::get(std::string_view key) const {
    for (const auto& e : entries_) {
        if (e.key == key) return e.value;
    }
    return std::nullopt;
}

std::optional<field> map_reader::require(std::string_view key, std::string_view expected) const {
    auto f = get(key);
    if (!f && is_map_) {
        const std::string where = self_.path.empty() ? std::string("top level") : self_.path;
        sink_->error(self_.mark, where + ": missing required key " + std::string(key) + "; expected " +
                                     std::string(key) + ": " + std::string(expected));
    }
    return f;
}

source_mark map_reader::key_mark(std::string_view key) const {
    for (const auto& e : entries_) {
        if (e.key == key) return e.key_mark;
    }
    return self_.mark;
}

std::optional<std::string> read_string(const field& f, diagnostics_sink& sink) {
    if (!expect_scalar(f, "a string", sink)) return std::nullopt;
    return f.node.Scalar();
}

std::optional<std::int64_t> read_integer(const field& f, std::int64_t min, std::int64_t max, diagnostics_sink& sink,
                                         std::string_view hint) {
    std::string expected = "an integer " + std::to_string(min) + ".." + std::to_string(max);
    if (!hint.empty()) expected += " " + std::string(hint);
    if (!expect_scalar(f, expected, sink)) return std::nullopt;
    const auto value = parse_integer(f.node.Scalar());
    if (!value) {
        report(sink, f, describe(f.node) + " is not an integer; expected " + expected);
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        report(sink, f, describe(f.node) + " is out of range; expected " + expected);
        return std::nullopt;
    }
    return value;
}

std::optional<double> read_number(const field& f, diagnostics_sink& sink) {
    if (!expect_scalar(f, "a number", sink)) return std::nullopt;
    const std::string& s = f.node.Scalar();
    if (const auto integer = parse_integer(s)) return static_cast<double>(*integer);
    std::string_view text = s;
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        report(sink, f, describe(f.node) + " is not a number; expected a finite number such as 0.1 or -40");
        return std::nullopt;
    }
    return value;
}

std::optional<bool> read_bool(const field& f, diagnostics_sink& sink) {
    if (!expect_scalar(f, "true or false", sink)) return std::nullopt;
    const std::string& s = f.node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    report(sink, f, describe(f.node) + " is not a boolean; expected true or false");
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> read_duration(const field& f, std::chrono::milliseconds min,
                                                       std::chrono::milliseconds max, diagnostics_sink& sink) {
    const std::string range = format_duration(min) + ".." + format_duration(max);
    const std::string expected = "a duration " + range + " with a unit (ms, s, m, h), e.g. 250ms, 30s, 5m";
    if (!expect_scalar(f, expected, sink)) return std::nullopt;
    const std::string& s = f.node.Scalar();
    const auto value = parse_duration(s);
    if (!value) {
        if (parse_integer(s)) {
            report(sink, f, s + " has no unit; expected a duration with a unit, e.g. " + s + "s or " + s + "ms");
        } else {
            report(sink, f, describe(f.node) + " is not a duration; expected " + expected);
        }
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        report(sink, f, s + " is out of range; expected a duration " + range);
        return std::nullopt;
    }
    return value;
}

template <class E>
std::optional<E> read_choice(const field& f, name_table<E> table, diagnostics_sink& sink) {
    std::vector<std::string> words;
    for (const auto& [name, value] : table) words.emplace_back(name);
    const std::string expected = "one of " + join(words, " | ");
    if (!expect_scalar(f, expected, sink)) return std::nullopt;
    const std::string& s = f.node.Scalar();
    for (const auto& [name, value] : table) {
        if (name == s) return value;
    }
    std::string message = describe(f.node) + " is not allowed here; expected " + expected;
    if (const auto guess = closest_match(s, words)) message += " (did you mean " + *guess + "?)";
    report(sink, f, message);
    return std::nullopt;
}

template std::optional<register_kind> read_choice(const field&, name_table<register_kind>, diagnostics_sink&);
template std::optional<data_type> read_choice(const field&, name_table<data_type>, diagnostics_sink&);
template std::optional<word_order> read_choice(const field&, name_table<word_order>, diagnostics_sink&);
template std::optional<string_packing> read_choice(const field&, name_table<string_packing>, diagnostics_sink&);
template std::optional<parity> read_choice(const field&, name_table<parity>, diagnostics_sink&);
template std::optional<rs485_mode> read_choice(const field&, name_table<rs485_mode>, diagnostics_sink&);
template std::optional<tcp_framing> read_choice(const field&, name_table<tcp_framing>, diagnostics_sink&);
template std::optional<payload_format> read_choice(const field&, name_table<payload_format>, diagnostics_sink&);
template std::optional<write_function> read_choice(const field&, name_table<write_function>, diagnostics_sink&);
template std::optional<store_durability> read_choice(const field&, name_table<store_durability>, diagnostics_sink&);
template std::optional<mqtt_protocol> read_choice(const field&, name_table<mqtt_protocol>, diagnostics_sink&);
template std::optional<drop_policy> read_choice(const field&, name_table<drop_policy>, diagnostics_sink&);
template std::optional<qos0_route> read_choice(const field&, name_table<qos0_route>, diagnostics_sink&);
template std::optional<store_order> read_choice(const field&, name_table<store_order>, diagnostics_sink&);
template std::optional<simulation::waveform> read_choice(const field&, name_table<simulation::waveform>,
                                                         diagnostics_sink&);

}  // namespace fieldbridge::config::detail
