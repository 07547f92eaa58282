// Topic names and topic filters [MQTT-4.7]: validation and matching. Pure.
#pragma once

#include <string_view>
#include <system_error>

#include "common/topic_filter.hpp"

namespace fieldbridge::mqtt {

// A name a PUBLISH may carry: non-empty [MQTT-4.7.3-1], no wildcard
// characters [MQTT-3.3.2-2], a valid MQTT string.
std::error_code check_topic_name(std::string_view topic) noexcept;

// A name the client publishes to: check_topic_name, and nothing a server
// refuses although the codec takes it: no control character or
// non-character (refused_character: mosquitto closes the connection over
// them), not beginning with $SYS or $share (reserved_topic:
// common/reserved_topic.hpp). The decoder takes such names from a broker.
std::error_code check_outgoing_topic(std::string_view topic) noexcept;

// A filter a SUBSCRIBE may carry: non-empty, '#' only as the last level on
// its own [MQTT-4.7.1-2], '+' only as a whole level [MQTT-4.7.1-3].
std::error_code check_topic_filter(std::string_view filter) noexcept;

// Matching a topic against a filter: common/topic_filter.hpp.
using fieldbridge::topic_matches;

}  // namespace fieldbridge::mqtt
