#include "gateway/commands.hpp"

#include <algorithm>
#include <cmath>

#include "config/topic.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "gateway/payload.hpp"

namespace fieldbridge::gateway {

parsed_command parse_command(std::string_view payload) {
    parsed_command out;
    if (payload.empty()) {
        out.error = "empty command";
        return out;
    }
    if (payload.size() > max_command_payload) {
        out.error = "command longer than " + std::to_string(max_command_payload) + " bytes";
        return out;
    }
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        // Bare text: a string value, unless it looks like broken JSON.
        const auto first = payload.find_first_not_of(" \t\r\n");
        if (first != std::string_view::npos && (payload[first] == '{' || payload[first] == '[')) {
            out.error = "malformed JSON";
            return out;
        }
        out.command = command{nlohmann::json(std::string(payload)), std::nullopt};
        return out;
    }
    if (j.is_object()) {
        if (!j.contains("value")) {
            out.error = "the command object has no \"value\"";
            return out;
        }
        command c{j["value"], std::nullopt};
        if (j.contains("id")) {
            if (!j["id"].is_string()) {
                out.error = "\"id\" must be a string";
                return out;
            }
            c.id = j["id"].get<std::string>();
        }
        out.command = std::move(c);
        return out;
    }
    if (j.is_array() || j.is_null()) {
        out.error = "expected a value or {\"value\": ..., \"id\": ...}";
        return out;
    }
    out.command = command{std::move(j), std::nullopt};
    return out;
}

std::optional<modbus::value> command_value(const config::point& p, const nlohmann::json& v, std::string& error) {
    switch (p.type) {
        case config::data_type::boolean:
            if (v.is_boolean()) return modbus::value{v.get<bool>()};
            if (v.is_number() && (v == 0 || v == 1)) return modbus::value{v.get<double>() != 0.0};
            error = "expected true or false";
            return std::nullopt;
        case config::data_type::string:
            if (v.is_string()) return modbus::value{v.get<std::string>()};
            error = "expected a string";
            return std::nullopt;
        default:
            break;
    }
    if (v.is_number_unsigned()) return modbus::value{v.get<std::uint64_t>()};
    if (v.is_number_integer()) return modbus::value{v.get<std::int64_t>()};
    if (v.is_number_float()) return modbus::value{v.get<double>()};
    error = "expected a number";
    return std::nullopt;
}

namespace {

// The template with {device} and {point} (and the other placeholders) as
// whole topic levels, each replaced by '+'; nullopt when a placeholder
// shares a level with other text.
std::optional<std::string> wildcard_of(const std::string& tmpl, const std::string& prefix) {
    std::string out;
    std::size_t level_start = 0;
    while (level_start <= tmpl.size()) {
        auto level_end = tmpl.find('/', level_start);
        if (level_end == std::string::npos) level_end = tmpl.size();
        const std::string level = tmpl.substr(level_start, level_end - level_start);
        if (!out.empty() || level_start > 0) out += '/';
        if (level == "{prefix}") {
            out += prefix;
        } else if (level.size() > 2 && level.front() == '{' && level.back() == '}' &&
                   level.find('{', 1) == std::string::npos) {
            out += '+';
        } else if (level.find('{') != std::string::npos) {
            return std::nullopt;
        } else {
            out += level;
        }
        level_start = level_end + 1;
        if (level_end == tmpl.size()) break;
    }
    return out;
}

}  // namespace

command_table::command_table(const config::gateway& cfg) : settings_(cfg.commands) {
    if (!settings_.enabled) return;
    bool wildcard_covers_all = true;
    const auto wildcard = wildcard_of(cfg.publish.topic_template, cfg.publish.prefix);
    if (!wildcard || settings_.suffix.find('/') != 0 || wildcard->find('#') != std::string::npos) {
        wildcard_covers_all = false;
    }
    std::vector<std::string> exact;
    for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
        const auto& d = cfg.devices[di];
        const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& b) { return b.name == d.bus; });
        if (bus == cfg.buses.end()) continue;
        for (std::size_t pi = 0; pi < d.points.size(); ++pi) {
            const auto state = config::point_topic(cfg.publish, d, d.points[pi], *bus);
            targets_.emplace(state + settings_.suffix, command_target{di, pi});
            if (d.points[pi].topic || !wildcard_covers_all) exact.push_back(state + settings_.suffix);
        }
    }
    if (!settings_.device_topic.empty()) {
        for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
            const auto& d = cfg.devices[di];
            const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& b) { return b.name == d.bus; });
            if (bus == cfg.buses.end()) continue;
            const auto base = config::expand_topic(settings_.device_topic, cfg.publish, d, config::point{}, *bus);
            // A point's command topic keeps its meaning if the two collide.
            if (targets_.emplace(base + settings_.suffix, command_target{di, 0, true}).second) {
                exact.push_back(base + settings_.suffix);
            }
        }
    }
    if (wildcard_covers_all && !targets_.empty()) filters_.push_back(*wildcard + settings_.suffix);
    for (auto& e : exact) filters_.push_back(std::move(e));
}

const command_target* command_table::find(const std::string& topic) const {
    const auto it = targets_.find(topic);
    return it == targets_.end() ? nullptr : &it->second;
}

std::string command_table::reply_topic_for(const std::string& command_topic) const {
    if (command_topic.size() >= settings_.suffix.size() &&
        command_topic.compare(command_topic.size() - settings_.suffix.size(), settings_.suffix.size(),
                              settings_.suffix) == 0) {
        return command_topic.substr(0, command_topic.size() - settings_.suffix.size()) + settings_.reply_suffix;
    }
    return command_topic + settings_.reply_suffix;
}

parsed_device_command parse_device_command(std::string_view payload) {
    parsed_device_command out;
    if (payload.size() > max_command_payload) {
        out.error = "command longer than " + std::to_string(max_command_payload) + " bytes";
        return out;
    }
    // ordered_json: the points are written in the order the sender gave them.
    auto j = nlohmann::ordered_json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        out.error = "malformed JSON";
        return out;
    }
    const auto expected = "expected {\"point\": value, ...} or {\"values\": {\"point\": value, ...}, \"id\": \"...\"}";
    if (!j.is_object()) {
        out.error = expected;
        return out;
    }
    device_command c;
    const nlohmann::ordered_json* values = &j;
    if (j.contains("values")) {
        if (!j["values"].is_object()) {
            out.error = expected;
            return out;
        }
        values = &j["values"];
        for (const auto& [key, v] : j.items()) {
            if (key == "id") {
                if (!v.is_string()) {
                    out.error = "\"id\" must be a string";
                    return out;
                }
                c.id = v.get<std::string>();
            } else if (key != "values") {
                out.error = "unknown key \"" + key + "\" beside \"values\"; " + expected;
                return out;
            }
        }
    }
    for (const auto& [key, v] : values->items()) c.values.emplace_back(key, nlohmann::json::parse(v.dump()));
    if (c.values.empty()) {
        out.error = "no point to write; " + std::string(expected);
        return out;
    }
    out.command = std::move(c);
    return out;
}

std::optional<std::pair<std::size_t, std::size_t>> find_point(const config::gateway& cfg, const std::string& device,
                                                              const std::string& point, std::string& why) {
    const auto d = std::find_if(cfg.devices.begin(), cfg.devices.end(), [&](const auto& x) { return x.name == device; });
    if (d == cfg.devices.end()) {
        why = "no device named '" + device + "'";
        return std::nullopt;
    }
    const auto p = std::find_if(d->points.begin(), d->points.end(), [&](const auto& x) { return x.name == point; });
    if (p == d->points.end()) {
        why = "device " + device + " has no point named '" + point + "'";
        return std::nullopt;
    }
    return std::pair{static_cast<std::size_t>(d - cfg.devices.begin()), static_cast<std::size_t>(p - d->points.begin())};
}

std::optional<modbus::value> write_value(const config::device& d, const config::point& p, const nlohmann::json& v,
                                         std::string& why) {
    const auto name = "point " + d.name + "/" + p.name;
    if (!p.writable) {
        why = name + " is not writable";
        return std::nullopt;
    }
    auto value = command_value(p, v, why);
    if (!value) {
        why = name + ": " + why;
        return std::nullopt;
    }
    if (auto check = modbus::encode(p, *value, 0); !check) {
        why = name + ": " + check.error().message();
        return std::nullopt;
    }
    return value;
}

nlohmann::json point_value(const config::point& p, const std::vector<std::uint16_t>& words) {
    auto decoded = modbus::decode(p, words);
    if (!decoded) return nullptr;
    return nlohmann::json::parse(json_payload(p, reading{*decoded, {}, std::chrono::system_clock::now()})).at("value");
}

nlohmann::json access_answer(const config::point& p, const modbus::point_result& r) {
    if (r.error) {
        nlohmann::json j = {{"ok", false}, {"error", r.error.message()}};
        if (modbus::is_exception(r.error)) j["modbus_exception"] = r.error.value();
        return j;
    }
    return {{"ok", true}, {"value", point_value(p, r.readback)}, {"unit", p.unit}, {"registers", r.readback}};
}

}  // namespace fieldbridge::gateway
