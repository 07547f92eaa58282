// What `fieldbridge status` and `fieldbridge points` show: JSON built from a
// plain snapshot of the service, so that the report's shape is checked in a
// test with a snapshot made by hand. The app fills the snapshot on the core
// thread; the functions here are pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "gateway/commands.hpp"
#include "gateway/forwarder_stats.hpp"
#include "gateway/histogram.hpp"
#include "gateway/point_mapper.hpp"
#include "gateway/store/queue_stats.hpp"
#include "mqtt/client_stats.hpp"

namespace fieldbridge::gateway {

// "disconnected", "connecting", "connected".
const char* to_string(mqtt::link_state s);

struct status_snapshot {
    using system_time = std::chrono::system_clock::time_point;

    std::string version;
    system_time now;
    system_time started;
    std::chrono::duration<double> uptime{};  // steady clock, since the service started

    struct configuration_part {
        std::string path;
        std::uint64_t reloads = 0;
        std::string last_reload_error;
        std::uint64_t reload_failures = 0;  // reloads refused (the running configuration stayed)
    } configuration;

    command_counters commands;
    std::size_t held_commands = 0;
    std::size_t pending_replies = 0;

    struct broker_part {
        // As configured; shown while the client has no address in use.
        std::string host;
        std::uint16_t port = 0;
        bool tls = false;
        bool v5 = false;
        std::string client_id;
        mqtt::link_state state = mqtt::link_state::disconnected;
        std::optional<system_time> connected_since;
        mqtt::client_stats client;
    } broker;

    struct queue_part {
        std::string path;
        store::queue_stats stats;
        store::counters counters;
        forwarder_stats forwarded;
        // From a QoS 1/2 message's hand-over to the MQTT client to the
        // broker's acknowledgement (PUBACK, PUBCOMP).
        histogram ack_latency;
    } queue;

    // publish.format: sparkplug: the edge node's session.
    struct sparkplug_part {
        std::string group_id;
        std::string edge_node_id;
        unsigned bd_seq = 0;
        bool born = false;          // NBIRTH published on the connection up now
        std::string primary_host;   // sparkplug.primary_host_id; empty: none
        bool primary_host_online = false;
    };
    std::optional<sparkplug_part> sparkplug;

    struct bus_part {
        std::string name;
        bool started = false;  // false while its predecessor finishes a request
        modbus::bus_counters counters;
    };
    std::vector<bus_part> buses;
    std::vector<std::string> buses_stopping;

    struct device_part {
        std::string name;
        std::string bus;
        unsigned unit_id = 0;
        std::chrono::milliseconds poll_interval{};
        modbus::device_health health;
        modbus::device_counters counters;  // zero when no bus polls it
        histogram poll_duration;
    };
    std::vector<device_part> devices;

    // The process as the kernel sees it (/proc); zero where unreadable. Filled
    // for the metrics endpoint only (the status and summary do not show it).
    struct process_part {
        std::uint64_t resident_bytes = 0;
        std::uint64_t open_fds = 0;
        double cpu_seconds = 0.0;  // user + system
    } process;
};

// The `status` answer: version, config, commands, started, uptime_s,
// healthy (broker connected and no device offline), broker, queue, buses,
// buses_stopping, devices; sparkplug with that format.
nlohmann::json status_report(const status_snapshot& s);

// The `points` answer comes in pages: a request names where its page starts
// ("from", the index of the first row among all rows of the request's
// device filter) and how many rows it takes at most ("limit", 1 to
// points_page_rows, that bound when absent). A client asks again from the
// end of a full page; a shorter page is the last. So the service never holds
// more than a page however many points it polls.
inline constexpr std::size_t points_page_rows = 500;

struct points_query {
    std::string device;  // empty: every device
    std::size_t from = 0;
    std::size_t limit = points_page_rows;
};

// The query of a `points` request: "device" (a string), "from" and "limit"
// (non-negative integers; a limit of 0 or above the bound is refused).
// Throws std::runtime_error saying which member is wrong.
points_query points_query_of(const nlohmann::json& request);

// One page of the `points` answer: a row per point (of query.device when it
// is not empty) with its latest reading as the mapper holds it, rows
// query.from to query.from + query.limit. Throws std::runtime_error for a
// device that is not in the configuration.
nlohmann::json points_report(const config::gateway& cfg, const point_mapper& mapper,
                             const points_query& query, std::chrono::system_clock::time_point now);

}  // namespace fieldbridge::gateway
