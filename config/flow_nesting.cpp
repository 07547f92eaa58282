#include "config/flow_nesting.hpp"

#include <algorithm>

namespace fieldbridge::config {
namespace {

bool is_flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

class flow_scan {
public:
    flow_scan(std::string_view text, std::size_t max_depth, std::size_t max_tokens)
        : text_(text), max_depth_(max_depth), max_tokens_(max_tokens) {}

    std::optional<flow_refusal> run() {
        if (text_.starts_with("\xEF\xBB\xBF")) i_ = 3;  // a byte order mark, which the parser drops
        while (i_ < text_.size()) {
            if (at_line_start_) {
                start_line();
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
    std::size_t max_tokens_;
    std::size_t i_ = 0;
    bool at_line_start_ = true;
    std::size_t depth_ = 0;
    std::size_t tokens_ = 0;       // inside brackets, since the last line break outside them
    bool token_start_ = true;      // the next character may begin a token
    bool in_plain_ = false;        // inside a plain scalar
    bool plain_before_break_ = false;  // the last line outside brackets ended inside one
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
    yaml_mark mark() const { return mark_at_offset(text_, i_); }

    // Inside brackets a plain scalar goes on over a line break, and a ':'
    // on the next line still follows the quoted scalar or bracket before it.
    // Outside them the parser lets go of what it held for a line.
    // Called at a line break (break_at(i_)).
    void next_line() {
        i_ += text_[i_] == '\r' ? std::size_t{2} : std::size_t{1};
        at_line_start_ = true;
        if (depth_ > 0) return;
        plain_before_break_ = in_plain_;
        in_plain_ = false;
        token_start_ = true;
        after_node_ = false;
        tokens_ = 0;
    }

    // Indentation and document markers. Every document is scanned, those
    // after the first too (the parser reads only the first, but where that
    // one ends is not worth telling apart: counting more is safe).
    void start_line() {
        at_line_start_ = false;
        const auto rest = text_.substr(i_);
        const bool marker = rest.size() >= 3 && (rest.starts_with("---") || rest.starts_with("...")) && blank(i_ + 3);
        if (marker && depth_ == 0) {
            i_ += 3;
            return;
        }
        while (i_ < text_.size() && text_[i_] == ' ') ++i_;
        // A plain scalar may go on here (on a line indented further than its
        // parent, which the scan does not tell): a quote or a block scalar's
        // indicator at its start is then text, and taking it for one could
        // hide the brackets after it. Read as text, it hides nothing.
        if (plain_before_break_ && i_ < text_.size() &&
            (text_[i_] == '"' || text_[i_] == '\'' || text_[i_] == '|' || text_[i_] == '>')) {
            (void)plain();
        }
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
            if (++depth_ > max_depth_) {
                return flow_refusal{mark(), "a list or map in brackets nested more than " + std::to_string(max_depth_) +
                                                " deep; expected at most " + std::to_string(max_depth_) +
                                                " levels of [ ] and { } inside each other"};
            }
            return next_token();
        }
        if (c == ']' || c == '}') {
            // What the parser holds is let go at the next line break outside
            // brackets, not here: "[1,…] [1,…]" on one line is held whole.
            auto refused = count_token();
            if (depth_ > 0) --depth_;
            if (refused) return refused;
            ++i_;
            token_start_ = true;
            after_node_ = true;
            return std::nullopt;
        }
        if (c == ',' && (depth_ > 0 || token_start_)) {
            // Outside brackets too a ',' where a token begins is one for the
            // parser ("*a,[" opens a list), not the start of a plain scalar.
            return next_token();
        }
        const bool indicator = (c == '-' || c == '?' || c == ':') &&
                               (blank(i_ + 1) || (depth_ > 0 && is_flow_indicator(text_[i_ + 1])) ||
                                (c == ':' && depth_ > 0 && after_node_));
        if (indicator) return next_token();
        if (!token_start_) return plain();
        if (c == '&' || c == '!' || c == '*') {
            // An anchor or a tag is followed by the node it names; an alias
            // is a whole node. It ends at a flow indicator inside brackets or
            // not (a bracket right after a tag opens the collection it tags).
            if (auto refused = count_token()) return refused;
            while (i_ < text_.size() && !blank(i_) && !is_flow_indicator(text_[i_])) ++i_;
            token_start_ = true;
            after_node_ = false;  // "*a :x" is not "key": value, as after a quoted key
            return std::nullopt;
        }
        if (c == '"' || c == '\'') {
            if (auto refused = count_token()) return refused;
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
        auto refused = count_token();
        in_plain_ = true;
        token_start_ = false;
        after_node_ = false;
        ++i_;
        return refused;
    }

    // A one-character token ([, {, ',', an indicator): counted, then passed.
    std::optional<flow_refusal> next_token() {
        if (auto refused = count_token()) return refused;
        ++i_;
        token_start_ = true;
        after_node_ = false;
        return std::nullopt;
    }

    // One more token of those the parser holds at once, when inside
    // brackets; the refusal is marked where the token begins (i_).
    std::optional<flow_refusal> count_token() {
        if (depth_ == 0 || ++tokens_ <= max_tokens_) return std::nullopt;
        return flow_refusal{mark(), "more than " + std::to_string(max_tokens_) +
                                        " tokens (scalars, brackets, ',' and ':') in lists and maps in brackets "
                                        "that begin on one line; expected at most " +
                                        std::to_string(max_tokens_) + " (write long lists one item per line: - item)"};
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
        token_start_ = true;  // "'a'[" opens a list for the parser
        after_node_ = true;
    }

    // The rest of the header line, then the scalar's lines: those indented
    // at least as far as its content (the first line that is not empty, or
    // an empty one before it with more spaces; with an indentation digit, the
    // parent's indentation plus the digit if that is further), which must be
    // further than the node it belongs to (the column after the line's
    // indentation and any "- "). Where the parser would take a line out of
    // the scalar, so does this; it may end the scalar earlier (counting more).
    void block_scalar() {
        const auto break_before = text_.rfind('\n', i_);
        const std::size_t line_begin = break_before == std::string_view::npos ? 0 : break_before + 1;
        std::size_t node = line_begin;
        while (node < i_ && text_[node] == ' ') ++node;
        while (node + 1 < i_ && text_[node] == '-' && text_[node + 1] == ' ') {
            node += 2;
            while (node < i_ && text_[node] == ' ') ++node;
        }
        const std::size_t parent = node - line_begin;
        std::size_t content = parent + 1;
        for (std::size_t h = i_ + 1; h < text_.size() && !blank(h) && h < i_ + 3; ++h) {
            if (text_[h] >= '1' && text_[h] <= '9') content = std::max(content, parent + static_cast<std::size_t>(text_[h] - '0'));
        }
        while (i_ < text_.size() && !break_at(i_)) ++i_;
        bool first = true;
        while (i_ < text_.size()) {
            next_line();
            std::size_t spaces = 0;
            while (i_ + spaces < text_.size() && text_[i_ + spaces] == ' ') ++spaces;
            const bool empty = i_ + spaces >= text_.size() || break_at(i_ + spaces);
            if (first) {
                content = std::max(content, spaces);  // of the empty lines before the first one too
                first = empty;
            }
            if (!empty && spaces < content) return;  // at_line_start_: the line is read as usual
            i_ += spaces;
            while (i_ < text_.size() && !break_at(i_)) ++i_;
        }
    }
};

}  // namespace

std::optional<flow_refusal> refuse_flow(std::string_view text, std::size_t max_depth, std::size_t max_tokens) {
    return flow_scan(text, max_depth, max_tokens).run();
}

}  // namespace fieldbridge::config
