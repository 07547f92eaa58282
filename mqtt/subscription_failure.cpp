#include "mqtt/subscription_failure.hpp"

#include <algorithm>
#include <cstdio>

#include "common/shortened.hpp"
#include "mqtt/properties.hpp"

namespace fieldbridge::mqtt {
namespace {

constexpr std::size_t longest_shown = 128;

std::string code_text(std::uint8_t code, protocol_version version) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02X", code);
    if (version != protocol_version::v5) return b;
    return std::string(b) + " " + reason_code_error(code).message();
}

std::string quoted(const std::string& filter) { return "'" + shortened(filter, longest_shown) + "'"; }

// At most `listed` items (at least one), then "and N more".
class listing {
public:
    explicit listing(std::size_t listed) : listed_(std::max<std::size_t>(listed, 1)) {}
    void add(std::string text) {
        if (named_.size() < listed_) named_.push_back(std::move(text));
        ++total_;
    }
    // Each refused filter with its code, or "filter N" past the filters.
    void add_refused(const std::vector<std::string>& filters, const std::vector<std::uint8_t>& codes,
                     protocol_version version) {
        for (std::size_t i = 0; i < codes.size(); ++i) {
            if (!refusal(codes[i])) continue;
            const auto code = code_text(codes[i], version);
            add(i < filters.size() ? quoted(filters[i]) + " (" + code + ")"
                                   : "filter " + std::to_string(i + 1) + " (" + code + ")");
        }
    }
    std::size_t total() const { return total_; }
    std::string text() const {
        std::string list;
        for (const auto& n : named_) list += (list.empty() ? "" : ", ") + n;
        if (total_ > named_.size()) list += " and " + std::to_string(total_ - named_.size()) + " more";
        return list.empty() ? "no filter" : list;
    }

private:
    std::size_t listed_;
    std::vector<std::string> named_;
    std::size_t total_ = 0;
};

}  // namespace

std::string subscription_failure(const action::subscribe_completed& c, protocol_version version,
                                 std::size_t listed) {
    listing list(listed);  // each filter with what is known of it
    const bool answered = !c.return_codes.empty();
    if (answered) list.add_refused(c.filters, c.return_codes, version);
    if (!answered || list.total() == 0) {
        // Never answered (too large, not encodable, the client stopped), or a
        // refusal without a refused code to show.
        for (const auto& f : c.filters) list.add(quoted(f));
    }
    if (answered && c.error == make_error_code(mqtt_errc::subscription_refused)) {
        return "the broker refused the subscription to " + list.text();
    }
    return "cannot subscribe to " + list.text() + ": " + c.error.message();
}

std::string unsubscribe_failure(const action::unsubscribe_refused& r, std::size_t listed) {
    listing list(listed);
    list.add_refused(r.filters, r.reason_codes, protocol_version::v5);
    return "the broker refused to unsubscribe from " + list.text() + "; their messages may go on arriving";
}

}  // namespace fieldbridge::mqtt
