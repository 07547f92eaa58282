// libFuzzer target for commands from MQTT: topic and payload parsing, and
// the conversion of the value to the point's registers.
// Input: byte 0 picks the point's type, byte 1 its scale, byte 2 its
// offset, byte 3 flags (writable, min/max, word order, a device topic);
// the rest is "topic\0payload" (without a NUL: the point's own command
// topic and the rest as payload). Checked, beyond "no crash, no sanitizer
// report":
//  - every payload is either a command or refused with a reason;
//  - a payload that is a JSON object with a string "id" keeps that id, in
//    the decision and in the reply;
//  - a value accepted for a point encodes, and decodes back to itself
//    (integers exactly, floats to the point's precision, strings verbatim
//    but for the trailing spaces that decoding trims);
//  - the reply is JSON.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "config/topic.hpp"
#include "gateway/commands.hpp"

namespace {

using namespace fieldbridge;

constexpr config::data_type types[] = {
    config::data_type::boolean, config::data_type::int16,   config::data_type::uint16, config::data_type::int32,
    config::data_type::uint32,  config::data_type::int64,   config::data_type::uint64, config::data_type::float32,
    config::data_type::float64, config::data_type::string,
};
constexpr double scales[] = {1.0, 0.1, 0.01, 10.0, 0.5, -1.0, 2.0, 1e-9, 1e9, 0.001};
constexpr double offsets[] = {0.0, 0.0, -273.15, 100.0, 0.5, -1e6, 1.0, 1e-3};
constexpr config::word_order orders[] = {config::word_order::abcd, config::word_order::cdab,
                                         config::word_order::badc, config::word_order::dcba};

config::gateway plant(std::uint8_t type, std::uint8_t scale, std::uint8_t offset, std::uint8_t flags) {
    config::gateway g;
    g.publish.prefix = "p";
    g.publish.topic_template = "{prefix}/{device}/{point}";
    if (flags & 0x10) g.commands.device_topic = "{prefix}/{device}";
    config::bus b;
    b.name = "line";
    g.buses.push_back(b);
    config::device d;
    d.name = "d";
    d.bus = "line";
    config::point pt;
    pt.name = "x";
    pt.type = types[type % std::size(types)];
    pt.order = orders[(flags >> 2) & 3];
    if (pt.type == config::data_type::string) {
        pt.length = 4;
    } else if (pt.type == config::data_type::boolean) {
        pt.kind = (flags & 0x20) ? config::register_kind::coil : config::register_kind::holding_register;
        if (pt.kind == config::register_kind::holding_register) pt.bit = static_cast<std::uint8_t>(scale % 16);
    } else {
        pt.scale = scales[scale % std::size(scales)];
        pt.offset = offsets[offset % std::size(offsets)];
    }
    pt.writable = (flags & 1) == 0;
    if (flags & 2) {
        pt.minimum = -50.0;
        pt.maximum = 5000.0;
    }
    config::point other = pt;
    other.name = "y";
    other.address = 20;
    d.points = {pt, other};
    g.devices.push_back(d);
    return g;
}

// The id a payload carries, read by the full parser.
std::optional<std::string> object_id(std::string_view payload) {
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
    return j["id"].get<std::string>();
}

void check_round_trip(const config::point& p, const modbus::value& v) {
    const auto words = modbus::encode(p, v, 0);
    if (!words) std::abort();  // write_value accepted it, so it encodes
    const auto back = modbus::decode(p, *words);
    if (p.type == config::data_type::string) {
        // Decoding ends a string at its padding: trailing spaces do not read back.
        auto want = std::get<std::string>(v);
        while (!want.empty() && want.back() == ' ') want.pop_back();
        if (!back || std::get<std::string>(*back) != want) std::abort();
        return;
    }
    if (p.type == config::data_type::boolean || !back) return;  // a bit in a register: decode needs the rest
    const auto as_double = [](const modbus::value& x) -> double {
        if (const auto* d = std::get_if<double>(&x)) return *d;
        if (const auto* i = std::get_if<std::int64_t>(&x)) return static_cast<double>(*i);
        if (const auto* u = std::get_if<std::uint64_t>(&x)) return static_cast<double>(*u);
        return 0.0;
    };
    const double want = as_double(v);
    const double got = as_double(*back);
    if (p.type == config::data_type::float32 || p.type == config::data_type::float64) return;  // precision of the type
    // An integer point takes whole raw values only: what it reads back is what was asked.
    const double tolerance = std::max(1e-6, std::fabs(want) * 1e-9) + std::fabs(p.scale) * 1e-6;
    if (std::fabs(got - want) > tolerance) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const auto cfg = plant(data[0], data[1], data[2], data[3]);
    const std::string_view rest(reinterpret_cast<const char*>(data + 4), size - 4);
    std::string topic = "p/d/x/set";
    std::string_view payload = rest;
    if (const auto nul = rest.find('\0'); nul != std::string_view::npos) {
        topic = std::string(rest.substr(0, nul));
        payload = rest.substr(nul + 1);
    }
    const gateway::command_table table(cfg);
    const auto target = table.find(topic);
    const auto decision = gateway::decide_point_command(cfg, target, topic, payload);
    if (!decision.write && decision.refusal.empty()) std::abort();
    if (const auto id = object_id(payload); id && payload.size() <= gateway::max_command_payload) {
        if (decision.id != id) std::abort();
    }
    const auto reply = gateway::reply_payload(decision.id, decision.write.has_value(), decision.refusal, nullptr, 0);
    const auto parsed_reply = nlohmann::json::parse(reply, nullptr, false);
    if (parsed_reply.is_discarded()) std::abort();
    if (decision.id && parsed_reply.at("id") != nlohmann::json(*decision.id)) {
        // Invalid UTF-8 in an id is replaced in the reply; a valid one must come back as sent.
        if (nlohmann::json(*decision.id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) ==
            nlohmann::json(*decision.id).dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore)) {
            std::abort();
        }
    }
    if (decision.write) {
        if (!target || target->whole_device) std::abort();
        check_round_trip(cfg.devices[0].points[decision.write->point], decision.write->value);
    }

    const auto device = gateway::parse_device_command(payload);
    if (!device.command && device.error.empty()) std::abort();
    if (const auto id = object_id(payload); id && payload.size() <= gateway::max_command_payload) {
        if (device.id != id) std::abort();
    }
    if (device.command) {
        for (const auto& [name, v] : device.command->values) {
            std::string why;
            const auto& p = cfg.devices[0].points[0];
            if (const auto value = gateway::write_value(cfg.devices[0], p, v, why)) {
                check_round_trip(p, *value);
            } else if (why.empty()) {
                std::abort();
            }
        }
    }
    return 0;
}
