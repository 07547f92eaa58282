// Talking to systemd when it runs us (Type=notify): readiness, status lines
// and the watchdog. Every call is a no-op when NOTIFY_SOCKET is not set, so
// the same binary runs from a shell. Thread-safe (sd_notify is).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace fieldbridge::gateway {

// READY=1 with a STATUS= line.
void notify_ready(std::string_view status);
// STATUS= line shown by `systemctl status`.
void notify_status(std::string_view status);
// STOPPING=1.
void notify_stopping();
// WATCHDOG=1: the core loop is alive.
void notify_watchdog();
// Half the watchdog interval systemd expects pings at (WatchdogSec=), or
// nullopt when no watchdog is configured for this process.
std::optional<std::chrono::microseconds> watchdog_ping_interval();

}  // namespace fieldbridge::gateway
