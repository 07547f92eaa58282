// Process-wide logging setup for the fieldbridge binary: one logger, safe
// to use from every thread. Under systemd (stderr is the journal's stream)
// each line goes to the journal as an entry of its own with structured
// fields (journal_fields: PRIORITY, and BUS, DEVICE, POINT from the thread's
// log_context), so that `journalctl -u fieldbridge DEVICE=meter1` works;
// should the journal refuse an entry, the line goes to stderr with a syslog
// priority prefix ("<4>") instead. Elsewhere lines go to stderr with an
// ISO 8601 timestamp and the level name. Call once, before other threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/sink.h>

namespace fieldbridge::gateway {

// level: trace, debug, info, warn, error, critical or off.
void setup_logging(const std::string& level);

// Whether stderr is connected to the systemd journal (JOURNAL_STREAM).
bool stderr_is_journal();

// Sends one journal entry given as "NAME=value" fields; 0, or a negative
// errno when the journal did not take it (sd_journal_sendv's contract).
using journal_sender = std::function<int(const std::vector<std::string>& fields)>;

// The sink that writes each line as a journal entry through `send`
// (sd_journal_sendv when not given).
std::shared_ptr<spdlog::sinks::sink> make_journal_sink(journal_sender send = {});

}  // namespace fieldbridge::gateway
