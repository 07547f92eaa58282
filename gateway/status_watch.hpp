// `fieldbridge status --watch`: the status view, refreshed every interval
// until the operator quits.
//
// On a terminal the screen is redrawn in place and the lines that changed
// since the last frame are shown in bold; `q` (the terminal is put in
// non-canonical, no-echo mode for the time of the watch and restored after)
// or Ctrl-C quits. When stdout is not a terminal each frame is printed in
// full, plainly, after a blank line, and SIGINT or SIGTERM ends the watch.
// A service that cannot be reached is said so in the frame, and the watch
// goes on: it sees the service come back.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace fieldbridge::gateway {

// The service's answer to "status", or why there is none: `unreachable`
// with "cannot reach the service at <socket>: <reason>", or "the service
// answered: <error>" for any other answer. For `status` and `status --watch`.
struct status_fetch {
    std::optional<nlohmann::json> status;
    bool unreachable = false;
    std::string why;
};
status_fetch fetch_status(const std::filesystem::path& socket);

// 0 once the operator quit (q, SIGINT, SIGTERM); 71 (EX_OSERR) when the
// terminal or signals cannot be set up.
int watch_status(const std::filesystem::path& socket, std::chrono::milliseconds interval);

}  // namespace fieldbridge::gateway
