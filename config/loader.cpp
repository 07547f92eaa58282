#include "config/loader.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <variant>

#include "common/shortened.hpp"
#include "config/duration.hpp"
#include "config/heap_meter.hpp"
#include "config/host_port.hpp"
#include "config/limits.hpp"
#include "config/names.hpp"
#include "config/schema_keys.hpp"
#include "config/shared_lists.hpp"
#include "config/suggestion.hpp"
#include "config/topic.hpp"
#include "config/validate.hpp"
#include "config/wire_strings.hpp"
#include "config/yaml_reader.hpp"
#include "config/yaml_tree.hpp"

namespace fieldbridge::config {

namespace {

using namespace detail;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr std::string_view name_rule = "letters, digits, '_', '.' or '-' (the name is part of MQTT topics)";

bool is_valid_name(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-';
    });
}

bool is_numeric(data_type t) { return t != data_type::boolean && t != data_type::string; }

const std::vector<std::string> root_keys = key_names(section::root);
const std::vector<std::string> store_keys = key_names(section::store);
const std::vector<std::string> mqtt_keys = key_names(section::mqtt);
const std::vector<std::string> tls_keys = key_names(section::mqtt_tls);
const std::vector<std::string> publish_keys = key_names(section::publish);
const std::vector<std::string> point_keys = key_names(section::point);
const std::vector<std::string> simulate_keys = key_names(section::simulate);
const std::vector<std::string> tcp_keys = tcp_bus_keys();
const std::vector<std::string> rtu_keys = rtu_bus_keys();
const std::vector<std::string> device_keys = key_names(section::device);

// At most 20 names, each at most 80 bytes: a message quotes the file's
// names, and a file may hold thousands of long ones.
std::string quote_list(const std::set<std::string>& names) {
    constexpr std::size_t most = 20;
    std::string out;
    std::size_t listed = 0;
    for (auto it = names.begin(); it != names.end() && listed < most; ++it, ++listed) {
        if (!out.empty()) out += ", ";
        out += shortened(*it, 80);
    }
    if (names.size() > most)
        out += " and " + std::to_string(names.size() - most) + " more";
    return out.empty() ? std::string("(none defined)") : out;
}

// A relative path in a file is relative to the directory of that file.
std::string relative_to(const std::string& including_file, const std::string& path) {
    const fs::path p(path);
    if (p.is_absolute() || path.empty()) return path;
    if (including_file.empty() || including_file.front() == '<') return path;
    return (fs::path(including_file).parent_path() / p).lexically_normal().string();
}

// Why a file was not read, and what is expected instead.
struct read_refusal {
    std::string why;
    std::string expected;
    bool too_large = false;
};

// Appended to a refusal for size: what to do about it.
constexpr std::string_view size_hint = "; give devices of one model a profile, or split the file";

std::string mib(std::size_t bytes) { return std::to_string(bytes / (std::size_t{1024} * 1024)) + " MiB"; }

// The text of a regular file of at most max_bytes. Anything else (a
// directory, a device such as /dev/zero, a FIFO that would block, a file
// past the bound) is refused before or while reading, never read whole.
std::variant<std::string, read_refusal> read_text_file(const std::string& path, std::size_t max_bytes) {
    const std::string readable = "a readable YAML file";
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return read_refusal{"does not exist", readable};
        if (errno == EACCES || errno == EPERM) return read_refusal{"cannot be opened (permissions?)", readable};
        return read_refusal{"cannot be opened (" + std::string(std::strerror(errno)) + ")", readable};
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return read_refusal{"cannot be read (" + std::string(std::strerror(errno)) + ")", readable};
    if (S_ISDIR(st.st_mode)) return read_refusal{"is a directory", readable};
    if (!S_ISREG(st.st_mode)) {
        return read_refusal{"is not a regular file (a device, FIFO or socket)", "a regular YAML file"};
    }
    const auto too_large = [&] {
        return read_refusal{"is larger than " + std::to_string(max_bytes) + " bytes",
                            "at most " + std::to_string(max_bytes) + " bytes", true};
    };
    if (st.st_size > 0 && static_cast<std::uintmax_t>(st.st_size) > max_bytes) return too_large();
    // Read at most one byte past the bound: a file that grows while it is
    // read is still refused, and nothing larger ever sits in memory.
    std::string text;
    text.resize(std::min<std::size_t>(max_bytes + 1, st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 4096));
    std::size_t used = 0;
    for (;;) {
        if (used == text.size()) {
            if (text.size() > max_bytes) break;
            text.resize(std::min(max_bytes + 1, text.size() * 2));
        }
        const auto n = ::read(fd, text.data() + used, text.size() - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            return read_refusal{"cannot be read (" + std::string(std::strerror(errno)) + ")", readable};
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    if (used > max_bytes) return too_large();
    text.resize(used);
    return text;
}

// Parses one YAML document of file into a tree; what is wrong with it
// becomes a diagnostic in file.
// growth: the memory the load has taken since it began (the files before
// this one included), bound by limits::max_parse_heap_bytes.
// max_nodes: what is left of limits::max_nodes for this file (an included
// file is parsed within what the files before it left); `note` follows an
// error that file's bound ended.
std::shared_ptr<const yaml_tree> parse_document(std::string_view text, const std::string& file,
                                                diagnostics_sink& sink, const heap_meter& growth,
                                                std::uint64_t max_nodes = limits::max_nodes,
                                                const std::string& note = {}) {
    auto parsed = yaml_tree::parse(text, max_nodes, growth, limits::max_parse_heap_bytes);
    if (auto* error = std::get_if<yaml_error>(&parsed)) {
        sink.error(source_mark{file, error->at.line, error->at.column},
                   std::move(error->message) + (error->node_bound ? note : std::string()));
        return nullptr;
    }
    return std::get<std::shared_ptr<const yaml_tree>>(std::move(parsed));
}

class loader {
public:
    // main is the tree of main_file (main_bytes long); the loader keeps it
    // and every included file's alive while it reads them.
    loader(diagnostics_sink& sink, const heap_meter& growth, const std::string& main_file,
           std::shared_ptr<const yaml_tree> main, std::string_view main_text)
        : sink_(sink), growth_(growth), bytes_read_(main_text.size()), nodes_(main->expanded_nodes()) {
        files_[main_file] = read_file{std::move(main), 0, std::string(main_text)};
    }

    gateway read(const field& root) {
        gw_.source_file = root.mark.file;
        map_reader m(root, root_keys, sink_, "a map with mqtt, publish, profiles, buses and devices");
        if (auto f = m.get("mqtt")) read_mqtt(*f);
        if (auto f = m.get("publish")) read_publish(*f);
        if (auto f = m.get("store")) read_store(*f);
        if (auto f = m.get("commands")) read_commands(*f);
        if (auto f = m.get("availability")) read_availability(*f);
        if (auto f = m.get("control")) {
            map_reader cm(*f, key_names(section::control), sink_);
            gw_.control.mark = f->mark;
            if (get_string(cm, "socket", gw_.control.socket, true)) {
                gw_.control.socket = relative_to(cm.get("socket")->mark.file, gw_.control.socket);
                if (gw_.control.socket.size() > 107) {
                    sink_.error(cm.get("socket")->mark, cm.get("socket")->path + ": " + gw_.control.socket +
                                                            " is longer than a Unix socket path may be; expected "
                                                            "at most 107 characters");
                }
            }
        }
        if (auto f = m.get("metrics")) read_metrics(*f);
        if (auto f = m.get("sparkplug")) read_sparkplug(*f);
        check_sparkplug(m);
        if (auto f = m.get("profiles")) read_profiles(*f);
        if (auto f = m.get("buses")) read_buses(*f);
        const auto devices = m.get("devices");
        if (devices) read_devices(*devices);
        if (declared_devices_.empty() && m.is_map()) {
            sink_.warning(devices ? devices->mark : root.mark,
                          "devices: no devices are configured; nothing will be polled or published");
        }
        warn_unused();
        if (first_template_ && gw_.publish.format != payload_format::templated) {
            sink_.warning(first_template_->first,
                          first_template_->second + ": a payload template is set but publish.format is " +
                              std::string(to_string(gw_.publish.format)) +
                              "; templates are used only with format: template");
        }
        return std::move(gw_);
    }

private:
    // A file read (or refused: no tree) and how deep in includes it was first.
    struct read_file {
        std::shared_ptr<const yaml_tree> tree;
        int depth = 0;
        std::string text;  // kept while loading: where inside a value a problem is (templates)
    };

    diagnostics_sink& sink_;
    const heap_meter& growth_;  // of the whole load: every file parsed counts
    gateway gw_;
    std::map<std::string, read_file> files_;  // by path as written after relative_to; each read once
    std::size_t bytes_read_ = 0;              // of every file in files_
    std::uint64_t nodes_ = 0;                 // expanded nodes of the main file and of each use of an include
    std::size_t points_total_ = 0;            // points of the devices read so far
    std::size_t profile_points_ = 0;          // points of the profiles read so far
    std::size_t suggestions_left_ = 20;       // "did you mean" for unknown references
    std::map<std::pair<const void*, std::uint32_t>, point_list> lists_read_;  // by yaml_node::identity()
    std::set<std::string> declared_buses_;     // every bus name written, valid or not
    std::set<std::string> declared_profiles_;  // every profile name written, valid or not
    std::set<std::string> declared_devices_;
    std::set<std::string> used_profiles_;
    std::map<std::string, device> profile_defaults_;  // the settings a profile gives its devices
    std::unordered_map<std::string, std::size_t> bus_at_;      // name -> index in gw_.buses
    std::unordered_map<std::string, std::size_t> profile_at_;  // name -> index in gw_.profiles
    std::optional<std::pair<source_mark, std::string>> first_template_;  // where and which key

    // ---- typed getters: true when the key is present and its value valid ----

    bool get_string(const map_reader& m, std::string_view key, std::string& out, bool non_empty = false) {
        const auto f = m.get(key);
        if (!f) return false;
        auto v = read_string(*f, sink_);
        if (!v) return false;
        if (const auto why = string_setting_error(*v)) {  // every string may end up in MQTT or JSON
            sink_.error(f->mark, f->path + ": " + *why);
            return false;
        }
        if (non_empty && v->empty()) {
            sink_.error(f->mark, f->path + ": is empty; expected a non-empty string");
            return false;
        }
        out = std::move(*v);
        return true;
    }

    // A string CONNECT carries that servers check (client id, user name):
    // no control character or non-character either (sent_string_error).
    bool get_sent_string(const map_reader& m, std::string_view key, std::string& out, bool non_empty = false) {
        std::string v;
        if (!get_string(m, key, v, non_empty)) return false;
        if (const auto why = sent_string_error(v)) {
            sink_.error(m.get(key)->mark, m.get(key)->path + ": " + *why);
            return false;
        }
        out = std::move(v);
        return true;
    }

    template <class T>
    bool get_integer(const map_reader& m, std::string_view key, std::int64_t min, std::int64_t max, T& out,
                     std::string_view hint = {}) {
        const auto f = m.get(key);
        if (!f) return false;
        const auto v = read_integer(*f, min, max, sink_, hint);
        if (!v) return false;
        out = static_cast<T>(*v);
        return true;
    }

    std::optional<double> get_number(const map_reader& m, std::string_view key) {
        const auto f = m.get(key);
        return f ? read_number(*f, sink_) : std::nullopt;
    }

    bool get_bool(const map_reader& m, std::string_view key, bool& out) {
        const auto f = m.get(key);
        if (!f) return false;
        const auto v = read_bool(*f, sink_);
        if (v) out = *v;
        return v.has_value();
    }

    bool get_duration(const map_reader& m, std::string_view key, milliseconds min, milliseconds max,
                      milliseconds& out) {
        const auto f = m.get(key);
        if (!f) return false;
        const auto v = read_duration(*f, min, max, sink_);
        if (v) out = *v;
        return v.has_value();
    }

    // A duration that the model keeps in whole seconds (keepalive, heartbeat).
    bool get_seconds(const map_reader& m, std::string_view key, std::chrono::seconds max, std::chrono::seconds& out) {
        const auto f = m.get(key);
        if (!f) return false;
        const auto v = read_duration(*f, milliseconds{0}, max, sink_);
        if (!v) return false;
        if (v->count() % 1000 != 0) {
            sink_.error(f->mark, f->path + ": " + f->node.Scalar() +
                                     " is not a whole number of seconds; expected e.g. " +
                                     format_duration(std::chrono::duration_cast<std::chrono::seconds>(*v) +
                                                     std::chrono::seconds{1}));
            return false;
        }
        out = std::chrono::duration_cast<std::chrono::seconds>(*v);
        return true;
    }

    // The same, with the range of the key as config/schema_keys states it:
    // the loader and the schema read one table.
    static const key_spec& spec_of(section s, std::string_view key) {
        const key_spec* spec = find_key(s, key);
        if (spec == nullptr) throw std::logic_error("loader: no key " + std::string(key) + " in the schema table");
        return *spec;
    }

    template <class T>
    bool get_integer(const map_reader& m, section s, std::string_view key, T& out, std::string_view hint = {}) {
        const auto& spec = spec_of(s, key);
        return get_integer(m, key, spec.min, spec.max, out, hint);
    }

    bool get_duration(const map_reader& m, section s, std::string_view key, milliseconds& out) {
        const auto& spec = spec_of(s, key);
        return get_duration(m, key, spec.duration_min, spec.duration_max, out);
    }

    bool get_seconds(const map_reader& m, section s, std::string_view key, std::chrono::seconds& out) {
        const auto& spec = spec_of(s, key);
        return get_seconds(m, key, std::chrono::duration_cast<std::chrono::seconds>(spec.duration_max), out);
    }

    template <class E>
    bool get_choice(const map_reader& m, std::string_view key, name_table<E> table, E& out) {
        const auto f = m.get(key);
        if (!f) return false;
        const auto v = read_choice(*f, table, sink_);
        if (v) out = *v;
        return v.has_value();
    }

    bool get_qos(const map_reader& m, std::string_view key, quality_of_service& out) {
        int q = 0;
        if (!get_integer(m, key, 0, 2, q, "(0 at most once, 1 at least once, 2 exactly once)")) return false;
        out = static_cast<quality_of_service>(q);
        return true;
    }

    // `device_topic`: a topic template per device (no {point}); target is
    // left as it was when the template is refused.
    void get_device_topic(map_reader& m, std::string& target) {
        std::string tmpl;
        if (!get_string(m, "device_topic", tmpl)) return;
        if (const auto why = topic_template_error(tmpl)) {
            sink_.error(m.get("device_topic")->mark, m.get("device_topic")->path + ": " + *why);
        } else if (tmpl.find("{point}") != std::string::npos) {
            key_error(m, "device_topic", "names {point}; expected a topic per device ({prefix}, {device}, {bus}, {unit})");
        } else {
            target = tmpl;
        }
    }

    // `template`: a payload template (format: template), parsed here so that
    // a wrong one is reported at load, at the placeholder when the template
    // is one line.
    void get_template(const map_reader& m, template_ref& target) {
        std::string text;
        if (!get_string(m, "template", text, true)) return;
        auto parsed = parse_payload_template(text);
        if (auto* t = std::get_if<payload_template>(&parsed)) {
            target = template_ref(std::move(*t));
            if (!first_template_) first_template_ = std::pair{m.get("template")->mark, m.get("template")->path};
            return;
        }
        const auto& why = std::get<template_error>(parsed);
        const auto f = m.get("template");
        if (const auto at = inside_value(f->mark, text, why.offset)) {
            sink_.error(*at, f->path + ": " + why.message);
        } else {
            sink_.error(f->mark, f->path + ": " + why.message + " (at character " + std::to_string(why.offset + 1) +
                                     " of the template)");
        }
    }

    // Where in its file the part of a value that starts at `offset` was
    // written: the text from there (to the end of its line, at most 16
    // bytes) looked up in the file from the value's mark plus `offset` on.
    // nullopt when it is not found as written (escapes, folding, the end of
    // the value).
    std::optional<source_mark> inside_value(const source_mark& mark, std::string_view value, std::size_t offset) const {
        const auto file = files_.find(mark.file);
        if (file == files_.end() || mark.line <= 0 || mark.column <= 0 || offset >= value.size()) return std::nullopt;
        const std::string_view text = file->second.text;
        std::size_t start = 0;
        for (int line = 1; line < mark.line; ++line) {
            start = text.find('\n', start);
            if (start == std::string_view::npos) return std::nullopt;
            ++start;
        }
        // The value as written is never shorter than the value (escapes and
        // folded line breaks take more bytes, not fewer): what stands at
        // `offset` in the value stands at or after it in the file.
        start += static_cast<std::size_t>(mark.column - 1) + offset;
        if (start > text.size()) return std::nullopt;
        auto needle = value.substr(offset, 16);
        needle = needle.substr(0, needle.find('\n'));
        if (needle.empty()) return std::nullopt;
        const auto found = text.find(needle, start);
        if (found == std::string_view::npos) return std::nullopt;
        const auto newline = found == 0 ? std::string_view::npos : text.rfind('\n', found - 1);
        const auto line_start = newline == std::string_view::npos ? 0 : newline + 1;
        source_mark at = mark;
        at.line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(found), '\n')) + 1;
        at.column = static_cast<int>(found - line_start) + 1;
        return at;
    }

    void key_error(const map_reader& m, std::string_view key, const std::string& message) {
        const std::string path = m.self().path.empty() ? std::string(key) : m.self().path + "." + std::string(key);
        sink_.error(m.key_mark(key), path + ": " + message);
    }

    // A name used as a map key (device, bus, profile) or a point name.
    bool check_name(const std::string& name, const source_mark& at, const std::string& path) {
        if (is_valid_name(name)) return true;
        sink_.error(at, path + ": name \"" + name + "\" is not allowed; expected " + std::string(name_rule));
        return false;
    }

    // ---- !include ----

    // The tree of the file at path, included from a file at depth
    // including_depth; read and parsed once, whatever number of times it is
    // included. nullptr (reported at f) when it cannot be.
    const yaml_tree* included_tree(const field& f, const std::string& path, int including_depth) {
        if (const auto it = files_.find(path); it != files_.end()) return it->second.tree.get();
        const int depth = including_depth + 1;
        if (depth > limits::max_include_depth) {
            sink_.error(f.mark, f.path + ": !include " + path + " is nested " + std::to_string(depth) +
                                    " files deep; expected at most " + std::to_string(limits::max_include_depth) +
                                    " levels of !include");
            return nullptr;
        }
        auto& entry = files_[path];
        entry.depth = depth;
        const std::size_t room = limits::max_total_bytes - std::min(bytes_read_, limits::max_total_bytes);
        auto text = read_text_file(path, std::min(limits::max_file_bytes, room));
        if (auto* refusal = std::get_if<read_refusal>(&text)) {
            std::string message = f.path + ": !include " + path + " " + refusal->why;
            if (refusal->too_large && room < limits::max_file_bytes) {
                message += ", the room left of the " + mib(limits::max_total_bytes) +
                           " that all files may take together; expected smaller files" + std::string(size_hint);
            } else if (refusal->too_large) {
                message += "; expected " + refusal->expected + " per file (" + mib(limits::max_file_bytes) + ")" +
                           std::string(size_hint);
            } else {
                message += "; expected " + refusal->expected;
                if (refusal->expected.starts_with("a readable")) {
                    message += " (relative paths start at the including file's directory)";
                }
            }
            sink_.error(f.mark, message);
            return nullptr;
        }
        const auto& bytes = std::get<std::string>(text);
        bytes_read_ += bytes.size();
        // Parsed within the nodes the files before it left: a file's tree is
        // kept once it is parsed, so each may not take the whole bound.
        const auto node_room = limits::max_nodes - std::min(nodes_, limits::max_nodes);
        entry.tree = parse_document(
            bytes, path, sink_, growth_, node_room,
            " (" + std::to_string(node_room) + " were left of the " + std::to_string(limits::max_nodes) +
                " nodes all files may take together, with every alias and include expanded)");
        entry.text = bytes;
        return entry.tree.get();
    }

    int depth_of(const std::string& file) const {
        const auto it = files_.find(file);
        return it == files_.end() ? 0 : it->second.depth;
    }

    // The node itself, or the root of the file it names with !include; errors
    // in that file are reported against it.
    std::optional<field> resolve(const field& f) {
        field current = f;
        std::vector<std::string> chain{f.mark.file};
        while (current.node.Tag() == "!include") {
            if (!current.node.IsScalar() || current.node.Scalar().empty()) {
                sink_.error(current.mark, current.path + ": !include takes a file path; expected !include other.yaml");
                return std::nullopt;
            }
            const std::string path = relative_to(current.mark.file, current.node.Scalar());
            if (std::find(chain.begin(), chain.end(), path) != chain.end()) {
                sink_.error(current.mark, current.path + ": !include " + path +
                                              " includes itself; expected a chain of includes without a cycle");
                return std::nullopt;
            }
            chain.push_back(path);
            const yaml_tree* tree = included_tree(current, path, depth_of(current.mark.file));
            if (!tree) return std::nullopt;
            // Each use of an included file is read again by what uses it.
            nodes_ += tree->expanded_nodes();
            if (nodes_ > limits::max_nodes) {
                sink_.error(current.mark, current.path + ": !include " + path + " adds " +
                                              std::to_string(tree->expanded_nodes()) + " nodes, making " +
                                              std::to_string(nodes_) + "; expected at most " +
                                              std::to_string(limits::max_nodes) +
                                              " nodes in all files with every alias and include expanded");
                return std::nullopt;
            }
            const yaml_node root = tree->root();
            current = field{root, current.path, mark_of(root, path)};
            if (current.mark.line == 0) current.mark = source_mark{path, 1, 1};
        }
        return current;
    }

    // ---- mqtt ----

    void read_mqtt(const field& f) {
        map_reader m(f, mqtt_keys, sink_);
        broker& b = gw_.mqtt;
        b.mark = f.mark;
        get_string(m, "host", b.host, true);
        const bool port_given = m.has("port");
        get_integer(m, section::mqtt, "port", b.port);
        if (get_sent_string(m, "client_id", b.client_id, true)) {
            if (const auto w = client_id_warning(b.client_id)) sink_.warning(m.get("client_id")->mark, "mqtt.client_id: " + *w);
        }
        get_seconds(m, section::mqtt, "keepalive", b.keepalive);
        get_integer(m, section::mqtt, "max_inflight", b.max_inflight);
        get_duration(m, section::mqtt, "connect_timeout", b.connect_timeout);
        get_sent_string(m, "username", b.username);
        get_string(m, "password", b.password);
        get_bool(m, "clean_session", b.clean_session);
        get_choice(m, "protocol", mqtt_protocol_names(), b.protocol);
        std::chrono::seconds expiry{};
        // 0xFFFFFFFE s at most: 0xFFFFFFFF is "never", written as `never`.
        if (const auto e = m.get("session_expiry"); e && e->node.IsScalar() && e->node.Tag() != "!include" &&
                                                 e->node.Scalar() == "never") {
            b.session_expiry = std::chrono::seconds{0xFFFFFFFF};
        } else if (get_seconds(m, section::mqtt, "session_expiry", expiry)) {
            b.session_expiry = expiry;
        }
        if (m.has("session_expiry") && b.protocol != mqtt_protocol::v5) {
            key_error(m, "session_expiry", "MQTT 3.1.1 has no session expiry; expected protocol: \"5\" as well");
        }
        if (m.has("password") && !m.has("username")) {
            key_error(m, "password", "a password without a username; expected username: NAME as well");
        }
        if (auto r = m.get("reconnect")) {
            map_reader rm(*r, key_names(section::mqtt_reconnect), sink_, "a map { min: 500ms, max: 30s }");
            const bool min_ok = get_duration(rm, section::mqtt_reconnect, "min", b.reconnect_min);
            const bool max_ok = get_duration(rm, section::mqtt_reconnect, "max", b.reconnect_max);
            if ((min_ok || max_ok) && b.reconnect_min > b.reconnect_max) {
                const auto at = max_ok ? rm.get("max")->mark : rm.get("min")->mark;
                sink_.error(at, r->path + ": min " + format_duration(b.reconnect_min) + " is greater than max " +
                                    format_duration(b.reconnect_max) + "; expected min <= max");
            }
        }
        if (auto t = m.get("tls")) {
            map_reader tm(*t, tls_keys, sink_, "a map { enabled: true, ca_file: ..., ... }");
            tls_settings& tls = b.tls;
            get_bool(tm, "enabled", tls.enabled);
            for (auto [key, target] : {std::pair{"ca_file", &tls.ca_file}, std::pair{"cert_file", &tls.cert_file},
                                       std::pair{"key_file", &tls.key_file}}) {
                if (get_string(tm, key, *target, true)) *target = relative_to(tm.get(key)->mark.file, *target);
            }
            get_bool(tm, "verify_hostname", tls.verify_hostname);
            if (tm.has("cert_file") != tm.has("key_file")) {
                const std::string given = tm.has("cert_file") ? "cert_file" : "key_file";
                const std::string missing = tm.has("cert_file") ? "key_file" : "cert_file";
                key_error(tm, given, given + " without " + missing + "; expected both for a client certificate");
            }
            // The registered MQTT-over-TLS port, unless a port is given.
            if (tls.enabled && !port_given) b.port = 8883;
        }
        if (auto fo = m.get("failover")) read_failover(*fo, b);
    }

    bool within_list_bound(const field& f, std::size_t bound, std::string_view what) {
        if (f.node.size() <= bound) return true;
        sink_.error(f.mark, f.path + ": " + std::to_string(f.node.size()) + " " + std::string(what) +
                                "; expected at most " + std::to_string(bound));
        return false;
    }

    // failover: ["broker-b", "broker-c:8884"]
    void read_failover(const field& f, broker& b) {
        if (!f.node.IsSequence()) {
            sink_.error(f.mark, f.path + ": found " + describe(f.node) +
                                    "; expected a list of broker addresses like [\"broker-b\", \"10.0.0.12:8883\"]");
            return;
        }
        if (!within_list_bound(f, limits::max_failover_brokers, "brokers")) return;
        for (std::size_t i = 0; i < f.node.size(); ++i) {
            const auto item = child(f, f.node[i], "[" + std::to_string(i) + "]");
            const auto text = read_string(item, sink_);
            if (!text) continue;
            if (const auto why = string_setting_error(*text)) {
                sink_.error(item.mark, item.path + ": " + *why);
                continue;
            }
            const auto parsed = split_host_port(*text, port_rule::optional);
            if (const auto* error = std::get_if<host_port_error>(&parsed)) {
                sink_.error(item.mark, item.path + ": '" + *text + "' " +
                                           (*error == host_port_error::bad_port
                                                ? "has no valid port after ':'; expected HOST or HOST:PORT with a port in 1..65535"
                                                : "is not a host name or address; expected HOST or HOST:PORT"));
                continue;
            }
            const auto& [host, port] = std::get<host_port>(parsed);
            b.failover.emplace_back(host, port.value_or(0));
        }
    }

    // "unmapped: [\"10-19\", \"40\"]": register ranges a simulated device
    // lacks (or, as `unanswered`, does not answer).
    void read_register_ranges(const field& f, std::vector<std::pair<std::uint16_t, std::uint16_t>>& out) {
        if (!f.node.IsSequence()) {
            sink_.error(f.mark, f.path + ": found " + describe(f.node) + "; expected a list of ranges like \"10-19\"");
            return;
        }
        if (!within_list_bound(f, limits::max_unmapped_ranges, "ranges")) return;
        for (std::size_t i = 0; i < f.node.size(); ++i) {
            const auto item = child(f, f.node[i], "[" + std::to_string(i) + "]");
            const auto text = read_string(item, sink_);
            if (!text) continue;
            unsigned from = 0;
            unsigned to = 0;
            char dash = 0;
            std::istringstream in(*text);
            bool ok = static_cast<bool>(in >> from);
            if (ok && (in >> dash)) ok = dash == '-' && static_cast<bool>(in >> to) && in.peek() == EOF;
            else to = from;
            if (!ok || from > to || to > 65535) {
                sink_.error(item.mark, item.path + ": " + *text + " is not a register range; expected \"FIRST-LAST\" within 0..65535");
                continue;
            }
            out.emplace_back(static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to));
        }
    }

    // ---- availability ----

    void read_availability(const field& f) {
        map_reader m(f, key_names(section::availability), sink_);
        availability_settings& a = gw_.availability;
        a.mark = f.mark;
        for (auto [key, target] :
             {std::pair{"gateway_topic", &a.gateway_topic}, std::pair{"device_topic", &a.device_topic}}) {
            std::string tmpl;
            if (!get_string(m, key, tmpl, true)) continue;
            if (const auto why = topic_template_error(tmpl)) {
                sink_.error(m.get(key)->mark, m.get(key)->path + ": " + *why);
            } else {
                *target = tmpl;
            }
        }
        if (m.has("device_topic")) a.device_topic_mark = m.get("device_topic")->mark;
        get_integer(m, section::availability, "offline_after", a.offline_after, "(consecutive polls without a good value)");
        if (get_duration(m, section::availability, "summary_interval", a.summary_interval) &&
            a.summary_interval.count() > 0 && a.summary_interval < std::chrono::seconds{1}) {
            key_error(m, "summary_interval", "is shorter than 1s; expected 0s (off) or 1s..24h");
            a.summary_interval = milliseconds{0};
        }
    }

    // ---- metrics ----

    // "listen: 127.0.0.1:9108" or "[::1]:9108": an address literal, so that
    // the endpoint never depends on a name lookup at startup.
    void read_metrics(const field& f) {
        map_reader m(f, key_names(section::metrics), sink_);
        gw_.metrics.mark = f.mark;
        std::string listen;
        if (!get_string(m, "listen", listen)) return;
        const auto bad = [&] {
            key_error(m, "listen", "'" + listen + "' is not an address and port; expected IP:PORT like 127.0.0.1:9108 "
                                   "or [::1]:9108 (an address, not a host name)");
        };
        const auto parsed = split_host_port(listen, port_rule::needed);
        if (std::holds_alternative<host_port_error>(parsed)) {
            if (std::get<host_port_error>(parsed) != host_port_error::bad_port) return bad();
            return key_error(m, "listen", "'" + listen + "' has no port in 1..65535; expected IP:PORT like 127.0.0.1:9108");
        }
        const auto& [host, port] = std::get<host_port>(parsed);
        // An IPv6 literal in brackets, else IPv4.
        in6_addr v6{};
        in_addr v4{};
        if (listen.front() == '[' ? inet_pton(AF_INET6, host.c_str(), &v6) != 1 : inet_pton(AF_INET, host.c_str(), &v4) != 1)
            return bad();
        gw_.metrics.address = host;
        gw_.metrics.port = *port;
    }

    // ---- sparkplug ----

    void read_sparkplug(const field& f) {
        map_reader m(f, key_names(section::sparkplug), sink_);
        auto& s = gw_.sparkplug;
        s.mark = f.mark;
        for (const auto& [key, target] : {std::pair{"group_id", &s.group_id}, std::pair{"edge_node_id", &s.edge_node_id},
                                          std::pair{"primary_host_id", &s.primary_host_id}}) {
            std::string id;
            if (!get_string(m, key, id)) continue;
            if (check_name(id, m.get(key)->mark, m.get(key)->path)) *target = id;
        }
    }

    // With format: sparkplug the edge node id goes into every topic: taken
    // from mqtt.client_id when not set, it must be a name as well. Sparkplug
    // sessions are clean ones.
    void check_sparkplug(const map_reader& root) {
        if (gw_.publish.format != payload_format::sparkplug) {
            if (const auto f = root.get("sparkplug")) {
                sink_.warning(f->mark, "sparkplug: is set but publish.format is " +
                                           std::string(to_string(gw_.publish.format)) +
                                           "; it is used only with format: sparkplug");
            }
            return;
        }
        const auto at = gw_.mqtt.mark.file.empty() ? gw_.publish.mark : gw_.mqtt.mark;
        if (gw_.sparkplug.edge_node_id.empty() && !is_valid_name(gw_.mqtt.client_id)) {
            sink_.error(at, "mqtt.client_id: \"" + gw_.mqtt.client_id + "\" is the Sparkplug edge node id (sparkplug." +
                                "edge_node_id is not set) and is not allowed as one; expected " + std::string(name_rule) +
                                ", or sparkplug.edge_node_id");
        }
        if (!gw_.mqtt.clean_session) {
            sink_.error(at, "mqtt.clean_session: false, but a Sparkplug edge node connects with a clean session "
                            "(its births restate everything); expected clean_session: true with format: sparkplug");
        }
        if (gw_.mqtt.session_expiry && gw_.mqtt.session_expiry->count() != 0) {
            sink_.error(at, "mqtt.session_expiry: a Sparkplug edge node's session ends with its connection; expected "
                            "no session_expiry (or 0s) with format: sparkplug");
        }
    }

    // ---- commands ----

    void read_commands(const field& f) {
        map_reader m(f, key_names(section::commands), sink_);
        command_settings& c = gw_.commands;
        c.mark = f.mark;
        get_bool(m, "enabled", c.enabled);
        for (auto [key, target] : {std::pair{"suffix", &c.suffix}, std::pair{"reply_suffix", &c.reply_suffix}}) {
            if (!get_string(m, key, *target, true)) continue;
            if (const auto why = topic_text_error(*target)) sink_.error(m.get(key)->mark, m.get(key)->path + ": " + *why);
        }
        if (c.suffix == c.reply_suffix && m.has("reply_suffix")) {
            key_error(m, "reply_suffix", "is the same as suffix; expected a different topic for replies");
        }
        get_bool(m, "accept_retained", c.accept_retained);
        get_device_topic(m, c.device_topic);
        get_duration(m, section::commands, "max_age", c.max_age);
    }

    // ---- store ----

    void read_store(const field& f) {
        map_reader m(f, store_keys, sink_);
        store_settings& st = gw_.store;
        st.mark = f.mark;
        if (get_string(m, "path", st.path, true)) st.path = relative_to(m.get("path")->mark.file, st.path);
        get_choice(m, "durability", durability_names(), st.durability);
        get_integer(m, section::store, "max_messages", st.max_messages, "(messages kept while the broker is away)");
        get_integer(m, section::store, "max_megabytes", st.max_megabytes, "(MiB of topics and payloads)");
        get_seconds(m, section::store, "max_age", st.max_age);
        get_choice(m, "drop", drop_policy_names(), st.drop);
        get_integer(m, section::store, "cache_kib", st.cache_kib, "(KiB of SQLite page cache)");
        get_choice(m, "qos0", qos0_route_names(), st.qos0);
        get_choice(m, "order", store_order_names(), st.order);
    }

    // ---- publish ----

    void read_publish(const field& f) {
        map_reader m(f, publish_keys, sink_);
        publish_settings& p = gw_.publish;
        p.mark = f.mark;
        if (get_string(m, "prefix", p.prefix)) {
            if (const auto why = topic_text_error(p.prefix)) {
                sink_.error(m.get("prefix")->mark, m.get("prefix")->path + ": " + *why);
            }
        }
        std::string tmpl;
        if (get_string(m, "topic", tmpl)) {
            if (const auto why = topic_template_error(tmpl)) {
                sink_.error(m.get("topic")->mark, m.get("topic")->path + ": " + *why);
            } else {
                p.topic_template = tmpl;
            }
        }
        get_choice(m, "format", payload_format_names(), p.format);
        get_device_topic(m, p.device_topic);
        get_template(m, p.payload_template);
        get_seconds(m, section::publish, "heartbeat", p.heartbeat);
        get_qos(m, "qos", p.default_qos);
    }

    // ---- points ----

    std::optional<simulation> read_simulation(const field& f, data_type type) {
        map_reader m(f, simulate_keys, sink_, "a map { wave: sine, value: 230, amplitude: 5, period: 60s }");
        if (!m.is_map()) return std::nullopt;
        simulation s;
        get_choice(m, "wave", waveform_names(), s.wave);
        if (auto v = get_number(m, "value")) s.value = *v;
        if (auto v = get_number(m, "amplitude")) s.amplitude = *v;
        if (auto v = get_number(m, "step")) s.step = *v;
        get_duration(m, section::simulate, "period", s.period);
        using w = simulation::waveform;
        if (m.has("step") && s.wave != w::counter) {
            key_error(m, "step", "step is for wave: counter; expected no step with wave: " +
                                     std::string(to_string(s.wave)));
        }
        if (s.wave != w::sine && s.wave != w::ramp) {
            for (const char* key : {"amplitude", "period"}) {
                if (m.has(key)) {
                    key_error(m, key, std::string(key) + " is for wave: sine or ramp; expected no " + key +
                                          " with wave: " + std::string(to_string(s.wave)));
                }
            }
        }
        if ((type == data_type::boolean || type == data_type::string) && s.wave != w::constant) {
            key_error(m, "wave", "wave: " + std::string(to_string(s.wave)) + " needs a numeric point; expected "
                                 "wave: constant for a " + std::string(to_string(type)) + " point");
        }
        return s;
    }

    std::optional<point> read_point(const field& f, quality_of_service default_qos) {
        const std::size_t errors_before = sink_.error_count();
        map_reader m(f, point_keys, sink_, "a point: a map with name, register, address, type, ...");
        if (!m.is_map() || f.node.IsNull()) {
            if (f.node.IsNull()) sink_.error(f.mark, f.path + ": empty point; expected a map with name, register, address");
            return std::nullopt;
        }
        point p;
        p.mark = f.mark;
        p.qos = default_qos;

        if (const auto n = m.require("name", "NAME (" + std::string(name_rule) + ")")) {
            if (auto s = read_string(*n, sink_)) {
                if (check_name(*s, n->mark, n->path)) p.name = *s;
            }
        }
        const bool kind_ok = m.require("register", "coil | discrete | holding | input").has_value() &&
                             get_choice(m, "register", register_kind_names(), p.kind);
        const bool address_ok = m.require("address", "0..65535 (the protocol address)").has_value() &&
                                get_integer(m, section::point, "address", p.address);
        bool type_ok = true;
        if (m.has("type")) {
            type_ok = get_choice(m, "type", data_type_names(), p.type);
        } else if (kind_ok && is_bit_kind(p.kind)) {
            p.type = data_type::boolean;
        }
        const std::string register_name = std::string(to_string(p.kind));
        const bool bit_kind = kind_ok && is_bit_kind(p.kind);

        if (kind_ok && type_ok && bit_kind && p.type != data_type::boolean) {
            key_error(m, "type", std::string(to_string(p.type)) + " on a " + register_name +
                                     ", which holds a single bit; expected type: bool (or no type)");
            type_ok = false;
        }

        // bit: one bit of a holding/input register, for bool points only.
        if (m.has("bit")) {
            std::uint8_t bit = 0;
            if (get_integer(m, section::point, "bit", bit)) {
                if (bit_kind) {
                    key_error(m, "bit", "bit on a " + register_name +
                                            ", which is a single bit already; expected no bit (bit is for bool "
                                            "points in holding or input registers)");
                } else if (type_ok && p.type != data_type::boolean) {
                    key_error(m, "bit", "bit with type: " + std::string(to_string(p.type)) +
                                            "; expected type: bool with bit, or no bit");
                } else {
                    p.bit = bit;
                }
            }
        } else if (kind_ok && type_ok && !bit_kind && p.type == data_type::boolean) {
            sink_.error(m.key_mark("type"), f.path + ": type: bool on a " + register_name +
                                                " register needs bit; expected bit: 0..15 (0 = least significant)");
        }

        // length: registers of a string, required with and only with strings.
        if (type_ok && p.type == data_type::string) {
            if (m.require("length", "1..125 (registers holding the string)")) {
                get_integer(m, section::point, "length", p.length, "(registers)");
            }
        } else if (m.has("length") && type_ok) {
            key_error(m, "length", "length with type: " + std::string(to_string(p.type)) +
                                       "; expected length only with type: string");
        }
        if (get_choice(m, "packing", string_packing_names(), p.packing) && type_ok && p.type != data_type::string) {
            key_error(m, "packing", "packing with type: " + std::string(to_string(p.type)) +
                                        "; expected packing only with type: string");
        }
        if (get_choice(m, "order", word_order_names(), p.order) && type_ok && !is_numeric(p.type)) {
            key_error(m, "order", "order with type: " + std::string(to_string(p.type)) +
                                      "; expected order only with numeric types (strings use packing)");
        }

        // The value must end inside the 65536-register address space.
        if (address_ok && type_ok && (p.type != data_type::string || p.length > 0)) {
            const std::uint32_t count = bit_kind ? 1 : register_count(p);
            if (p.address + count > 65536) {
                sink_.error(m.get("address")->mark,
                            m.get("address")->path + ": " + std::to_string(p.address) + " + " + std::to_string(count) +
                                " registers of " + std::string(to_string(p.type)) +
                                " go past 65535; expected an address <= " + std::to_string(65536 - count));
            }
        }

        // Engineering values: only numeric points have them.
        const auto scale = get_number(m, "scale");
        if (scale) {
            if (*scale == 0.0) {
                key_error(m, "scale", "0 would turn every value into the offset; expected a non-zero number");
            } else {
                p.scale = *scale;
            }
        }
        if (const auto v = get_number(m, "offset")) p.offset = *v;
        if (const auto v = get_number(m, "deadband")) {
            if (*v < 0) {
                sink_.error(m.get("deadband")->mark, m.get("deadband")->path + ": " + m.get("deadband")->node.Scalar() +
                                                         " is negative; expected a number >= 0 (0 = every change)");
            } else {
                p.deadband = *v;
            }
        }
        p.minimum = get_number(m, "min");
        p.maximum = get_number(m, "max");
        if (p.minimum && p.maximum && *p.minimum > *p.maximum) {
            sink_.error(m.get("max")->mark, f.path + ": min " + m.get("min")->node.Scalar() + " is greater than max " +
                                                m.get("max")->node.Scalar() + "; expected min <= max");
        }
        if (type_ok && !is_numeric(p.type)) {
            for (const char* key : {"scale", "offset", "deadband", "min", "max"}) {
                if (m.has(key)) {
                    key_error(m, key, std::string(key) + " with type: " + std::string(to_string(p.type)) +
                                          "; expected " + key + " only on numeric points");
                }
            }
        }
        get_string(m, "unit", p.unit);

        std::string topic;
        if (get_string(m, "topic", topic)) {
            if (const auto why = topic_template_error(topic)) {
                sink_.error(m.get("topic")->mark, m.get("topic")->path + ": " + *why);
            } else {
                p.topic = topic;
            }
        }
        get_template(m, p.payload_template);
        get_qos(m, "qos", p.qos);
        get_bool(m, "retain", p.retain);
        if (get_bool(m, "writable", p.writable) && p.writable && kind_ok && !is_writable_kind(p.kind)) {
            key_error(m, "writable", "writable: true on a " + register_name +
                                         (p.kind == register_kind::input_register ? " register" : " input") +
                                         ", which Modbus cannot write; expected writable only on holding "
                                         "registers and coils");
        } else if (p.writable && type_ok && p.type == data_type::string && p.length > 123) {
            // FC16 writes at most 123 registers in one request.
            key_error(m, "writable", "writable: true on a string of " + std::to_string(p.length) +
                                         " registers; expected length: 1..123 for a writable string (one "
                                         "write, FC16, carries at most 123 registers)");
        }
        if (auto s = m.get("simulate")) p.simulate = read_simulation(*s, type_ok ? p.type : data_type::float64);

        if (sink_.error_count() != errors_before) return std::nullopt;
        return p;
    }

    // A point list (or !include of one). Invalid points and repeated names are
    // reported and left out, so that later checks see only sound points.
    // A list read before (the same node again through an alias, or the same
    // included file) is the list read then, shared, not read and held again.
    point_list read_point_list(const field& list_field) {
        std::vector<point> points;
        const auto resolved = resolve(list_field);
        if (!resolved) return points;
        const field& f = *resolved;
        if (f.node.IsNull()) return points;
        if (!f.node.IsSequence()) {
            sink_.error(f.mark, f.path + ": found " + describe(f.node) +
                                    "; expected a list of points (- { name: ..., register: ..., address: ... })");
            return points;
        }
        if (f.node.size() > limits::max_points_per_device) {
            sink_.error(f.mark, f.path + ": " + std::to_string(f.node.size()) + " points; expected at most " +
                                    std::to_string(limits::max_points_per_device) + " points per device");
            return points;
        }
        if (const auto it = lists_read_.find(f.node.identity()); it != lists_read_.end()) return it->second;
        const std::size_t errors_before = sink_.error_count();
        // Exactly as many as listed: a list held for the life of the
        // configuration (100 000 points take 28 MB), not grown with slack.
        points.reserve(f.node.size());
        std::map<std::string, source_mark> names;
        std::size_t index = 0;
        for (const auto& element : f.node) {
            std::string label = std::to_string(index++);
            if (element.IsMap()) {
                const auto n = element["name"];
                if (n && n.IsScalar() && n.Scalar().size() <= limits::max_key_bytes && is_valid_name(n.Scalar())) {
                    label = n.Scalar();
                }
            }
            const field pf = child(f, element, "[" + label + "]");
            auto p = read_point(pf, gw_.publish.default_qos);
            if (!p) continue;
            if (const auto first = names.find(p->name); first != names.end()) {
                sink_.error(p->mark, pf.path + ": duplicate point name " + p->name + " (first at line " +
                                         std::to_string(first->second.line) + "); expected unique point names");
                continue;
            }
            names.emplace(p->name, p->mark);
            points.push_back(std::move(*p));
        }
        point_list list(std::move(points));
        if (sink_.error_count() == errors_before) lists_read_.emplace(f.node.identity(), list);
        return list;
    }

    // ---- profiles ----

    // An entry past a count bound: reported once, and the entries after it
    // are not read.
    bool past_bound(const map_entry& entry, std::size_t count, std::size_t bound, std::string_view what) {
        if (count < bound) return false;
        sink_.error(entry.key_mark, entry.value.path + ": more than " + std::to_string(bound) + " " +
                                        std::string(what) + "; expected at most " + std::to_string(bound) + " " +
                                        std::string(what) + " per gateway (the " + std::string(what) +
                                        " after it are not read)");
        return true;
    }

    void read_profiles(const field& f) {
        for (auto& entry : map_entries(f, "a map: profile name -> { points: [...] }", sink_)) {
            if (past_bound(entry, declared_profiles_.size(), limits::max_profiles, "profiles")) break;
            declared_profiles_.insert(entry.key);
            const std::size_t errors_before = sink_.error_count();
            check_name(entry.key, entry.key_mark, entry.value.path);
            const auto value = resolve(entry.value);
            if (!value) continue;
            map_reader m(*value, key_names(section::profile), sink_,
                         "a profile: a map { points: [...] } with device settings (timeout, request_delay, ...)");
            profile pr;
            pr.name = entry.key;
            pr.mark = entry.key_mark;
            if (const auto points = m.require("points", "a list of points")) pr.points = read_point_list(*points);
            profile_points_ += pr.points.size();
            if (profile_points_ > limits::max_profile_points) {
                sink_.error(entry.key_mark, entry.value.path + ": the profiles up to this one have " +
                                                std::to_string(profile_points_) + " points; expected at most " +
                                                std::to_string(limits::max_profile_points) +
                                                " points in all profiles together (the profiles after it are not "
                                                "read)");
                break;
            }
            // The devices of the profile start from these settings.
            device defaults;
            defaults.offline_after = gw_.availability.offline_after;  // availability is read before the profiles
            read_settings(m, defaults);
            profile_defaults_[entry.key] = std::move(defaults);
            if (sink_.error_count() == errors_before) {
                profile_at_.emplace(pr.name, gw_.profiles.size());
                gw_.profiles.push_back(std::move(pr));
            }
        }
    }

    // ---- buses ----

    void read_buses(const field& f) {
        for (auto& entry : map_entries(f, "a map: bus name -> { type: rtu | tcp, ... }", sink_)) {
            if (past_bound(entry, declared_buses_.size(), limits::max_buses, "buses")) break;
            declared_buses_.insert(entry.key);
            const std::size_t errors_before = sink_.error_count();
            check_name(entry.key, entry.key_mark, entry.value.path);
            map_reader m(entry.value, key_names(section::bus), sink_,
                         "a bus: { type: rtu, device: /dev/ttyUSB0, ... } or { type: tcp, host: ..., port: 502 }");
            if (!m.is_map()) continue;
            bus b;
            b.name = entry.key;
            b.mark = entry.key_mark;
            const auto type = m.require("type", "rtu | tcp");
            std::optional<std::string> kind;
            if (type) {
                kind = read_string(*type, sink_);
                if (kind && *kind != "rtu" && *kind != "tcp") {
                    std::string message = type->path + ": " + describe(type->node) + " is not a bus type; expected rtu | tcp";
                    if (auto guess = closest_match(*kind, {"rtu", "tcp"})) message += " (did you mean " + *guess + "?)";
                    sink_.error(type->mark, message);
                    kind.reset();
                }
            }
            if (kind == "tcp") {
                tcp_link link;
                if (m.require("host", "a host name or IP address")) get_string(m, "host", link.host, true);
                get_integer(m, section::bus, "port", link.port);
                get_choice(m, "framing", tcp_framing_names(), link.framing);
                for (const auto& key : rtu_keys) {
                    if (m.has(key)) key_error(m, key, key + " is for rtu buses; this bus is type: tcp");
                }
                b.link = link;
            } else if (kind == "rtu") {
                rtu_link link;
                if (m.require("device", "a serial device path, e.g. /dev/serial/by-id/...")) {
                    get_string(m, "device", link.device, true);
                }
                std::uint32_t baud = link.baud;
                if (get_integer(m, "baud", 1, 4'000'000, baud, "(a standard rate such as 9600 or 19200)")) {
                    const auto& standard = find_key(section::bus, "baud")->integers;  // the rates Linux can set
                    if (std::find(standard.begin(), standard.end(), baud) == standard.end()) {
                        sink_.error(m.get("baud")->mark,
                                    m.get("baud")->path + ": " + std::to_string(baud) +
                                        " is not a standard serial rate; expected one of 1200, 2400, 4800, 9600, "
                                        "19200, 38400, 57600, 115200 (or 110..4000000 standard Linux rates)");
                    } else {
                        link.baud = baud;
                    }
                }
                get_choice(m, "parity", parity_names(), link.parity);
                get_integer(m, section::bus, "data_bits", link.data_bits);
                get_integer(m, section::bus, "stop_bits", link.stop_bits);
                get_choice(m, "rs485", rs485_mode_names(), link.rs485);
                if (m.has("rts_delay_us")) {
                    std::uint32_t us = 0;
                    if (get_integer(m, section::bus, "rts_delay_us", us)) link.rts_delay_us = us;
                }
                get_bool(m, "simulator_wire_timing", link.simulator_wire_timing);
                for (const auto& key : tcp_keys) {
                    if (m.has(key)) key_error(m, key, key + " is for tcp buses; this bus is type: rtu");
                }
                b.link = link;
            }
            if (sink_.error_count() == errors_before && kind) {
                bus_at_.emplace(b.name, gw_.buses.size());
                gw_.buses.push_back(std::move(b));
            }
        }
    }

    // ---- devices ----

    template <class T>
    std::vector<std::string> names_of(const std::vector<T>& items) {
        std::vector<std::string> out;
        for (const auto& item : items) out.push_back(item.name);
        return out;
    }

    // The polling settings present in m (a device or a profile) into d.
    void read_settings(const map_reader& m, device& d) {
        get_duration(m, section::device, "poll_interval", d.poll_interval);
        get_duration(m, section::device, "timeout", d.timeout);
        get_duration(m, section::device, "byte_timeout", d.byte_timeout);
        get_integer(m, section::device, "retries", d.retries);
        get_integer(m, section::device, "max_gap", d.max_gap, "(registers or bits bridged when merging reads)");
        get_integer(m, section::device, "max_registers", d.max_registers_per_read, "(registers per read request)");
        get_integer(m, section::device, "max_bits", d.max_bits_per_read, "(coils or discrete inputs per read request)");
        get_integer(m, section::device, "bit_alignment", d.bit_alignment,
                    "(coil and discrete input reads start at a multiple of it)");
        get_duration(m, section::device, "request_delay", d.request_delay);
        get_duration(m, section::device, "switch_delay", d.switch_delay);
        get_choice(m, "write_function", write_function_names(), d.write_function);
        get_duration(m, section::device, "busy_retry_delay", d.busy_retry_delay);
        get_bool(m, "mask_write", d.mask_write);
        get_bool(m, "merge_reads", d.merge_reads);
        get_integer(m, section::device, "offline_after", d.offline_after, "(consecutive polls without a good value)");
        get_duration(m, section::device, "offline_poll_interval", d.offline_poll_interval);
        get_duration(m, section::device, "connect_pause", d.connect_pause);
        get_bool(m, "close_after_poll", d.close_after_poll);
        get_template(m, d.payload_template);
    }

    void read_devices(const field& f) {
        for (auto& entry : map_entries(f, "a map: device name -> { bus: ..., unit_id: ..., ... }", sink_)) {
            if (past_bound(entry, declared_devices_.size(), limits::max_devices, "devices")) break;
            declared_devices_.insert(entry.key);
            const std::size_t errors_before = sink_.error_count();
            check_name(entry.key, entry.key_mark, entry.value.path);
            map_reader m(entry.value, device_keys, sink_, "a device: { bus: NAME, unit_id: 1..247, ... }");
            if (!m.is_map()) continue;
            device d;
            d.offline_after = gw_.availability.offline_after;  // availability is read before the devices
            if (const auto pf = m.get("profile")) {
                // Read (and any error reported) below; here only looked up.
                if (const auto it = pf->node.IsScalar() ? profile_defaults_.find(pf->node.Scalar()) : profile_defaults_.end();
                    it != profile_defaults_.end()) {
                    d = it->second;  // the profile's settings; the device's own come on top
                }
            }
            d.name = entry.key;
            d.mark = entry.key_mark;

            const bus* on_bus = nullptr;
            if (const auto bf = m.require("bus", "the name of a bus under buses")) {
                if (auto name = read_string(*bf, sink_)) {
                    d.bus = *name;
                    if (const auto it = bus_at_.find(*name); it != bus_at_.end()) {
                        on_bus = &gw_.buses[it->second];
                    } else if (declared_buses_.count(*name) == 0) {
                        unknown_reference(*bf, "bus", *name, declared_buses_);
                    }
                }
            }
            const auto* on_tcp = on_bus ? std::get_if<tcp_link>(&on_bus->link) : nullptr;
            const bool tcp = on_tcp != nullptr;
            // RTU frames over TCP (a serial device server) reach a serial line.
            const bool mbap = tcp && on_tcp->framing == tcp_framing::mbap;
            if (m.require("unit_id", mbap ? "1..255" : "1..247")) {
                get_integer(m, "unit_id", 1, mbap ? 255 : 247, d.unit_id,
                            mbap ? "(0 is broadcast and cannot be polled)"
                                 : "(0 is broadcast and cannot be polled; 248..255 are reserved on a serial line)");
            }
            read_settings(m, d);
            if ((m.has("connect_pause") || m.has("close_after_poll")) && on_bus && !tcp) {
                sink_.warning(d.mark, entry.value.path + ": connect_pause and close_after_poll apply to tcp buses only");
            }
            if (auto faults = m.get("simulator_faults")) {
                map_reader fm(*faults, key_names(section::simulator_faults), sink_);
                get_integer(fm, section::simulator_faults, "miss_every", d.faults.miss_every);
                get_integer(fm, section::simulator_faults, "stray_every", d.faults.stray_every);
                get_duration(fm, section::simulator_faults, "min_request_gap", d.faults.min_request_gap);
                get_integer(fm, section::simulator_faults, "max_registers", d.faults.max_registers);
                get_bool(fm, "one_master", d.faults.one_master);
                get_bool(fm, "misaligned_bits", d.faults.misaligned_bits);
                get_duration(fm, section::simulator_faults, "connect_pause", d.faults.connect_pause);
                get_bool(fm, "refuse_fc6", d.faults.refuse_fc6);
                get_bool(fm, "refuse_fc5", d.faults.refuse_fc5);
                get_bool(fm, "refuse_fc43", d.faults.refuse_fc43);
                get_duration(fm, section::simulator_faults, "vanish_after", d.faults.vanish_after);
                get_duration(fm, section::simulator_faults, "vanish_for", d.faults.vanish_for);
                get_integer(fm, section::simulator_faults, "busy_every", d.faults.busy_every);
                get_duration(fm, section::simulator_faults, "response_delay", d.faults.response_delay);
                if (auto u = fm.get("unmapped")) read_register_ranges(*u, d.faults.unmapped);
                if (auto u = fm.get("unanswered")) read_register_ranges(*u, d.faults.unanswered);
            }

            if (const auto pf = m.get("profile")) {
                if (auto name = read_string(*pf, sink_)) {
                    d.profile = *name;
                    used_profiles_.insert(*name);
                    if (const auto it = profile_at_.find(*name); it != profile_at_.end()) {
                        d.points = gw_.profiles[it->second].points;
                    } else if (declared_profiles_.count(*name) == 0) {
                        unknown_reference(*pf, "profile", *name, declared_profiles_);
                    }
                }
            }
            if (const auto pl = m.get("points")) {
                point_list own = read_point_list(*pl);
                if (d.points.empty()) {
                    d.points = std::move(own);
                } else {
                    for (const auto& p : own) d.points.push_back(p);
                }
            }
            if (d.points.size() > limits::max_points_per_device) {
                sink_.error(d.mark, entry.value.path + ": " + std::to_string(d.points.size()) +
                                        " points (the profile's and its own); expected at most " +
                                        std::to_string(limits::max_points_per_device) + " points per device");
            }
            points_total_ += d.points.size();
            if (points_total_ > limits::max_points_total) {
                sink_.error(d.mark, entry.value.path + ": the devices up to this one have " +
                                        std::to_string(points_total_) + " points; expected at most " +
                                        std::to_string(limits::max_points_total) +
                                        " points in all devices together (the devices after it are not read)");
                break;
            }
            if (d.points.empty() && sink_.error_count() == errors_before) {
                sink_.warning(d.mark, entry.value.path + ": device has no points (no profile, no points); nothing "
                                                         "is asked of it and its availability stays unknown");
            }
            if (sink_.error_count() == errors_before && on_bus) gw_.devices.push_back(std::move(d));
        }
    }

    void unknown_reference(const field& f, const std::string& what, const std::string& name,
                           const std::set<std::string>& known) {
        std::string message = f.path + ": no " + what + " named " + shortened(name, 80);
        // A suggestion compares the name with every known one (5 000 names
        // of 256 bytes for each of 5 000 devices would take hours): the
        // first references get one, the others the list alone.
        if (suggestions_left_ > 0) {
            --suggestions_left_;
            if (auto guess = closest_match(name, std::vector<std::string>(known.begin(), known.end())))
                message += "; did you mean " + shortened(*guess, 80) + "?";
        }
        message += "; expected one of: " + quote_list(known);
        sink_.error(f.mark, message);
    }

    void warn_unused() {
        std::set<std::string_view> used_buses;
        for (const auto& d : gw_.devices) used_buses.insert(d.bus);
        for (const auto& b : gw_.buses) {
            if (used_buses.count(b.name) == 0) sink_.warning(b.mark, "buses." + b.name + ": bus is not used by any device");
        }
        for (const auto& p : gw_.profiles) {
            if (used_profiles_.count(p.name) == 0) {
                sink_.warning(p.mark, "profiles." + p.name + ": profile is not used by any device");
            }
        }
    }
};

// Diagnostics in reading order: the main file first, then included files in
// the order they were first mentioned; by line and column within a file.
void sort_by_position(std::vector<diagnostic>& diagnostics) {
    std::vector<std::string> files;
    for (const auto& d : diagnostics) {
        if (std::find(files.begin(), files.end(), d.file) == files.end()) files.push_back(d.file);
    }
    const auto rank = [&](const std::string& file) { return std::find(files.begin(), files.end(), file) - files.begin(); };
    std::stable_sort(diagnostics.begin(), diagnostics.end(), [&](const diagnostic& a, const diagnostic& b) {
        return std::tuple(rank(a.file), a.line, a.column) < std::tuple(rank(b.file), b.line, b.column);
    });
}

// A finding about defaults alone (no section of the file holds what it is
// about) is the main file's, at no line.
void in_main_file_if_unmarked(diagnostic& d, const std::string& file_name) {
    if (d.file.empty()) d = diagnostic{file_name, 0, 0, std::move(d.message)};
}

}  // namespace

gateway load_string(const std::string& yaml, const std::string& file_name) {
    if (yaml.size() > limits::max_file_bytes) {
        throw config_error({diagnostic{file_name, 1, 1,
                                       "the configuration is " + std::to_string(yaml.size()) +
                                           " bytes; expected at most " + std::to_string(limits::max_file_bytes) +
                                           " bytes (" + mib(limits::max_file_bytes) + ")" +
                                           std::string(size_hint)}});
    }
    diagnostics_sink sink;
    const heap_meter growth = growth_from_now();
    if (!growth) {
        sink.warning(source_mark{file_name, 0, 0},
                     "the process's memory cannot be read (/proc/self/status), so the memory the YAML parser "
                     "takes is not bounded (limits: " + mib(limits::max_parse_heap_bytes) +
                         "); expected /proc mounted");
    }
    auto tree = parse_document(yaml, file_name, sink, growth);
    if (!tree) throw config_error(sink.errors());

    field root_field{tree->root(), "", source_mark{file_name, 1, 1}};
    loader l(sink, growth, file_name, tree, yaml);
    tree.reset();  // the loader holds it
    gateway gw = l.read(root_field);

    std::vector<diagnostic> errors = sink.errors();
    std::size_t not_listed = sink.errors_not_kept();
    diagnostic_list found;
    validate(gw, found);
    not_listed += found.not_kept();
    for (auto& d : found.take()) {
        if (errors.size() < limits::max_diagnostics) {
            errors.push_back(std::move(d));
        } else {
            ++not_listed;
        }
    }
    for (auto& d : errors) in_main_file_if_unmarked(d, file_name);
    // A value the loader refused and kept (a wildcard in publish.prefix),
    // found again by validate, is listed once: at the loader's mark.
    std::set<std::string> listed;
    std::erase_if(errors, [&](const diagnostic& d) { return !listed.insert(d.message).second; });
    if (!errors.empty()) {
        sort_by_position(errors);
        if (not_listed > 0) {
            errors.push_back(diagnostic{file_name, 0, 0,
                                        "and " + std::to_string(not_listed) +
                                            " more error(s) not listed; expected the ones above fixed first"});
        }
        throw config_error(std::move(errors));
    }
    share_equal_point_lists(gw);
    auto warnings = sink.warnings();
    for (auto& w : warnings) in_main_file_if_unmarked(w, file_name);
    sort_by_position(warnings);
    for (const auto& w : warnings) gw.warnings.push_back(to_string(w));
    if (sink.warnings_not_kept() > 0) {
        gw.warnings.push_back(file_name + ": and " + std::to_string(sink.warnings_not_kept()) +
                              " more warning(s) not listed");
    }
    return compact_copy(gw);
}

gateway load_file(const std::string& path) {
    auto text = read_text_file(path, limits::max_file_bytes);
    if (const auto* refusal = std::get_if<read_refusal>(&text)) {
        std::string message = "the configuration file " + refusal->why + "; expected " + refusal->expected;
        if (refusal->too_large) message += " (" + mib(limits::max_file_bytes) + ")" + std::string(size_hint);
        throw config_error({diagnostic{path, 0, 0, std::move(message)}});
    }
    return load_string(std::get<std::string>(text), path);
}

}  // namespace fieldbridge::config
