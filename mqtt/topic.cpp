#include "mqtt/topic.hpp"

#include <cstddef>

#include "mqtt/error.hpp"
#include "mqtt/utf8.hpp"

namespace fieldbridge::mqtt {

std::error_code check_topic_name(std::string_view topic) noexcept {
    if (topic.empty()) return mqtt_errc::invalid_topic;
    if (topic.find_first_of("+#") != std::string_view::npos) return mqtt_errc::invalid_topic;
    return check_mqtt_string(topic);
}

std::error_code check_topic_filter(std::string_view filter) noexcept {
    if (filter.empty()) return mqtt_errc::invalid_topic;
    if (auto ec = check_mqtt_string(filter)) return ec;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = filter.find('/', start);
        const std::string_view level = filter.substr(start, end == std::string_view::npos ? end : end - start);
        if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
            return mqtt_errc::invalid_topic;
        }
        if (level == "#" && end != std::string_view::npos) return mqtt_errc::invalid_topic;
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return {};
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
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

}  // namespace fieldbridge::mqtt
