// Commands from MQTT to devices, the pure part: which topics carry commands,
// what a command payload says, and whether its value fits the point. The
// core wires these to the MQTT client and the bus workers. Pure functions
// and a lookup table built once from the configuration; not thread-safe only
// in the sense that the table is read from the core thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/shortened.hpp"
#include "config/model.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "gateway/point_topics.hpp"

namespace fieldbridge::gateway {

// What one command message may make the gateway hold. Anyone allowed to
// publish under the command topics can send anything; these keep a flood of
// junk from growing the gateway's memory.
inline constexpr std::size_t max_command_payload = 4096;
// Command topics (unless a configured one is longer) and MQTT 5 Response Topics.
inline constexpr std::size_t max_command_topic = 1024;
// MQTT 5 Correlation Data carried back in the reply.
inline constexpr std::size_t max_correlation_data = 256;
// Replies handed to the MQTT client and not yet acknowledged by the broker.
inline constexpr std::size_t max_pending_replies = 1000;
// Commands waiting for an offline device (commands.max_age): per device, in all.
inline constexpr std::size_t max_held_per_device = 100;
inline constexpr std::size_t max_held_commands = 1000;
// Writes queued on one bus and not answered yet: a flood of commands can
// neither grow a bus's queue without end nor keep a write waiting behind
// minutes of others (the worker lets a few in between two block reads).
inline constexpr std::size_t max_queued_writes_per_bus = 100;

// A parsed command: the value as JSON and the caller's id, if any.
struct command {
    nlohmann::json value;
    std::optional<std::string> id;
};

// Either a command or why the payload is refused. id is the caller's id
// whenever the payload carries one as a string (also when refused), so
// that a refusal reaches the caller who asked.
struct parsed_command {
    std::optional<gateway::command> command;
    std::string error;
    std::optional<std::string> id;
};

// Accepts a bare JSON value (42, 21.5, true, "text"), an object
// {"value": ..., "id": "..."}, or bare text (a string value). Refuses empty
// and oversized payloads, objects without "value", and ids that are not
// strings. For a string point (text_point), every payload is its text,
// verbatim, except a JSON string (its content) and a JSON object with a
// "value" or an "id" key (the object form; its value must be a string).
parsed_command parse_command(std::string_view payload, bool text_point = false);

// The string value of the payload's top-level "id", read as far as the
// payload is well-formed JSON (within its first max_command_payload bytes):
// found also in a payload refused for what comes after it.
std::optional<std::string> command_id(std::string_view payload);

// A device-level command: several points of one device in one object,
// {"setpoint": 21.5, "running": true} or {"values": {...}, "id": "..."}, in
// the order given.
struct device_command {
    std::vector<std::pair<std::string, nlohmann::json>> values;
    std::optional<std::string> id;
};
struct parsed_device_command {
    std::optional<device_command> command;
    std::string error;
    std::optional<std::string> id;  // as parsed_command::id
};
parsed_device_command parse_device_command(std::string_view payload);

// The command's JSON value as a value of the point's type, or why not:
// booleans take true/false/0/1, numbers take JSON numbers, strings take
// strings. A number for an integer point must come to a whole raw value
// once scale and offset are inverted (within raw_tolerance); the refusal
// names the nearest values that do. Range checks happen in modbus::encode.
inline constexpr double raw_tolerance = 1e-6;
std::optional<modbus::value> command_value(const config::point& p, const nlohmann::json& v, std::string& error);

// Where a named device and point are in the configuration (indexes into
// gateway.devices and that device's points), or nullopt with why.
std::optional<std::pair<std::size_t, std::size_t>> find_point(const config::gateway& cfg, const std::string& device,
                                                              const std::string& point, std::string& why);

// The value of a write to the point: writable, of the point's type, in
// range; or nullopt with why (naming device/point).
std::optional<modbus::value> write_value(const config::device& d, const config::point& p, const nlohmann::json& v,
                                         std::string& why);

// The value of a write given as text, read as a command payload to the
// point's topic would be (parse_command: a JSON value, {"value": ...}, or
// bare text; any text for a string point), then write_value(); or nullopt
// with why. What `fieldbridge write` sends.
std::optional<modbus::value> write_value_of_text(const config::device& d, const config::point& p,
                                                 std::string_view text, std::string& why);

// The JSON value of a point's registers, as a payload would carry it (null
// when they do not decode).
nlohmann::json point_value(const config::point& p, const std::vector<std::uint16_t>& words);

// What a failed read or write says: {"error":"..","modbus_exception":N} when
// the device refused it, {"error":"the device took the write; ..",
// "written":true} when only the read-back after the write failed.
nlohmann::json failure_fields(const modbus::point_result& r);

// The answer to a one-shot read or write (control socket, CLI):
// {"ok":true,"value":..,"unit":..,"registers":[..]} or
// {"ok":false, failure_fields}.
nlohmann::json access_answer(const config::point& p, const modbus::point_result& r);

// The reply to a write command's outcome: {"id":..,"ok":true,"value":..} or
// {"id":..,"ok":false, failure_fields}. Never throws.
std::string write_reply(const std::optional<std::string>& id, const config::point& p,
                        const modbus::point_result& r);

// The reply to a command: {"id":..,"ok":true,"value":..} or
// {"id":..,"ok":false,"error":"..","modbus_exception":N}; id null without one.
// Never throws (invalid UTF-8 from a device is replaced).
std::string reply_payload(const std::optional<std::string>& id, bool ok, const std::string& error,
                          const nlohmann::json& value, int exception);

// shortened(): common/shortened.hpp.

// Where commands come from and replies go, per point.
struct command_target {
    std::size_t device = 0;  // index into gateway.devices
    std::size_t point = 0;   // index into that device's points (unused for whole_device)
    bool whole_device = false;  // commands.device_topic: several points in one object
};

class command_table {
public:
    // Every point of every device gets a command topic (its state topic +
    // commands.suffix), writable or not, so that a command to a read-only
    // point gets an answer too. The points' topics are shared with the
    // mapper (without them, or null, the table expands its own).
    explicit command_table(const config::gateway& cfg);
    command_table(const config::gateway& cfg, std::shared_ptr<const point_topics> topics);

    std::optional<command_target> find(std::string_view topic) const;
    // Subscription filters covering every command topic: one wildcard filter
    // where the topic template allows it, else the topics themselves.
    const std::vector<std::string>& filters() const { return filters_; }
    // The reply topic for a command topic that names no point.
    std::string reply_topic_for(const std::string& command_topic) const;
    // Whether a message published on `topic` would come back to the gateway
    // as a command: a command topic, or one under the command wildcard.
    bool takes_commands_on(std::string_view topic) const;
    // Whether the gateway publishes messages of its own on `topic`: a
    // point's value, a device's message (publish.format: device), an
    // availability topic, its status topic, or any topic of the Sparkplug
    // namespace (spBv1.0/...). A command reply there would be taken for one
    // of them. Known while commands are enabled.
    bool publishes_on(std::string_view topic) const;
    // The longest topic a command is taken on: max_command_topic, or the
    // longest configured command topic if that is longer. A longer topic
    // names no point and is dropped unanswered (its reply topic would be as long).
    std::size_t topic_limit() const { return topic_limit_; }

private:
    // The point whose command topic this is (its number in topics_).
    std::optional<std::uint32_t> point_of(std::string_view topic) const;
    // The point whose own topic this is.
    std::optional<std::uint32_t> point_publishing_on(std::string_view state) const;

    config::command_settings settings_;
    // A point's command topic is its topic + suffix: kept as the point
    // numbers sorted by topic, 4 bytes a point beside the shared topics.
    std::shared_ptr<const point_topics> topics_;
    std::vector<std::uint32_t> by_topic_;
    std::vector<std::pair<std::string, std::size_t>> devices_;  // commands.device_topic's, sorted
    std::vector<std::string> filters_;
    bool point_values_published_ = false;  // each point's value on its own topic
    std::vector<std::string> published_;   // device, availability and status topics, sorted
    std::optional<std::string> wildcard_;  // the command wildcard, when subscribed
    std::size_t topic_limit_ = max_command_topic;
};

// A command to one point, decided before anything is written: the point and
// the checked value, or the refusal; the caller's id either way.
struct point_write {
    std::size_t device = 0;
    std::size_t point = 0;
    modbus::value value;
};
struct point_command_decision {
    std::optional<std::string> id;
    std::optional<point_write> write;
    std::string refusal;  // why, when there is no write
};
point_command_decision decide_point_command(const config::gateway& cfg, const std::optional<command_target>& target,
                                            const std::string& topic, std::string_view payload);

// What the gateway refused or dropped at each bound, and in all; shown by
// `fieldbridge status --json` under "commands".
struct command_counters {
    std::uint64_t received = 0;           // messages on command topics
    std::uint64_t refused = 0;            // answered with an error, any reason
    std::uint64_t topic_too_long = 0;     // over topic_limit(): dropped, not answered
    std::uint64_t payload_too_large = 0;  // over max_command_payload: refused
    std::uint64_t reply_address_too_long = 0;  // Response Topic / Correlation Data over their bound: refused
    // A Response Topic no reply may go to (a wildcard, not valid UTF-8, or
    // one of the gateway's command topics): refused, answered on the configured topic.
    std::uint64_t response_topic_refused = 0;
    // A reply whose topic is one of the gateway's command topics: not published.
    std::uint64_t replies_looping = 0;
    std::uint64_t held_full = 0;          // offline device, no room to wait: refused
    std::uint64_t bus_queue_full = 0;     // max_queued_writes_per_bus writes already wait on the bus: refused
    std::uint64_t replies_dropped = 0;    // max_pending_replies reached: reply not sent
    std::uint64_t retained_ignored = 0;   // retained while commands.accept_retained is off: dropped
    std::uint64_t writes_ok = 0;          // point writes the device took (read back)
    std::uint64_t writes_failed = 0;      // point writes the device failed or did not answer
};
nlohmann::json to_json(const command_counters& c);

}  // namespace fieldbridge::gateway
