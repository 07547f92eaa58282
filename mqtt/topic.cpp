#include "mqtt/topic.hpp"

#include <cstddef>

#include "common/reserved_topic.hpp"
#include "common/utf8.hpp"
#include "mqtt/error.hpp"
#include "mqtt/utf8.hpp"

namespace fieldbridge::mqtt {

std::error_code check_topic_name(std::string_view topic) noexcept {
    if (topic.empty()) return mqtt_errc::invalid_topic;
    if (topic.find_first_of("+#") != std::string_view::npos) return mqtt_errc::invalid_topic;
    return check_mqtt_string(topic);
}

std::error_code check_outgoing_topic(std::string_view topic) noexcept {
    if (auto ec = check_topic_name(topic)) return ec;  // well-formed UTF-8 already
    if (find_refused_code_point(topic)) return mqtt_errc::refused_character;
    if (!reserved_topic_prefix(topic).empty()) return mqtt_errc::reserved_topic;
    return {};
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

}  // namespace fieldbridge::mqtt
