// "Did you mean ...?" for misspelt keys and names. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldbridge::config {

// The candidate closest to word by edit distance (case-insensitive), if it is
// close enough to be a plausible typo; nullopt otherwise.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace fieldbridge::config
