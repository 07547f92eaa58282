// Commands from MQTT to devices, the pure part: which topics carry commands,
// what a command payload says, and whether its value fits the point. The
// core wires these to the MQTT client and the bus workers. Pure functions
// and a lookup table built once from the configuration; not thread-safe only
// in the sense that the table is read from the core thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::gateway {

inline constexpr std::size_t max_command_payload = 4096;

// A parsed command: the value as JSON and the caller's id, if any.
struct command {
    nlohmann::json value;
    std::optional<std::string> id;
};

// Either a command or why the payload is refused.
struct parsed_command {
    std::optional<gateway::command> command;
    std::string error;
};

// Accepts a bare JSON value (42, 21.5, true, "text"), an object
// {"value": ..., "id": "..."}, or bare text (a string value). Refuses empty
// and oversized payloads, objects without "value", and ids that are not strings.
parsed_command parse_command(std::string_view payload);

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
};
parsed_device_command parse_device_command(std::string_view payload);

// The command's JSON value as a value of the point's type, or why not:
// booleans take true/false/0/1, numbers take JSON numbers, strings take
// strings. Range checks happen in modbus::encode.
std::optional<modbus::value> command_value(const config::point& p, const nlohmann::json& v, std::string& error);

// Where a named device and point are in the configuration (indexes into
// gateway.devices and that device's points), or nullopt with why.
std::optional<std::pair<std::size_t, std::size_t>> find_point(const config::gateway& cfg, const std::string& device,
                                                              const std::string& point, std::string& why);

// The value of a write to the point: writable, of the point's type, in
// range; or nullopt with why (naming device/point).
std::optional<modbus::value> write_value(const config::device& d, const config::point& p, const nlohmann::json& v,
                                         std::string& why);

// The JSON value of a point's registers, as a payload would carry it (null
// when they do not decode).
nlohmann::json point_value(const config::point& p, const std::vector<std::uint16_t>& words);

// The answer to a one-shot read or write (control socket, CLI):
// {"ok":true,"value":..,"unit":..,"registers":[..]} or
// {"ok":false,"error":"..","modbus_exception":N}.
nlohmann::json access_answer(const config::point& p, const modbus::point_result& r);

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
    // point gets an answer too.
    explicit command_table(const config::gateway& cfg);

    const command_target* find(const std::string& topic) const;
    // Subscription filters covering every command topic: one wildcard filter
    // where the topic template allows it, else the topics themselves.
    const std::vector<std::string>& filters() const { return filters_; }
    // The reply topic for a command topic that names no point.
    std::string reply_topic_for(const std::string& command_topic) const;

private:
    config::command_settings settings_;
    std::map<std::string, command_target> targets_;
    std::vector<std::string> filters_;
};

}  // namespace fieldbridge::gateway
