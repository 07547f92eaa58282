#include "gateway/control_protocol.hpp"

#include <utility>

namespace fieldbridge::gateway {
namespace {

std::string compact(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

std::variant<control_call, nlohmann::json> parse_control_request(std::string_view line) {
    // Copying, comparing and printing a JSON value recurse once per level: a
    // line of 64 KiB of '[' would take the core thread's stack. Values nested
    // deeper than any request needs are dropped while parsing (the parser
    // itself does not recurse) and the request is refused.
    bool too_deep = false;
    const auto depth_check = [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > control_max_depth) too_deep = true;
        return !too_deep;
    };
    // No exceptions: a malformed request is an answer, not a failure of the server.
    auto request = nlohmann::json::parse(line, depth_check, false);
    if (too_deep) return control_error("the request is nested deeper than " + std::to_string(control_max_depth) + " levels");
    if (request.is_discarded() || !request.is_object()) return control_error("the request is not a JSON object");
    const auto command = request.find("command");
    if (command == request.end() || !command->is_string()) return control_error("the request has no \"command\"");
    const auto version = request.find("version");
    if (version != request.end() && *version != control_protocol_version) {
        return control_error("protocol version " + compact(*version).substr(0, 64) +
                             " is not supported; this is version " + std::to_string(control_protocol_version));
    }
    auto name = command->get<std::string>();
    // A reply carries its answer under the command's name, beside "version",
    // "ok" and "error": a command of one of those names would overwrite them.
    if (name == "version" || name == "ok" || name == "error") return control_error("'" + name + "' is not a command");
    return control_call{std::move(name), std::move(request)};
}

nlohmann::json control_error(std::string why) {
    return {{"version", control_protocol_version}, {"ok", false}, {"error", std::move(why)}};
}

nlohmann::json control_answer(const std::string& command, nlohmann::json answer) {
    nlohmann::json reply = {{"version", control_protocol_version}, {"ok", true}};
    reply[command] = std::move(answer);
    return reply;
}

std::string control_line(const nlohmann::json& reply) {
    return compact(reply) + "\n";
}

}  // namespace fieldbridge::gateway
