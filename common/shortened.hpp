// Untrusted text (a topic, a filter) for a log line or an error message: at
// most `max` bytes, cut with its full length named. Pure, header-only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fieldbridge {

inline std::string shortened(std::string_view text, std::size_t max = 120) {
    if (text.size() <= max) return std::string(text);
    return std::string(text.substr(0, max)) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace fieldbridge
