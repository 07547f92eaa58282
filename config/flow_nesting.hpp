// The lists and maps in brackets ([...] and {...}) of a YAML text, measured
// before the text is parsed. yaml-cpp's scanner keeps every token of a
// bracketed collection that may still turn out to be a key (one that starts
// a line or a list item, or a whole JSON document) until the collection
// closes, and every bracket of a deep nest: a file of a few million '[',
// '1,' or ': ' took gigabytes before anything could refuse it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/yaml_tree.hpp"

namespace fieldbridge::config {

struct flow_refusal {
    yaml_mark at;
    std::string message;
};

// The first bracket that opens a collection nested deeper than max_depth,
// or the first token past max_tokens of what the parser holds at once: the
// tokens (scalars, brackets, ',', ':') of the bracketed collections that
// begin on one line outside brackets. nullopt when neither is passed.
// Brackets inside quoted scalars, comments, plain text (a[1]) and block
// scalars (| and >) do not count. Where the scan cannot tell as the parser
// would, it counts more rather than less: it may refuse an odd file that
// the parser would read in little memory.
std::optional<flow_refusal> refuse_flow(std::string_view text, std::size_t max_depth, std::size_t max_tokens);

}  // namespace fieldbridge::config
