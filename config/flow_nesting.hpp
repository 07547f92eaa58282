// How deep flow collections ([...] and {...}) nest in a YAML text, found
// before the text is parsed. yaml-cpp's scanner keeps every opening bracket
// it has read while a key may still follow, so a file of a few million '['
// took gigabytes before the parser's own depth bound refused it.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "config/yaml_tree.hpp"

namespace fieldbridge::config {

// The line and column of the first bracket that opens a flow collection
// nested deeper than max_depth, or nullopt. Brackets inside quoted scalars
// and comments do not count, nor brackets inside a plain scalar (a[1]); a
// literal block whose text nests brackets that deep counts (no
// configuration has one).
std::optional<yaml_mark> too_deep_flow(std::string_view text, std::size_t max_depth);

}  // namespace fieldbridge::config
