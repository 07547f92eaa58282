// control_protocol: the control socket's requests and replies as values.
// One request per line, a JSON object naming a command:
//   {"version":1,"command":"status"}  →  {"version":1,"ok":true,"status":{...}}
// Pure functions; safe from any thread. control_server is the socket around
// them.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace fieldbridge::gateway {

inline constexpr int control_protocol_version = 1;
// Objects and arrays in a request nest at most this deep.
inline constexpr int control_max_depth = 16;

// A well-formed request: the command to dispatch, and the whole request for
// the handler's arguments.
struct control_call {
    std::string command;
    nlohmann::json request;
};

// The request in one line (the '\n' may be there or not), or the error reply
// to send instead: not JSON, not an object, nested too deep, no string
// "command", a command named like a key of the reply ("version", "ok",
// "error"), a version other than ours.
std::variant<control_call, nlohmann::json> parse_control_request(std::string_view line);

// {"version":1,"ok":false,"error":why}
nlohmann::json control_error(std::string why);
// {"version":1,"ok":true,<command>:answer}
nlohmann::json control_answer(const std::string& command, nlohmann::json answer);

// A reply as sent: one line of JSON ending in '\n'. Never throws: text that
// is not valid UTF-8 (from a device, from the system) is sent with U+FFFD
// in its place.
std::string control_line(const nlohmann::json& reply);

}  // namespace fieldbridge::gateway
