#include "config/duration.hpp"

#include <cstdint>
#include <limits>

namespace fieldbridge::config {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::size_t i = 0;
    std::int64_t count = 0;
    constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 3'600'000;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        count = count * 10 + (text[i] - '0');
        if (count > limit) return std::nullopt;
        ++i;
    }
    if (i == 0) return std::nullopt;
    const std::string_view unit = text.substr(i);
    std::int64_t factor = 0;
    if (unit == "ms") {
        factor = 1;
    } else if (unit == "s") {
        factor = 1000;
    } else if (unit == "m") {
        factor = 60'000;
    } else if (unit == "h") {
        factor = 3'600'000;
    } else {
        return std::nullopt;
    }
    return std::chrono::milliseconds{count * factor};
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms == 0) return "0s";
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace fieldbridge::config
