// A status snapshot made by hand, as the app would fill it: one bus, one
// online device, figures in every part. Shared by the status, summary and
// metrics report tests.
#pragma once

#include <chrono>

#include "gateway/status_report.hpp"

namespace fieldbridge::gateway {

using namespace std::chrono_literals;
using system_time = std::chrono::system_clock::time_point;

inline const system_time t0{std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + 5h};

inline modbus::device_health online_since(system_time t) {
    modbus::device_health h;
    modbus::poll_result good{"meter", t, {modbus::sample{0, {1}, {true, {}}}}, {}, {}, false, {}};
    h.record(good);
    return h;
}

inline status_snapshot snapshot() {
    status_snapshot s;
    s.version = "1.2.3";
    s.started = t0;
    s.now = t0 + 100s;
    s.uptime = 100s;
    s.configuration = {"/etc/fieldbridge/fieldbridge.yaml", 2, "bad line"};
    s.commands.received = 7;
    s.commands.refused = 3;
    s.commands.replies_dropped = 1;
    s.held_commands = 4;
    s.pending_replies = 5;
    s.broker.host = "broker.local";
    s.broker.port = 8883;
    s.broker.tls = true;
    s.broker.client_id = "gw1";
    s.broker.state = mqtt::link_state::connected;
    s.broker.connected_since = t0 + 1s;
    s.broker.client.connects = 3;
    s.broker.client.published = 40;
    s.queue.path = "/var/lib/fieldbridge/queue.db";
    s.queue.stats.rows = 12;
    s.queue.stats.oldest = t0 + 90s;
    s.queue.counters.commits = 50;
    s.queue.counters.dropped_by_rows = 6;
    s.queue.forwarded.stored = 30;
    s.queue.forwarded.delivered = 18;
    modbus::bus_counters line;
    line.polls = 9;
    line.busy = 250ms;
    line.running = 1000ms;
    s.buses.push_back({"line", true, line});
    s.buses_stopping = {"old"};
    modbus::device_counters meter;
    meter.requests = 11;
    meter.timeouts = 2;
    meter.last_poll_duration = 40ms;
    s.devices.push_back({"meter", "line", 7, 1000ms, online_since(t0 + 99s), meter, {}});
    return s;
}

}  // namespace fieldbridge::gateway
