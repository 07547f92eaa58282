// One topic, one use: the topics the gateway publishes (point values,
// device messages, availability, its status, command replies) and the ones
// it takes commands on must not meet. A value published on a command topic
// comes back to the gateway as a command (one point's reading written into
// another); two kinds of message on one retained topic overwrite each other.
// Pure; validate() runs it after the point topics were found unique.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/config_error.hpp"
#include "config/diagnostic_list.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

struct topic_owner {
    const device* d;
    const point* p;
};
// Every point's topic, each once (validate refuses a second).
using point_topic_map = std::map<std::string, topic_owner, std::less<>>;

// Appends a diagnostic for every topic used twice across those uses.
void check_topic_roles(const gateway& cfg, const point_topic_map& points, diagnostic_list& out);

}  // namespace fieldbridge::config
