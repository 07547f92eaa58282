#include "mqtt/subscription_failure.hpp"

#include <cstdio>

namespace fieldbridge::mqtt {
namespace {

// 3.1.1 knows 0x80 only; 5.0 refuses with any reason code of 0x80 or more.
bool refusal(std::uint8_t code) { return code >= 0x80; }

std::string hex(std::uint8_t code) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02X", code);
    return b;
}

}  // namespace

std::string subscription_failure(const action::subscribe_completed& c, std::size_t listed) {
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
            const auto code = hex(c.return_codes[i]);
            add(i < c.filters.size() ? "'" + c.filters[i] + "' (" + code + ")" : "filter " + std::to_string(i + 1) + " (" + code + ")");
        }
    }
    if (!answered || total == 0) {
        // Never answered (too large, not encodable, the client stopped), or a
        // refusal without a refused code to show.
        for (const auto& f : c.filters) add("'" + f + "'");
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
