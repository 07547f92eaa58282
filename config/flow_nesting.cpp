#include "config/flow_nesting.hpp"

#include <algorithm>
#include <limits>

namespace fieldbridge::config {
namespace {

bool is_flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

class flow_scan {
public:
    flow_scan(std::string_view text, std::size_t max_depth, std::size_t max_entries)
        : text_(text), max_depth_(max_depth), max_entries_(max_entries) {}

    std::optional<flow_refusal> run() {
        while (i_ < text_.size()) {
            if (at_line_start_) {
                if (!start_line()) return std::nullopt;  // the first document ends here
                continue;
            }
            const char c = text_[i_];
            if (break_at(i_)) {
                next_line();
                continue;
            }
            if (c == ' ' || c == '\t') {
                ++i_;
                continue;
            }
            if (c == '#' && (i_ == 0 || blank(i_ - 1))) {
                while (i_ < text_.size() && !break_at(i_)) ++i_;
                continue;
            }
            if (auto refused = token(c)) return refused;
        }
        return std::nullopt;
    }

private:
    std::string_view text_;
    std::size_t max_depth_;
    std::size_t max_entries_;
    std::size_t i_ = 0;
    std::size_t indent_ = 0;       // of the current line
    bool at_line_start_ = true;
    bool content_seen_ = false;    // of the first document
    std::size_t depth_ = 0;
    std::size_t entries_ = 0;      // of the outermost collection open
    bool token_start_ = true;      // the next character may begin a token
    bool in_plain_ = false;        // inside a plain scalar
    bool after_node_ = false;      // right after a quoted scalar or a closing bracket (JSON "a":1)

    // A line ends at '\n' or "\r\n", as for the parser (yaml-cpp): a lone
    // '\r' is text, neither a line break nor a space.
    bool break_at(std::size_t at) const {
        return at < text_.size() &&
               (text_[at] == '\n' || (text_[at] == '\r' && at + 1 < text_.size() && text_[at + 1] == '\n'));
    }

    bool blank(std::size_t at) const {
        return at >= text_.size() || text_[at] == ' ' || text_[at] == '\t' || break_at(at);
    }

    // Where i_ is, counted as the parser's marks are (lines end at '\n').
    // Worked out once, for the one refusal.
    yaml_mark mark() const {
        constexpr std::size_t most = static_cast<std::size_t>(std::numeric_limits<int>::max());
        const auto before = text_.substr(0, i_);
        const auto line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
        const auto last_break = before.rfind('\n');
        const auto column = i_ - (last_break == std::string_view::npos ? 0 : last_break + 1) + 1;
        return yaml_mark{static_cast<int>(std::min(line, most)), static_cast<int>(std::min(column, most))};
    }

    void next_line() {
        if (text_[i_] == '\r' && i_ + 1 < text_.size() && text_[i_ + 1] == '\n') ++i_;
        ++i_;
        at_line_start_ = true;
        in_plain_ = false;
        token_start_ = true;
        after_node_ = false;
    }

    // Indentation and document markers; false at the end of the first document.
    bool start_line() {
        at_line_start_ = false;
        const auto rest = text_.substr(i_);
        const bool marker = rest.size() >= 3 && (rest.starts_with("---") || rest.starts_with("...")) && blank(i_ + 3);
        if (marker && depth_ == 0) {
            if (content_seen_ || rest.starts_with("...")) return false;
            i_ += 3;
            return true;
        }
        indent_ = 0;
        while (i_ + indent_ < text_.size() && text_[i_ + indent_] == ' ') ++indent_;
        if (i_ + indent_ < text_.size() && !break_at(i_ + indent_) && text_[i_ + indent_] != '#') content_seen_ = true;
        i_ += indent_;
        return true;
    }

    std::optional<flow_refusal> token(char c) {
        if (in_plain_) {
            // A plain scalar ends at ": " and, inside brackets, at a flow
            // indicator or a ':' before one; anything else is its text.
            const bool ends = (c == ':' && (blank(i_ + 1) || (depth_ > 0 && is_flow_indicator(text_[i_ + 1])))) ||
                              (depth_ > 0 && is_flow_indicator(c));
            if (!ends) {
                ++i_;
                return std::nullopt;
            }
            in_plain_ = false;
        }
        if (c == '[' || c == '{') {
            if (depth_ == 0 && !token_start_) return plain();
            ++i_;
            if (++depth_ > max_depth_) {
                --i_;
                return flow_refusal{mark(), "a list or map in brackets nested more than " + std::to_string(max_depth_) +
                                                " deep; expected at most " + std::to_string(max_depth_) +
                                                " levels of [ ] and { } inside each other"};
            }
            return entry();
        }
        if (c == ']' || c == '}') {
            // The parser lets go of an outermost collection once it closes.
            if (depth_ > 0 && --depth_ == 0) entries_ = 0;
            ++i_;
            token_start_ = false;
            after_node_ = true;
            return std::nullopt;
        }
        if (c == ',' && depth_ > 0) {
            ++i_;
            return entry();
        }
        const bool indicator = (c == '-' || c == '?' || c == ':') &&
                               (blank(i_ + 1) || (depth_ > 0 && is_flow_indicator(text_[i_ + 1])) ||
                                (c == ':' && depth_ > 0 && after_node_));
        if (indicator) {
            ++i_;
            token_start_ = true;
            after_node_ = false;
            return std::nullopt;
        }
        if (!token_start_) return plain();
        if (c == '&' || c == '!' || c == '*') {
            // An anchor or a tag is followed by the node it names; an alias
            // is a whole node.
            while (i_ < text_.size() && !blank(i_) && !(depth_ > 0 && is_flow_indicator(text_[i_]))) ++i_;
            if (c == '*') {
                token_start_ = false;
                after_node_ = true;
            }
            return std::nullopt;
        }
        if (c == '"' || c == '\'') {
            quoted(c);
            return std::nullopt;
        }
        if ((c == '|' || c == '>') && depth_ == 0) {
            block_scalar();
            return std::nullopt;
        }
        return plain();
    }

    std::optional<flow_refusal> plain() {
        in_plain_ = true;
        token_start_ = false;
        after_node_ = false;
        ++i_;
        return std::nullopt;
    }

    std::optional<flow_refusal> entry() {
        token_start_ = true;
        after_node_ = false;
        if (++entries_ > max_entries_) {
            --i_;
            return flow_refusal{mark(), "more than " + std::to_string(max_entries_) +
                                            " entries in one list or map in brackets (the lists and maps inside it "
                                            "included); expected at most " +
                                            std::to_string(max_entries_) +
                                            " (write long lists one item per line: - item)"};
        }
        return std::nullopt;
    }

    // To the closing quote; a quoted scalar may span lines.
    void quoted(char quote) {
        for (++i_; i_ < text_.size(); ++i_) {
            const char c = text_[i_];
            if (quote == '"' && c == '\\') {
                if (i_ + 1 < text_.size() && !break_at(i_ + 1)) ++i_;
            } else if (quote == '\'' && c == '\'' && i_ + 1 < text_.size() && text_[i_ + 1] == '\'') {
                ++i_;  // '' is a quote inside single quotes
            } else if (c == quote) {
                ++i_;
                break;
            }
        }
        token_start_ = false;
        after_node_ = true;
    }

    // The rest of the header line, then every line more indented than the
    // line of the indicator (or empty): the scalar's text.
    void block_scalar() {
        const std::size_t parent = indent_;
        while (i_ < text_.size() && !break_at(i_)) ++i_;
        while (i_ < text_.size()) {
            next_line();
            std::size_t spaces = 0;
            while (i_ + spaces < text_.size() && text_[i_ + spaces] == ' ') ++spaces;
            const bool empty = i_ + spaces >= text_.size() || break_at(i_ + spaces);
            if (!empty && spaces <= parent) return;  // at_line_start_: the line is read as usual
            i_ += spaces;
            while (i_ < text_.size() && !break_at(i_)) ++i_;
        }
    }
};

}  // namespace

std::optional<flow_refusal> refuse_flow(std::string_view text, std::size_t max_depth, std::size_t max_entries) {
    return flow_scan(text, max_depth, max_entries).run();
}

}  // namespace fieldbridge::config
