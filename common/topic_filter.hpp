// Whether an MQTT topic filter matches a topic name [MQTT-4.7]: the
// client's delivery to its subscribers and the configuration's check that
// no topic the gateway publishes comes back to it as a command use the same
// rule. Pure, header-only.
#pragma once

#include <cstddef>
#include <string_view>

namespace fieldbridge {

// True when `topic` matches `filter`; topics starting with '$' are not
// matched by a filter starting with a wildcard [MQTT-4.7.2-1].
inline bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
    if (!topic.empty() && topic.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    std::size_t f = 0;
    std::size_t t = 0;
    while (true) {
        const std::size_t f_end = filter.find('/', f);
        const std::string_view f_level = filter.substr(f, f_end == std::string_view::npos ? f_end : f_end - f);
        if (f_level == "#") return true;  // also matches the parent level: "a/#" matches "a"
        if (t > topic.size()) return false;
        const std::size_t t_end = topic.find('/', t);
        const std::string_view t_level = topic.substr(t, t_end == std::string_view::npos ? t_end : t_end - t);
        if (f_level != "+" && f_level != t_level) return false;
        const bool f_last = f_end == std::string_view::npos;
        const bool t_last = t_end == std::string_view::npos;
        if (f_last || t_last) {
            if (f_last && t_last) return true;
            // "a/#" matches "a": the filter continues with exactly "#".
            return t_last && filter.substr(f_end + 1) == "#";
        }
        f = f_end + 1;
        t = t_end + 1;
    }
}

}  // namespace fieldbridge
