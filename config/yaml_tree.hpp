// A YAML document as a compact, immutable tree: each node is a kind, a tag,
// a scalar, its children and its 1-based line/column. An alias is the very
// node it names (a shared reference, never a copy), so aliases cost nothing
// and nothing a reader does can change what another alias sees. Parsing
// counts every alias as the size of its target and stops at a bound, so a
// small file cannot expand into a huge one. The only part of the loader
// that uses yaml-cpp.
// A tree is immutable once built and may be read from any thread; a
// yaml_node is a handle valid while its tree lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/heap_meter.hpp"

namespace fieldbridge::config {

class yaml_tree;

// 1-based; 0 when unknown.
struct yaml_mark {
    int line = 0;
    int column = 0;
};

enum class yaml_kind : std::uint8_t { null, scalar, sequence, map };

struct yaml_pair;

// A node of a yaml_tree, or no node at all (a key that is not there). The
// names of the read API follow yaml-cpp's so that readers of either look
// alike.
class yaml_node {
public:
    yaml_node() = default;

    bool IsDefined() const noexcept { return tree_ != nullptr; }
    explicit operator bool() const noexcept { return IsDefined(); }
    bool IsNull() const noexcept;
    bool IsScalar() const noexcept;
    bool IsSequence() const noexcept;
    bool IsMap() const noexcept;

    // The text of a scalar ("" for anything else).
    std::string Scalar() const { return std::string(scalar_view()); }
    std::string_view scalar_view() const noexcept;
    // "?" for a plain node without a tag, "!" for a quoted scalar, or the
    // tag written ("!include"); "" for null and undefined nodes.
    const std::string& Tag() const noexcept;
    // Items of a sequence, pairs of a map, 0 for anything else.
    std::size_t size() const noexcept;
    // Item i of a sequence; undefined when out of range or not a sequence.
    yaml_node operator[](std::size_t i) const noexcept;
    // The value of the first scalar key equal to key; undefined if none.
    yaml_node operator[](std::string_view key) const noexcept;
    yaml_mark mark() const noexcept;

    // Two handles of the same node: an alias and its anchor are the same.
    bool same_node(const yaml_node& other) const noexcept { return tree_ == other.tree_ && id_ == other.id_; }
    // Equal for handles of the same node (a key for "read this one before?").
    std::pair<const void*, std::uint32_t> identity() const noexcept { return {tree_, id_}; }

    class sequence_iterator;
    // The items of a sequence (nothing for anything else).
    sequence_iterator begin() const noexcept;
    sequence_iterator end() const noexcept;

    class pair_range;
    // The key/value pairs of a map in file order, repeated keys included
    // (nothing for anything else).
    pair_range pairs() const noexcept;

private:
    friend class yaml_tree;
    yaml_node(const yaml_tree* tree, std::uint32_t id) : tree_(tree), id_(id) {}
    yaml_node child(std::size_t i) const noexcept;  // child i of the stored children

    const yaml_tree* tree_ = nullptr;
    std::uint32_t id_ = 0;
};

struct yaml_pair {
    yaml_node first;   // the key
    yaml_node second;  // the value
};

class yaml_node::sequence_iterator {
public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = yaml_node;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = yaml_node;

    sequence_iterator() = default;
    yaml_node operator*() const noexcept { return parent_.child(index_); }
    sequence_iterator& operator++() noexcept {
        ++index_;
        return *this;
    }
    sequence_iterator operator++(int) noexcept {
        auto old = *this;
        ++index_;
        return old;
    }
    bool operator==(const sequence_iterator& other) const noexcept { return index_ == other.index_; }

private:
    friend class yaml_node;
    sequence_iterator(yaml_node parent, std::size_t index) : parent_(parent), index_(index) {}
    yaml_node parent_;
    std::size_t index_ = 0;
};

class yaml_node::pair_range {
public:
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = yaml_pair;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = yaml_pair;

        iterator() = default;
        yaml_pair operator*() const noexcept { return {map_.child(2 * index_), map_.child(2 * index_ + 1)}; }
        iterator& operator++() noexcept {
            ++index_;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto old = *this;
            ++index_;
            return old;
        }
        bool operator==(const iterator& other) const noexcept { return index_ == other.index_; }

    private:
        friend class pair_range;
        iterator(yaml_node map, std::size_t index) : map_(map), index_(index) {}
        yaml_node map_;
        std::size_t index_ = 0;
    };

    iterator begin() const noexcept { return {map_, 0}; }
    iterator end() const noexcept { return {map_, count_}; }

private:
    friend class yaml_node;
    pair_range(yaml_node map, std::size_t count) : map_(map), count_(count) {}
    yaml_node map_;
    std::size_t count_ = 0;
};

// Why a text is not a tree: where, and the message (without the file name).
struct yaml_error {
    yaml_mark at;
    std::string message;
    bool node_bound = false;  // the document passed max_nodes (the rest may be fine)
};

class yaml_tree {
public:
    using parse_result = std::variant<std::shared_ptr<const yaml_tree>, yaml_error>;

    // The first document of text. Refused: text that is not UTF-8 (at the
    // first bad byte), a syntax error, an alias of a node that contains it,
    // and a document of more than max_nodes nodes once every alias is
    // counted as the size of its target (at the node or alias that passes
    // it). An empty text is a null root. Pure: no I/O.
    // Refused as well where growth reads more than max_growth bytes, read
    // between chunks of 16 KiB of text (at the line the parser had read
    // to); an empty meter leaves the parse unbounded.
    static parse_result parse(std::string_view text, std::uint64_t max_nodes, const heap_meter& growth,
                              std::size_t max_growth);

    yaml_node root() const noexcept { return {this, root_}; }
    // Nodes once every alias is expanded (what a reader walking every
    // alias visits); nodes actually stored (each anchored node once).
    std::uint64_t expanded_nodes() const noexcept { return expanded_nodes_; }
    std::size_t stored_nodes() const noexcept { return nodes_.size(); }

    struct stored_node {
        std::uint32_t line = 0;    // 1-based, 0 unknown
        std::uint32_t column = 0;  // 1-based, 0 unknown
        std::uint32_t begin = 0;   // scalar: offset in text_; sequence/map: first index in children_
        std::uint32_t count = 0;   // scalar: bytes; sequence: items; map: 2 x pairs (key, value, ...)
        yaml_kind kind = yaml_kind::null;
        std::uint16_t tag = 0;  // index in tags_
    };

private:
    friend class yaml_node;
    friend class yaml_tree_builder;

    // In blocks, not one array: an array that doubles holds its old and new
    // storage at once, three times the nodes of a large file at its peak.
    std::deque<stored_node> nodes_;
    std::deque<std::uint32_t> children_;  // node ids; an alias is its target's id
    std::string text_;                     // every scalar, one after another (short ones shared)
    std::vector<std::string> tags_;        // tags_[0] is ""
    std::uint32_t root_ = 0;
    std::uint64_t expanded_nodes_ = 0;
};

// Where text stops being UTF-8 (1-based line, byte column), or nullopt-like
// {0, 0} when all of it is; used by parse, public for its tests.
yaml_mark first_invalid_utf8(std::string_view text) noexcept;

// The mark of the byte at offset of text (1-based line and byte column),
// counted as yaml-cpp counts them: lines end at '\n' only.
yaml_mark mark_at_offset(std::string_view text, std::size_t offset) noexcept;

}  // namespace fieldbridge::config
