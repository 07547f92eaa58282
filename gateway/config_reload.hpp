// What a reload would switch to: the configuration file read and checked
// again, or why the running configuration stays. The broker, store, control
// and availability.gateway_topic settings need a restart (needs_restart,
// asked where the running configuration is); a file that does not validate
// is refused with its first diagnostic (all are logged).
#pragma once

#include <optional>
#include <string>

#include "config/model.hpp"

namespace fieldbridge::gateway {

struct reload_candidate {
    std::optional<config::gateway> next;
    std::string refusal;  // why not, when there is no next
};

// The file read and checked (each diagnostic logged); thread-safe: it
// touches nothing of the running service.
reload_candidate load_for_reload(const std::string& path);

// Whether `next` can replace `running` without a restart; why not, if not.
std::optional<std::string> needs_restart(const config::gateway& running, const config::gateway& next);

}  // namespace fieldbridge::gateway
