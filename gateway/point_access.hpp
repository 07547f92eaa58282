// `fieldbridge read` / `write` through the running service: which configured
// point a control request names and, for a write, the value to write,
// checked like an MQTT command (writable, of the point's type, in range;
// decide_point_access is pure); then the request takes its turn on the
// device's bus worker, before polls like an MQTT command, so the bus is not
// fought over. Unlike a command it is not refused for an offline device:
// the operator is there to see the answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::gateway {

struct point_access {
    std::size_t device = 0;              // index into the configuration's devices
    std::size_t point = 0;               // index into that device's points
    std::optional<modbus::value> value;  // a write's value; nullopt for a read
};

// The access a request {"device":..,"point":..[,"value":..]} asks for, or
// the answer refusing it ({"ok":false,"refused":true,"error":..}).
struct point_access_decision {
    std::optional<point_access> access;
    nlohmann::json refusal;
};
point_access_decision decide_point_access(const config::gateway& cfg, const nlohmann::json& request,
                                          bool write);

// The refusal answer to a control read or write.
nlohmann::json access_refusal(const std::string& why);

class bus_set;

// Checks the request and queues it on its device's bus. `respond` gets the
// answer (access_answer, or the refusal), and `written` a successful
// write's read-back; both run through `to_core` (the worker thread posts).
void run_point_access(const config::gateway& cfg, bus_set& buses, const nlohmann::json& request, bool write,
                      const std::function<void(std::function<void()>)>& to_core,
                      const std::function<void(nlohmann::json)>& respond,
                      const std::function<void(const std::string& device, const config::point& point,
                                               const std::vector<std::uint16_t>& words)>& written);

}  // namespace fieldbridge::gateway
