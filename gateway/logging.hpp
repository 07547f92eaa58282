// Process-wide logging setup for the fieldbridge binary: one stderr logger.
// Under systemd (stderr is the journal's stream) each line carries a
// syslog priority prefix ("<4>") and no timestamp of its own, so that
// journalctl shows levels and filters with -p; elsewhere lines carry an
// ISO 8601 timestamp and the level name. Call once, before other threads.
#pragma once

#include <string>

namespace fieldbridge::gateway {

// level: trace, debug, info, warn, error, critical or off.
void setup_logging(const std::string& level);

// Whether stderr is connected to the systemd journal (JOURNAL_STREAM).
bool stderr_is_journal();

}  // namespace fieldbridge::gateway
