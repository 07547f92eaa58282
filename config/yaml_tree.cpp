#include "config/yaml_tree.hpp"

#include <algorithm>
#include <deque>
#include <istream>
#include <limits>
#include <optional>
#include <streambuf>
#include <unordered_map>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "common/shortened.hpp"
#include "config/flow_nesting.hpp"
#include "config/limits.hpp"

namespace fieldbridge::config {

// ---- yaml_node ----

namespace {

const std::string& no_tag() {
    static const std::string none;
    return none;
}

constexpr std::string_view core_tag_prefix = "tag:yaml.org,2002:";

// No tag (plain "?", quoted "!"), !include, and the core tags, which say
// what YAML would take the text for anyway. Others (!!binary, a local !foo)
// would change what the value means in a way the loader does not read.
bool is_known_tag(std::string_view tag) {
    if (tag.empty() || tag == "?" || tag == "!" || tag == "!include") return true;
    if (!tag.starts_with(core_tag_prefix)) return false;
    const auto name = tag.substr(core_tag_prefix.size());
    return name == "str" || name == "int" || name == "float" || name == "bool" || name == "null" || name == "seq" ||
           name == "map";
}

// A tag as it is written: !!binary for YAML's own.
std::string spelled_tag(std::string_view tag) {
    if (tag.starts_with(core_tag_prefix)) return "!!" + std::string(tag.substr(core_tag_prefix.size()));
    return std::string(tag);
}

// What a known tag may stand on: !include and the scalar core tags on a
// scalar, !!seq on a list, !!map on a map. A tag on the wrong kind of node
// (`mqtt: !include { host: b }`, `port: !!map 1883`) says something the file
// does not do; the reason, or nothing when the tag fits.
std::optional<std::string> misplaced_tag(yaml_kind kind, std::string_view tag) {
    if (tag.empty() || tag == "?" || tag == "!") return std::nullopt;
    const bool on_map = kind == yaml_kind::map;
    const bool on_list = kind == yaml_kind::sequence;
    if (tag == "!include") {
        if (!on_map && !on_list) return std::nullopt;
        return std::string("tag !include on a ") + (on_map ? "map" : "list") +
               "; expected !include FILE, a file name after the tag";
    }
    const auto spelled = spelled_tag(tag);
    const bool fits = spelled == "!!map" ? on_map : spelled == "!!seq" ? on_list : !on_map && !on_list;
    if (fits) return std::nullopt;
    return "tag " + spelled + " on a " + (on_map ? "map" : on_list ? "list" : "scalar") +
           "; expected a tag of the value's kind, or none";
}

}  // namespace

bool yaml_node::IsNull() const noexcept { return tree_ && tree_->nodes_[id_].kind == yaml_kind::null; }
bool yaml_node::IsScalar() const noexcept { return tree_ && tree_->nodes_[id_].kind == yaml_kind::scalar; }
bool yaml_node::IsSequence() const noexcept { return tree_ && tree_->nodes_[id_].kind == yaml_kind::sequence; }
bool yaml_node::IsMap() const noexcept { return tree_ && tree_->nodes_[id_].kind == yaml_kind::map; }

std::string_view yaml_node::scalar_view() const noexcept {
    if (!IsScalar()) return {};
    const auto& n = tree_->nodes_[id_];
    return std::string_view(tree_->text_).substr(n.begin, n.count);
}

const std::string& yaml_node::Tag() const noexcept { return tree_ ? tree_->tags_[tree_->nodes_[id_].tag] : no_tag(); }

std::size_t yaml_node::size() const noexcept {
    if (!tree_) return 0;
    const auto& n = tree_->nodes_[id_];
    switch (n.kind) {
        case yaml_kind::sequence:
            return n.count;
        case yaml_kind::map:
            return n.count / 2;
        case yaml_kind::null:
        case yaml_kind::scalar:
            break;
    }
    return 0;
}

yaml_node yaml_node::child(std::size_t i) const noexcept {
    return {tree_, tree_->children_[tree_->nodes_[id_].begin + i]};
}

yaml_node yaml_node::operator[](std::size_t i) const noexcept {
    if (!IsSequence() || i >= size()) return {};
    return child(i);
}

yaml_node yaml_node::operator[](std::string_view key) const noexcept {
    for (const auto& [k, v] : pairs()) {
        if (k.IsScalar() && k.scalar_view() == key) return v;
    }
    return {};
}

yaml_mark yaml_node::mark() const noexcept {
    if (!tree_) return {};
    const auto& n = tree_->nodes_[id_];
    return {static_cast<int>(n.line), static_cast<int>(n.column)};
}

yaml_node::sequence_iterator yaml_node::begin() const noexcept { return {*this, 0}; }
yaml_node::sequence_iterator yaml_node::end() const noexcept { return {*this, IsSequence() ? size() : 0}; }
yaml_node::pair_range yaml_node::pairs() const noexcept { return {*this, IsMap() ? size() : 0}; }

// ---- UTF-8 ----

yaml_mark first_invalid_utf8(std::string_view text) noexcept {
    int line = 1;
    std::size_t line_start = 0;
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const auto continuation = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
    while (i < text.size()) {
        const unsigned char c = byte(i);
        std::size_t length = 0;
        if (c < 0x80) {
            if (c == '\n') {
                ++line;
                line_start = i + 1;
            }
            ++i;
            continue;
        }
        // RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
        if (c >= 0xC2 && c <= 0xDF) {
            length = continuation(i + 1) ? 2 : 0;
        } else if (c >= 0xE0 && c <= 0xEF) {
            const bool second_ok = continuation(i + 1) && (c != 0xE0 || byte(i + 1) >= 0xA0) &&
                                   (c != 0xED || byte(i + 1) < 0xA0);
            length = second_ok && continuation(i + 2) ? 3 : 0;
        } else if (c >= 0xF0 && c <= 0xF4) {
            const bool second_ok = continuation(i + 1) && (c != 0xF0 || byte(i + 1) >= 0x90) &&
                                   (c != 0xF4 || byte(i + 1) < 0x90);
            length = second_ok && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
        }
        if (length == 0) {
            const auto column = std::min<std::size_t>(i - line_start + 1, std::numeric_limits<int>::max());
            return {line, static_cast<int>(column)};
        }
        i += length;
    }
    return {};
}

// ---- building ----

namespace {

// Stops the parser from inside the event handler.
struct stop_parsing {
    yaml_error error;
};

// Reads a text in place (std::istream over the caller's bytes, no copy).
// Hands yaml-cpp the text a chunk at a time and, before each chunk after
// the first, reads the load's growth against its bound: what yaml-cpp holds
// while it reads (a token for every scalar of brackets that may still turn
// out to be a key, a marker for every item of a block list) is out of reach
// of any count of ours, and some files make it hundreds of bytes for each
// byte read. Past the bound the text ends there for yaml-cpp (so the parse
// stops within a chunk of it) and the buffer remembers where.
class metered_text : public std::streambuf {
public:
    metered_text(std::string_view text, const heap_meter& growth, std::size_t bound)
        : text_(text), growth_(growth), bound_(bound) {
        show(0);
    }

    // Where the bound was passed: the offset of the first byte yaml-cpp was
    // not given, or nullopt.
    std::optional<std::size_t> stopped_at() const noexcept { return stopped_at_; }

protected:
    int_type underflow() override {
        if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
        const auto next = static_cast<std::size_t>(egptr() - text_.data());
        if (next >= text_.size() || stopped_at_) return traits_type::eof();
        if (growth_ && growth_() > bound_) {
            stopped_at_ = next;
            return traits_type::eof();
        }
        show(next);
        return traits_type::to_int_type(*gptr());
    }

private:
    static constexpr std::size_t chunk = std::size_t{16} * 1024;

    void show(std::size_t from) {
        const std::size_t to = std::min(text_.size(), from + chunk);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): get area only, never written
        char* begin = const_cast<char*>(text_.data());
        setg(begin + from, begin + from, begin + to);
    }

    std::string_view text_;
    const heap_meter& growth_;
    std::size_t bound_;
    std::optional<std::size_t> stopped_at_;
};

std::uint32_t to_u32(int v) { return v < 0 ? 0 : static_cast<std::uint32_t>(v); }

// A mark moved back into text: yaml-cpp reports some errors found while it
// reads ahead (an escape cut short by the end of the file) past the last
// character. The end of the text is where the reader should look.
yaml_mark within(std::string_view text, yaml_mark at) {
    int line = 1;
    std::size_t start = 0;
    while (line < at.line) {
        const auto nl = text.find('\n', start);
        if (nl == std::string_view::npos) break;
        start = nl + 1;
        ++line;
    }
    const auto end = std::min(text.find('\n', start), text.size());
    const auto last_column = static_cast<int>(std::min<std::size_t>(end - start + 1, std::numeric_limits<int>::max()));
    if (line < at.line) return {line, last_column};  // past the last line
    return {line, std::min(at.column, last_column)};
}

}  // namespace

// The yaml-cpp event handler that fills a yaml_tree.
class yaml_tree_builder : public YAML::EventHandler {
public:
    yaml_tree_builder(yaml_tree& tree, std::uint64_t max_nodes) : tree_(tree), max_nodes_(max_nodes) {
        tree_.tags_.emplace_back();
    }

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}

    void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        count_node(mark);
        const auto id = add_node(mark, yaml_kind::null, {});
        finish(id, 1, anchor);
    }

    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        count_node(mark);
        const auto id = add_node(mark, yaml_kind::scalar, tag);
        auto& n = tree_.nodes_[id];
        const auto [offset, length] = store_text(value, mark);
        n.begin = offset;
        n.count = length;
        finish(id, 1, anchor);
    }

    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (anchor >= anchors_.size() || !anchors_[anchor].complete) {
            // yaml-cpp refuses aliases of anchors never defined; this one's
            // node is still open: the alias is inside what it names.
            throw stop_parsing{{at(mark), "alias *" + anchor_name(anchor) +
                                              " is inside the node it names; expected an alias of a node "
                                              "defined before it (a node cannot contain itself)"}};
        }
        const auto& target = anchors_[anchor];
        total_ += target.expanded;
        if (total_ > max_nodes_) {
            throw stop_parsing{{at(mark),
                                "alias *" + anchor_name(anchor) + " expands to " +
                                    std::to_string(target.expanded) + " nodes, making " +
                                    std::to_string(total_) + " nodes so far; expected at most " +
                                    std::to_string(max_nodes_) +
                                    " nodes with every alias expanded (write fewer aliases, or use "
                                    "profiles for devices of one model)",
                                true}};
        }
        add_to_parent(target.node, target.expanded);
    }

    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, yaml_kind::sequence, tag, anchor);
    }
    void OnSequenceEnd() override { close(); }

    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, yaml_kind::map, tag, anchor);
    }
    void OnMapEnd() override { close(); }

    bool has_root() const noexcept { return has_root_; }
    std::uint64_t total() const noexcept { return total_; }

private:
    struct open_node {
        std::uint32_t id;
        std::size_t first_pending;  // its children so far: pending_[first_pending..]
        std::uint64_t expanded;     // 1 + its children's expanded sizes
        YAML::anchor_t anchor;
    };
    struct anchor_info {
        std::uint32_t node = 0;
        std::uint64_t expanded = 0;
        bool complete = false;
        std::string name;
    };

    static yaml_mark at(const YAML::Mark& m) {
        if (m.is_null() || m.line < 0) return {};
        return {m.line + 1, m.column + 1};
    }

    std::string anchor_name(YAML::anchor_t anchor) const {
        return anchor < anchors_.size() && !anchors_[anchor].name.empty() ? anchors_[anchor].name : "?";
    }

    void count_node(const YAML::Mark& mark) {
        if (++total_ > max_nodes_) {
            throw stop_parsing{{at(mark),
                                "the document has more than " + std::to_string(max_nodes_) +
                                    " nodes (with every alias expanded); expected a smaller "
                                    "configuration (use profiles for devices of one model)",
                                true}};
        }
    }

    // Only the tags a configuration may carry are kept (a dozen at most), so
    // the table stays small whatever the file.
    std::uint16_t intern_tag(const std::string& tag, const YAML::Mark& mark) {
        const auto found = std::find(tree_.tags_.begin(), tree_.tags_.end(), tag);
        if (found != tree_.tags_.end()) return static_cast<std::uint16_t>(found - tree_.tags_.begin());
        if (!is_known_tag(tag)) {
            throw stop_parsing{{at(mark), "unknown tag " + shortened(spelled_tag(tag), 80) +
                                              "; expected no tag, !include FILE (for a profile or a point list) "
                                              "or a YAML core tag (!!str, !!int, !!float, !!bool, !!null, !!seq, "
                                              "!!map)"}};
        }
        tree_.tags_.push_back(tag);
        return static_cast<std::uint16_t>(tree_.tags_.size() - 1);
    }

    // Short scalars repeat (keys, types, register kinds): each distinct one
    // is kept once, up to a number of distinct ones that keeps the index
    // small.
    std::pair<std::uint32_t, std::uint32_t> store_text(const std::string& value, const YAML::Mark& mark) {
        constexpr std::size_t short_text = 32;
        constexpr std::size_t max_shared = 65536;
        if (value.size() <= short_text) {
            if (const auto it = shared_.find(value); it != shared_.end()) {
                return {it->second, static_cast<std::uint32_t>(value.size())};
            }
        }
        if (tree_.text_.size() + value.size() > std::numeric_limits<std::uint32_t>::max()) {
            throw stop_parsing{{at(mark), "scalars longer than 4 GiB together; expected a smaller file"}};
        }
        const auto offset = static_cast<std::uint32_t>(tree_.text_.size());
        tree_.text_ += value;
        if (value.size() <= short_text && shared_.size() < max_shared) {
            // The key views text_ that may move: keep the key's own copy.
            shared_.emplace(value, offset);
        }
        return {offset, static_cast<std::uint32_t>(value.size())};
    }

    std::uint32_t add_node(const YAML::Mark& mark, yaml_kind kind, const std::string& tag) {
        if (tree_.nodes_.size() >= std::numeric_limits<std::uint32_t>::max()) {
            throw stop_parsing{{at(mark), "too many nodes; expected a smaller file"}};
        }
        yaml_tree::stored_node n;
        const auto m = at(mark);
        n.line = to_u32(m.line);
        n.column = to_u32(m.column);
        n.kind = kind;
        n.tag = intern_tag(tag, mark);
        if (const auto why = misplaced_tag(kind, tag)) throw stop_parsing{{at(mark), *why}};
        tree_.nodes_.push_back(n);
        return static_cast<std::uint32_t>(tree_.nodes_.size() - 1);
    }

    void remember_anchor(YAML::anchor_t anchor, std::uint32_t id, std::uint64_t expanded) {
        if (anchor == YAML::NullAnchor) return;
        if (anchor >= anchors_.size()) anchors_.resize(anchor + 1);
        anchors_[anchor].node = id;
        anchors_[anchor].expanded = expanded;
        anchors_[anchor].complete = true;
    }

    void name_anchor(YAML::anchor_t anchor) {
        if (anchor == YAML::NullAnchor) return;
        if (anchor >= anchors_.size()) anchors_.resize(anchor + 1);
        anchors_[anchor].name = std::move(anchor_name_);
        anchor_name_.clear();
    }

    void finish(std::uint32_t id, std::uint64_t expanded, YAML::anchor_t anchor) {
        name_anchor(anchor);
        remember_anchor(anchor, id, expanded);
        add_to_parent(id, expanded);
    }

    void add_to_parent(std::uint32_t id, std::uint64_t expanded) {
        if (stack_.empty()) {
            if (!has_root_) {
                tree_.root_ = id;
                has_root_ = true;
            }
            return;
        }
        pending_.push_back(id);
        stack_.back().expanded += expanded;
    }

    void open(const YAML::Mark& mark, yaml_kind kind, const std::string& tag, YAML::anchor_t anchor) {
        count_node(mark);
        name_anchor(anchor);
        const auto id = add_node(mark, kind, tag);
        stack_.push_back(open_node{id, pending_.size(), 1, anchor});
    }

    void close() {
        const open_node done = stack_.back();
        stack_.pop_back();
        auto& n = tree_.nodes_[done.id];
        n.begin = static_cast<std::uint32_t>(tree_.children_.size());
        n.count = static_cast<std::uint32_t>(pending_.size() - done.first_pending);
        tree_.children_.insert(tree_.children_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(done.first_pending),
                               pending_.end());
        pending_.resize(done.first_pending);
        remember_anchor(done.anchor, done.id, done.expanded);
        add_to_parent(done.id, done.expanded);
    }

    yaml_tree& tree_;
    std::uint64_t max_nodes_;
    std::uint64_t total_ = 0;
    bool has_root_ = false;
    std::vector<open_node> stack_;
    std::deque<std::uint32_t> pending_;  // children of the open nodes, innermost last
    std::vector<anchor_info> anchors_;    // by yaml-cpp's anchor number
    std::string anchor_name_;             // of the node about to start
    std::unordered_map<std::string, std::uint32_t> shared_;
};

yaml_mark mark_at_offset(std::string_view text, std::size_t offset) noexcept {
    constexpr std::size_t most = static_cast<std::size_t>(std::numeric_limits<int>::max());
    const auto before = text.substr(0, std::min(offset, text.size()));
    const auto line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const auto last_break = before.rfind('\n');
    const auto column = before.size() - (last_break == std::string_view::npos ? 0 : last_break + 1) + 1;
    return yaml_mark{static_cast<int>(std::min(line, most)), static_cast<int>(std::min(column, most))};
}

yaml_tree::parse_result yaml_tree::parse(std::string_view text, std::uint64_t max_nodes, const heap_meter& growth,
                                         std::size_t max_growth) {
    if (text.size() >= 2 && ((text[0] == '\xFE' && text[1] == '\xFF') || (text[0] == '\xFF' && text[1] == '\xFE'))) {
        return yaml_error{{1, 1}, "the file is UTF-16 or UTF-32 (it starts with a byte order mark); expected "
                                  "UTF-8: save it as UTF-8"};
    }
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
        // YAML streams hold no NUL; without this a UTF-16 file without a byte
        // order mark would be taken for one (yaml-cpp guesses encodings).
        return yaml_error{mark_at_offset(text, nul), "a NUL byte (the file is binary, or UTF-16/UTF-32); expected UTF-8 text"};
    }
    if (const auto bad = first_invalid_utf8(text); bad.line != 0) {
        return yaml_error{bad, "a byte that is not UTF-8 (the file is not valid UTF-8); expected UTF-8 text: save "
                               "the file as UTF-8"};
    }
    if (auto refused = refuse_flow(text, limits::max_flow_depth, limits::max_flow_tokens)) {
        return yaml_error{refused->at, std::move(refused->message)};
    }
    auto tree = std::make_shared<yaml_tree>();
    yaml_tree_builder builder(*tree, max_nodes);
    metered_text buffer(text, growth, max_growth);
    std::istream in(&buffer);
    std::optional<yaml_error> error;
    try {
        YAML::Parser parser(in);
        // Only the first document is read, as the configuration is one document.
        parser.HandleNextDocument(builder);
    } catch (const stop_parsing& stop) {
        error = stop.error;
    } catch (const YAML::Exception& e) {
        error.emplace();
        if (!e.mark.is_null() && e.mark.line >= 0) error->at = within(text, {e.mark.line + 1, e.mark.column + 1});
        error->message = "YAML syntax error: " + e.msg +
                         "; expected well-formed YAML (check indentation, quotes and brackets)";
    }
    if (const auto stopped = buffer.stopped_at()) {
        // Whatever yaml-cpp made of the text cut short.
        return yaml_error{mark_at_offset(text, *stopped - 1),
                          "the configuration took more than " + std::to_string(max_growth / (std::size_t{1024} * 1024)) +
                              " MiB of memory by the time the YAML parser had read up to here; expected a "
                              "configuration it can read in less: lists and maps in brackets cost it most (write "
                              "long lists one item per line), then the number of items (give devices of one model "
                              "a profile)"};
    }
    if (error) return std::move(*error);
    if (!builder.has_root()) {
        // An empty document: a null root.
        stored_node n;
        n.line = 1;
        n.column = 1;
        tree->nodes_.push_back(n);
        tree->root_ = 0;
    }
    tree->expanded_nodes_ = std::max<std::uint64_t>(builder.total(), 1);
    tree->text_.shrink_to_fit();
    return std::shared_ptr<const yaml_tree>(std::move(tree));
}

}  // namespace fieldbridge::config
