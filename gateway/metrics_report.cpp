#include "gateway/metrics_report.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <utility>

namespace fieldbridge::gateway {
namespace {

using label = std::pair<std::string_view, std::string_view>;

// Writes the exposition text: families, then their samples.
class exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    void sample(std::string_view name, std::initializer_list<label> labels, double value) {
        sample_start(name, labels);
        number(value);
        out_ += '\n';
    }
    void sample(std::string_view name, std::initializer_list<label> labels, std::uint64_t value) {
        sample_start(name, labels);
        out_ += std::to_string(value);
        out_ += '\n';
    }

    // A family with one sample and no labels.
    template <class T>
    void single(std::string_view name, std::string_view type, std::string_view help, T value) {
        family(name, type, help);
        sample(name, {}, value);
    }

    // A histogram's _bucket, _sum and _count samples under `name`.
    void histogram_samples(std::string_view name, std::initializer_list<label> labels, const histogram& h) {
        const std::string bucket = std::string(name) + "_bucket";
        for (std::size_t i = 0; i <= histogram::bounds.size(); ++i) {
            std::string le = i < histogram::bounds.size() ? format(histogram::bounds[i]) : "+Inf";
            sample_start(bucket, labels, label{"le", le});
            out_ += std::to_string(h.at_or_below(i));
            out_ += '\n';
        }
        sample(std::string(name) + "_sum", labels, h.sum_seconds());
        sample(std::string(name) + "_count", labels, h.count());
    }

    std::string take() { return std::move(out_); }

private:
    static std::string format(double v) {
        if (std::isnan(v))
            return "NaN";
        if (std::isinf(v))
            return v > 0 ? "+Inf" : "-Inf";
        std::array<char, 32> buffer{};
        const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
        return ec == std::errc() ? std::string(buffer.data(), end) : "NaN";
    }
    void number(double v) { out_ += format(v); }

    void sample_start(std::string_view name, std::initializer_list<label> labels,
                      std::optional<label> extra = {}) {
        out_ += name;
        if (labels.size() > 0 || extra) {
            out_ += '{';
            bool first = true;
            const auto put = [&](const label& l) {
                if (!first)
                    out_ += ',';
                first = false;
                out_ += l.first;
                out_ += "=\"";
                escape(l.second);
                out_ += '"';
            };
            for (const auto& l : labels)
                put(l);
            if (extra)
                put(*extra);
            out_ += '}';
        }
        out_ += ' ';
    }

    // A label value: backslash, double quote and line feed escaped.
    void escape(std::string_view v) {
        for (const char c : v) {
            switch (c) {
                case '\\':
                    out_ += "\\\\";
                    break;
                case '"':
                    out_ += "\\\"";
                    break;
                case '\n':
                    out_ += "\\n";
                    break;
                default:
                    out_ += c;
            }
        }
    }

    std::string out_;
};

double seconds_since_epoch(std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void process_families(exposition& e, const status_snapshot& s) {
    e.family("fieldbridge_build_info", "gauge", "The running version; always 1.");
    e.sample("fieldbridge_build_info", {{"version", s.version}}, std::uint64_t{1});
    e.single("process_start_time_seconds", "gauge",
             "When the service started, in seconds since the Unix epoch.", seconds_since_epoch(s.started));
    e.single("process_resident_memory_bytes", "gauge", "Resident memory of the process.",
             s.process.resident_bytes);
    e.single("process_open_fds", "gauge", "File descriptors the process holds open.", s.process.open_fds);
    e.single("process_cpu_seconds_total", "counter", "CPU time the process used, user and system.",
             s.process.cpu_seconds);
    e.family("fieldbridge_config_reloads_total", "counter",
             "Configuration reloads, applied or refused (the running configuration stayed).");
    e.sample("fieldbridge_config_reloads_total", {{"result", "applied"}}, s.configuration.reloads);
    e.sample("fieldbridge_config_reloads_total", {{"result", "refused"}}, s.configuration.reload_failures);
}

void broker_families(exposition& e, const status_snapshot& s) {
    const auto& c = s.broker.client;
    e.single("fieldbridge_broker_up", "gauge", "1 while the MQTT link is up (CONNACK accepted), else 0.",
             std::uint64_t{s.broker.state == mqtt::link_state::connected ? 1u : 0u});
    e.single("fieldbridge_broker_connects_total", "counter", "MQTT links established (CONNACK accepted).",
             c.connects);
    e.single("fieldbridge_broker_disconnects_total", "counter", "MQTT links lost or closed after a CONNACK.",
             c.disconnects);
    e.single("fieldbridge_broker_failovers_total", "counter",
             "Moves to the next broker address after a failed attempt.", c.failovers);
    e.single("fieldbridge_mqtt_published_total", "counter",
             "Messages handed to the MQTT client: point values, availability, command replies.", c.published);
    e.single("fieldbridge_mqtt_acknowledged_total", "counter",
             "Messages the broker acknowledged (QoS 0: written to the link).", c.acknowledged);
    e.single("fieldbridge_mqtt_refused_total", "counter",
             "Messages the broker refused (MQTT 5.0 reason code).", c.refused);
    e.single("fieldbridge_mqtt_received_total", "counter",
             "Messages received on the gateway's subscriptions.", c.received);
    e.single("fieldbridge_mqtt_queued_messages", "gauge",
             "Messages in the client waiting for the link or the window.",
             static_cast<std::uint64_t>(c.queued));
    e.single("fieldbridge_mqtt_inflight_messages", "gauge", "QoS 1/2 messages sent and not yet acknowledged.",
             static_cast<std::uint64_t>(c.inflight));
    e.family("fieldbridge_publish_ack_seconds", "histogram",
             "From a queued QoS 1/2 message's hand-over to the MQTT client to the broker's acknowledgement.");
    e.histogram_samples("fieldbridge_publish_ack_seconds", {}, s.queue.ack_latency);
}

void queue_families(exposition& e, const status_snapshot& s) {
    const auto& q = s.queue.stats;
    const auto& qc = s.queue.counters;
    const auto& f = s.queue.forwarded;
    e.single("fieldbridge_queue_messages", "gauge", "Messages in the durable queue.", q.rows);
    e.single("fieldbridge_queue_bytes", "gauge", "Topic and payload bytes in the durable queue.", q.bytes);
    e.family("fieldbridge_queue_oldest_age_seconds", "gauge",
             "Age of the oldest queued message; 0 when the queue is empty.");
    e.sample("fieldbridge_queue_oldest_age_seconds", {},
             q.oldest ? std::max(0.0, std::chrono::duration<double>(s.now - *q.oldest).count()) : 0.0);
    e.single("fieldbridge_queue_stored_total", "counter", "Messages stored in the durable queue.", f.stored);
    e.single("fieldbridge_queue_delivered_total", "counter",
             "Queued messages the broker acknowledged (then deleted).", f.delivered);
    e.family("fieldbridge_queue_dropped_total", "counter", "Messages lost to the queue, by reason.");
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "max_messages"}}, qc.dropped_by_rows);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "max_megabytes"}}, qc.dropped_by_bytes);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "max_age"}}, qc.dropped_by_age);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "refused"}}, f.refused);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "refused_by_broker"}}, f.refused_by_broker);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "unsendable"}}, f.unsendable);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "commit_failed"}}, qc.lost_uncommitted);
    e.sample("fieldbridge_queue_dropped_total", {{"reason", "qos0_link_lost"}}, f.qos0_lost);
    e.single("fieldbridge_queue_direct_total", "counter",
             "QoS 0 messages handed to the MQTT client without the store (store.qos0: direct).", f.direct);
    e.single("fieldbridge_queue_historical_total", "counter",
             "Messages delivered marked historical, behind the live ones (store.order: fresh_first).", f.historical);
    e.single("fieldbridge_queue_commits_total", "counter",
             "Store commits (each one an fsync with durability full).", qc.commits);
    e.single("fieldbridge_queue_commit_failures_total", "counter",
             "Flow-state commits that failed (nothing was sent after them).", f.ledger_errors);
    e.single("fieldbridge_queue_disk_full_total", "counter",
             "Batches the store could not write for a full disk.", qc.disk_full);
}

void bus_families(exposition& e, const status_snapshot& s) {
    e.family("fieldbridge_bus_utilisation_ratio", "gauge",
             "Fraction of the time since the bus started spent in requests (waiting for answers included).");
    for (const auto& b : s.buses)
        e.sample("fieldbridge_bus_utilisation_ratio", {{"bus", b.name}}, b.counters.utilisation());
    const std::pair<const char*, std::uint64_t modbus::bus_counters::*> counters[] = {
        {"fieldbridge_bus_polls_total", &modbus::bus_counters::polls},
        {"fieldbridge_bus_requests_total", &modbus::bus_counters::requests},
        {"fieldbridge_bus_request_failures_total", &modbus::bus_counters::failures},
        {"fieldbridge_bus_timeouts_total", &modbus::bus_counters::timeouts},
        {"fieldbridge_bus_exceptions_total", &modbus::bus_counters::exceptions},
        {"fieldbridge_bus_reconnects_total", &modbus::bus_counters::reconnects},
    };
    const char* helps[] = {"Device polls completed on the bus.",
                           "Modbus requests sent on the bus, retries included.",
                           "Requests on the bus that failed: timeouts, exceptions, bad answers, link down.",
                           "Requests on the bus that timed out.",
                           "Modbus exception answers on the bus.",
                           "Connections of the bus opened again after the first."};
    for (std::size_t i = 0; i < std::size(counters); ++i) {
        e.family(counters[i].first, "counter", helps[i]);
        for (const auto& b : s.buses)
            e.sample(counters[i].first, {{"bus", b.name}}, b.counters.*counters[i].second);
    }
}

void device_families(exposition& e, const status_snapshot& s) {
    e.family("fieldbridge_device_up", "gauge",
             "1 while the device is online, 0 while offline or not yet polled.");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_up", {{"device", d.name}, {"bus", d.bus}},
                 std::uint64_t{d.health.state() == modbus::device_state::online ? 1u : 0u});
    }
    e.family("fieldbridge_device_state", "gauge",
             "The device's state: 1 for the state it is in, 0 for the others.");
    for (const auto& d : s.devices) {
        for (const auto state :
             {modbus::device_state::unknown, modbus::device_state::online, modbus::device_state::offline}) {
            e.sample("fieldbridge_device_state",
                     {{"device", d.name}, {"bus", d.bus}, {"state", to_string(state)}},
                     std::uint64_t{d.health.state() == state ? 1u : 0u});
        }
    }
    e.family("fieldbridge_device_polls_total", "counter", "Polls of the device completed.");
    for (const auto& d : s.devices)
        e.sample("fieldbridge_device_polls_total", {{"device", d.name}, {"bus", d.bus}}, d.health.polls);
    e.family("fieldbridge_device_failed_polls_total", "counter", "Polls of the device that read no point.");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_failed_polls_total", {{"device", d.name}, {"bus", d.bus}},
                 d.health.failed_polls);
    }
    e.family("fieldbridge_device_requests_total", "counter",
             "Modbus requests sent to the device, retries included.");
    for (const auto& d : s.devices)
        e.sample("fieldbridge_device_requests_total", {{"device", d.name}, {"bus", d.bus}},
                 d.counters.requests);
    e.family("fieldbridge_device_retries_total", "counter",
             "Requests to the device repeated after a failure.");
    for (const auto& d : s.devices)
        e.sample("fieldbridge_device_retries_total", {{"device", d.name}, {"bus", d.bus}},
                 d.counters.retries);
    e.family("fieldbridge_device_request_failures_total", "counter",
             "Requests to the device that failed, by reason: timeout, exception (a Modbus exception answer), "
             "other (CRC, malformed answer, link down).");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_request_failures_total",
                 {{"device", d.name}, {"bus", d.bus}, {"reason", "timeout"}}, d.counters.timeouts);
        e.sample("fieldbridge_device_request_failures_total",
                 {{"device", d.name}, {"bus", d.bus}, {"reason", "exception"}}, d.counters.exceptions);
        e.sample("fieldbridge_device_request_failures_total",
                 {{"device", d.name}, {"bus", d.bus}, {"reason", "other"}}, d.counters.other_errors);
    }
    e.family("fieldbridge_device_missed_polls_total", "counter",
             "Poll slots of the device skipped because the bus ran late.");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_missed_polls_total", {{"device", d.name}, {"bus", d.bus}},
                 d.counters.missed_polls);
    }
    e.family("fieldbridge_device_held_reads", "gauge",
             "Block reads of the device held back: no answer in its last polls while it answered its others; "
             "asked again every offline_poll_interval.");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_held_reads", {{"device", d.name}, {"bus", d.bus}},
                 static_cast<std::uint64_t>(d.counters.held_reads.size()));
    }
    e.family("fieldbridge_device_last_success_timestamp_seconds", "gauge",
             "When the device last answered a request, in seconds since the Unix epoch (no sample before it "
             "did).");
    for (const auto& d : s.devices) {
        if (!d.counters.last_success)
            continue;
        e.sample("fieldbridge_device_last_success_timestamp_seconds", {{"device", d.name}, {"bus", d.bus}},
                 seconds_since_epoch(*d.counters.last_success));
    }
    e.family("fieldbridge_device_poll_interval_seconds", "gauge", "The device's configured poll interval.");
    for (const auto& d : s.devices) {
        e.sample("fieldbridge_device_poll_interval_seconds", {{"device", d.name}, {"bus", d.bus}},
                 std::chrono::duration<double>(d.poll_interval).count());
    }
    e.family("fieldbridge_device_poll_duration_seconds", "histogram",
             "How long a poll of the device took, from its first request to its last answer.");
    for (const auto& d : s.devices) {
        e.histogram_samples("fieldbridge_device_poll_duration_seconds", {{"device", d.name}, {"bus", d.bus}},
                            d.poll_duration);
    }
}

void command_families(exposition& e, const status_snapshot& s) {
    const auto& c = s.commands;
    e.single("fieldbridge_commands_received_total", "counter", "Messages received on command topics.",
             c.received);
    e.single("fieldbridge_commands_refused_total", "counter",
             "Commands answered with an error before a write: invalid, not writable, device offline, limits.",
             c.refused);
    e.family("fieldbridge_commands_dropped_total", "counter", "Commands dropped unanswered, by reason.");
    e.sample("fieldbridge_commands_dropped_total", {{"reason", "topic_too_long"}}, c.topic_too_long);
    e.sample("fieldbridge_commands_dropped_total", {{"reason", "retained"}}, c.retained_ignored);
    e.family("fieldbridge_command_limit_hits_total", "counter",
             "Commands refused at a bound: payload size, reply address size, held commands, writes queued on a bus.");
    e.sample("fieldbridge_command_limit_hits_total", {{"limit", "payload_size"}}, c.payload_too_large);
    e.sample("fieldbridge_command_limit_hits_total", {{"limit", "reply_address_size"}},
             c.reply_address_too_long);
    e.sample("fieldbridge_command_limit_hits_total", {{"limit", "held_commands"}}, c.held_full);
    e.sample("fieldbridge_command_limit_hits_total", {{"limit", "bus_write_queue"}}, c.bus_queue_full);
    e.family("fieldbridge_command_writes_total", "counter",
             "Point writes commands asked for, by outcome: ok (written and read back) or failed.");
    e.sample("fieldbridge_command_writes_total", {{"outcome", "ok"}}, c.writes_ok);
    e.sample("fieldbridge_command_writes_total", {{"outcome", "failed"}}, c.writes_failed);
    e.single("fieldbridge_command_replies_dropped_total", "counter",
             "Command replies not sent because too many already waited for the broker.", c.replies_dropped);
    e.family("fieldbridge_command_reply_topics_refused_total", "counter",
             "Reply topics refused because a reply there would come back as a command, or no reply can go there.");
    e.sample("fieldbridge_command_reply_topics_refused_total", {{"topic", "response_topic"}},
             c.response_topic_refused);
    e.sample("fieldbridge_command_reply_topics_refused_total", {{"topic", "reply"}}, c.replies_looping);
    e.single("fieldbridge_commands_held", "gauge", "Commands waiting for their offline device to come back.",
             static_cast<std::uint64_t>(s.held_commands));
}

}  // namespace

std::string metrics_report(const status_snapshot& s) {
    exposition e;
    process_families(e, s);
    broker_families(e, s);
    queue_families(e, s);
    bus_families(e, s);
    device_families(e, s);
    command_families(e, s);
    return e.take();
}

std::vector<std::string> metric_families() {
    std::vector<std::string> names;
    std::istringstream lines(metrics_report(status_snapshot{}));
    std::string line;
    while (std::getline(lines, line)) {
        constexpr std::string_view type = "# TYPE ";
        if (line.rfind(type, 0) != 0)
            continue;
        names.push_back(line.substr(type.size(), line.find(' ', type.size()) - type.size()));
    }
    return names;
}

}  // namespace fieldbridge::gateway
