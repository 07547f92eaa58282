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

}  // namespace

std::string subscription_failure(const action::subscribe_completed& c, protocol_version version,
                                 std::size_t listed) {
    listed = std::max<std::size_t>(listed, 1);
    std::vector<std::string> named;  // each filter with what is known of it
    std::size_t total = 0;
    const auto add = [&](std::string text) {
        if (named.size() < listed) named.push_back(std::move(text));
        ++total;
    };
    const bool answered = !c.return_codes.empty();
    if (answered) {
        for (std::size_t i = 0; i < c.return_codes.size(); ++i) {
            if (!refusal(c.return_codes[i])) continue;
            const auto code = code_text(c.return_codes[i], version);
            add(i < c.filters.size() ? quoted(c.filters[i]) + " (" + code + ")"
                                     : "filter " + std::to_string(i + 1) + " (" + code + ")");
        }
    }
    if (!answered || total == 0) {
        // Never answered (too large, not encodable, the client stopped), or a
        // refusal without a refused code to show.
        for (const auto& f : c.filters) add(quoted(f));
    }
    std::string list;
    for (const auto& n : named) list += (list.empty() ? "" : ", ") + n;
    if (total > named.size()) list += " and " + std::to_string(total - named.size()) + " more";
    if (list.empty()) list = "no filter";
    if (answered && c.error == make_error_code(mqtt_errc::subscription_refused)) {
        return "the broker refused the subscription to " + list;
    }
    return "cannot subscribe to " + list + ": " + c.error.message();
}

}  // namespace fieldbridge::mqtt
