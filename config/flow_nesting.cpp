#include "config/flow_nesting.hpp"

#include <algorithm>
#include <limits>

namespace fieldbridge::config {
namespace {

// Where a flow collection or a quoted scalar may begin: at the start of a
// line, or after an indicator that ends the token before it.
bool token_may_start_after(char previous) {
    switch (previous) {
        case '\n':
        case ':':
        case '-':
        case '?':
        case ',':
        case '[':
        case '{':
            return true;
        default:
            return false;
    }
}

}  // namespace

std::optional<yaml_mark> too_deep_flow(std::string_view text, std::size_t max_depth) {
    std::size_t depth = 0;
    std::size_t line = 1;
    std::size_t line_start = 0;
    char previous = '\n';  // the last character that is not a space or a tab
    bool in_plain = false;  // inside a plain scalar (text without quotes)
    const auto mark = [&](std::size_t at) {
        constexpr std::size_t most = static_cast<std::size_t>(std::numeric_limits<int>::max());
        return yaml_mark{static_cast<int>(std::min(line, most)), static_cast<int>(std::min(at - line_start + 1, most))};
    };
    const auto blank_at = [&](std::size_t i) { return i >= text.size() || text[i] == ' ' || text[i] == '\t' ||
                                                      text[i] == '\r' || text[i] == '\n'; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            line_start = i + 1;
            previous = '\n';
            in_plain = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') continue;
        if (c == '#' && (i == 0 || blank_at(i - 1))) {
            while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
            continue;
        }
        if (in_plain) {
            // A plain scalar ends at ": " and, inside brackets, at a flow
            // indicator; anything else is its text.
            const bool ends = (c == ':' && blank_at(i + 1)) ||
                              (depth > 0 && (c == ',' || c == '[' || c == ']' || c == '{' || c == '}'));
            if (!ends) continue;
            in_plain = false;
        }
        if ((c == '"' || c == '\'') && token_may_start_after(previous)) {
            // To the closing quote; a quoted scalar may span lines.
            for (++i; i < text.size(); ++i) {
                if (text[i] == '\n') {
                    ++line;
                    line_start = i + 1;
                } else if (c == '"' && text[i] == '\\') {
                    if (i + 1 < text.size() && text[i + 1] != '\n') ++i;
                } else if (c == '\'' && text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                    ++i;  // '' is a quote inside single quotes
                } else if (text[i] == c) {
                    break;
                }
            }
            previous = c;
            continue;
        }
        if ((c == '[' || c == '{') && token_may_start_after(previous)) {
            if (++depth > max_depth) return mark(i);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        } else if (!token_may_start_after(c) && c != ']' && c != '}') {
            in_plain = true;  // the first character of a plain scalar
        }
        previous = c;
    }
    return std::nullopt;
}

}  // namespace fieldbridge::config
