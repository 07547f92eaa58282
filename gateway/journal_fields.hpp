// journal_fields: the fields of one journal entry for a log line, as the
// journal's native protocol takes them ("NAME=value"): MESSAGE, PRIORITY
// (syslog level), SYSLOG_IDENTIFIER, and BUS, DEVICE, POINT from the line's
// log_context where they are set, so that `journalctl -u fieldbridge
// DEVICE=meter1` selects a device's lines. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/log_context.hpp"

namespace fieldbridge::gateway {

// syslog priorities (sd-daemon(3)): 2 crit, 3 err, 4 warning, 6 info, 7 debug.
enum class log_priority : int { critical = 2, error = 3, warning = 4, info = 6, debug = 7 };

std::vector<std::string> journal_fields(log_priority priority, std::string_view message,
                                        const log_context& context,
                                        std::string_view identifier = "fieldbridge");

}  // namespace fieldbridge::gateway
