#include "gateway/point_access.hpp"

#include <spdlog/spdlog.h>

#include "gateway/bus_set.hpp"
#include "gateway/commands.hpp"

namespace fieldbridge::gateway {

nlohmann::json access_refusal(const std::string& why) {
    return {{"ok", false}, {"refused", true}, {"error", why}};
}

point_access_decision decide_point_access(const config::gateway& cfg, const nlohmann::json& request,
                                          bool write) {
    const auto refuse = [](const std::string& why) {
        return point_access_decision{std::nullopt, access_refusal(why)};
    };
    if (!request.contains("device") || !request["device"].is_string() || !request.contains("point") ||
        !request["point"].is_string()) {
        return refuse("the request needs \"device\" and \"point\" (strings)");
    }
    if (write && !request.contains("value") && !request.contains("text")) {
        return refuse("the request needs a \"value\" (or its \"text\", as a command payload)");
    }
    if (write && request.contains("text") && !request["text"].is_string()) return refuse("\"text\" must be a string");
    std::string why;
    const auto where =
        find_point(cfg, request["device"].get<std::string>(), request["point"].get<std::string>(), why);
    if (!where) return refuse(why);
    point_access access{where->first, where->second, std::nullopt};
    if (write) {
        const auto& device = cfg.devices[where->first];
        const auto& point = device.points[where->second];
        access.value = request.contains("text")
                           ? write_value_of_text(device, point, request["text"].get_ref<const std::string&>(), why)
                           : write_value(device, point, request["value"], why);
        if (!access.value) return refuse(why);
    }
    return {std::move(access), nullptr};
}

void run_point_access(const config::gateway& cfg, bus_set& buses, const nlohmann::json& request, bool write,
                      const std::function<void(std::function<void()>)>& to_core,
                      const std::function<void(nlohmann::json)>& respond,
                      const std::function<void(const std::string& device, const config::point& point,
                                               const std::vector<std::uint16_t>& words)>& written) {
    auto decision = decide_point_access(cfg, request, write);
    if (!decision.access) return respond(std::move(decision.refusal));
    const auto& device = cfg.devices[decision.access->device];
    const auto& point = device.points[decision.access->point];
    auto done = [to_core, respond, written, write, device = device.name, point](modbus::point_result r) {
        to_core([respond, written, write, device, point, r = std::move(r)] {
            respond(access_answer(point, r));
            if (write && !r.error) written(device, point, r.readback);
        });
    };
    if (!buses.access(decision.access->device, decision.access->point, decision.access->value,
                      std::move(done))) {
        return respond(access_refusal("device " + device.name + " is not polled"));
    }
    if (write)
        spdlog::info("control: write of {} to {}/{}",
                     (request.contains("text") ? request["text"] : request["value"])
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                     device.name, point.name);
}

}  // namespace fieldbridge::gateway
