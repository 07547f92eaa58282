#include "gateway/commands.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "common/topic_filter.hpp"
#include "config/topic.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "gateway/payload.hpp"

namespace fieldbridge::gateway {

namespace {

// Reads events up to the first syntax error and keeps the last string given
// for the top-level key "id": nlohmann's DOM parse gives nothing for a
// payload that breaks further on, yet its id is what the refusal must carry.
class id_scanner : public nlohmann::json_sax<nlohmann::json> {
public:
    std::optional<std::string> id;

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t& s) override {
        if (depth_ == 1 && object_ && id_key_) id = s;
        return value();
    }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return open(true); }
    bool key(string_t& k) override {
        id_key_ = depth_ == 1 && k == "id";
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

private:
    bool value() {
        id_key_ = false;
        return true;
    }
    bool open(bool object) {
        if (depth_ == 0) object_ = object;
        ++depth_;
        id_key_ = false;
        return true;
    }
    bool close() {
        if (depth_ > 0) --depth_;
        return true;
    }
    std::size_t depth_ = 0;
    bool object_ = false;
    bool id_key_ = false;
};

std::string too_long_error() { return "command longer than " + std::to_string(max_command_payload) + " bytes"; }

}  // namespace

std::optional<std::string> command_id(std::string_view payload) {
    id_scanner scanner;
    const auto head = payload.substr(0, max_command_payload);
    nlohmann::json::sax_parse(head.begin(), head.end(), &scanner, nlohmann::json::input_format_t::json, true);
    return std::move(scanner.id);
}

parsed_command parse_command(std::string_view payload, bool text_point) {
    parsed_command out;
    if (payload.empty()) {
        out.error = "empty command";
        return out;
    }
    if (payload.size() > max_command_payload) {
        out.id = command_id(payload);
        out.error = too_long_error();
        return out;
    }
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        out.id = command_id(payload);
        // Bare text: a string value, unless it looks like broken JSON (a
        // string point takes any text as it is).
        const auto first = payload.find_first_not_of(" \t\r\n");
        if (!text_point && first != std::string_view::npos && (payload[first] == '{' || payload[first] == '[')) {
            out.error = "malformed JSON";
            return out;
        }
        out.command = command{nlohmann::json(std::string(payload)), std::nullopt};
        return out;
    }
    const bool object_form = j.is_object() && (!text_point || j.contains("value") || j.contains("id"));
    if (object_form) {
        if (j.contains("id") && j["id"].is_string()) out.id = j["id"].get<std::string>();
        // A reply ({"id", "ok", "value"}) sent to a command topic, by a
        // Response Topic that named it or a client that forwards replies,
        // would otherwise write its value.
        if (j.contains("ok")) {
            out.error = "a command reply (it has \"ok\") is not a command";
            return out;
        }
        if (!j.contains("value")) {
            out.error = "the command object has no \"value\"";
            return out;
        }
        if (j.contains("id") && !out.id) {
            out.error = "\"id\" must be a string";
            return out;
        }
        out.command = command{j["value"], out.id};
        return out;
    }
    if (text_point) {
        // The text itself, unless it is a JSON string ("text" with quotes).
        out.command = command{j.is_string() ? std::move(j) : nlohmann::json(std::string(payload)), std::nullopt};
        return out;
    }
    if (j.is_array() || j.is_null()) {
        out.error = "expected a value or {\"value\": ..., \"id\": ...}";
        return out;
    }
    out.command = command{std::move(j), std::nullopt};
    return out;
}

namespace {

bool is_integer_type(config::data_type t) {
    switch (t) {
        case config::data_type::int16:
        case config::data_type::uint16:
        case config::data_type::int32:
        case config::data_type::uint32:
        case config::data_type::int64:
        case config::data_type::uint64:
            return true;
        default:
            return false;
    }
}

std::string number_text(double d) { return fmt::format("{:.12g}", d); }

// An integer register holds whole raw values only: a value between two of
// them was rounded without a word before; now it is refused, naming the two.
bool whole_raw_value(const config::point& p, double engineering, std::string& error) {
    if (p.scale == 0.0 || !std::isfinite(p.scale) || !std::isfinite(p.offset)) return true;  // encode refuses
    const double raw = (engineering - p.offset) / p.scale;
    if (!std::isfinite(raw)) return true;  // out of range: encode says so
    const double nearest = std::round(raw);
    if (std::fabs(raw - nearest) <= raw_tolerance * std::max(1.0, std::fabs(raw) * 1e-9)) return true;
    const double below = std::floor(raw) * p.scale + p.offset;
    const double above = std::ceil(raw) * p.scale + p.offset;
    error = number_text(engineering) + " is not a value the point can hold (";
    if (p.scale != 1.0 || p.offset != 0.0) {
        error += "raw " + number_text(raw) + " with scale " + number_text(p.scale);
        if (p.offset != 0.0) error += " and offset " + number_text(p.offset);
        error += ", ";
    }
    error += "a whole raw value is needed); the nearest writable values are " + number_text(std::min(below, above)) +
             " and " + number_text(std::max(below, above));
    return false;
}

}  // namespace

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
    if (v.is_number_unsigned()) {
        if (is_integer_type(p.type) && !whole_raw_value(p, v.get<double>(), error)) return std::nullopt;
        return modbus::value{v.get<std::uint64_t>()};
    }
    if (v.is_number_integer()) {
        if (is_integer_type(p.type) && !whole_raw_value(p, v.get<double>(), error)) return std::nullopt;
        return modbus::value{v.get<std::int64_t>()};
    }
    if (v.is_number_float()) {
        if (is_integer_type(p.type) && !whole_raw_value(p, v.get<double>(), error)) return std::nullopt;
        return modbus::value{v.get<double>()};
    }
    error = "expected a number";
    return std::nullopt;
}

command_table::command_table(const config::gateway& cfg) : command_table(cfg, nullptr) {}

command_table::command_table(const config::gateway& cfg, std::shared_ptr<const point_topics> topics)
    : settings_(cfg.commands), topics_(topics ? std::move(topics) : std::make_shared<const point_topics>(cfg)) {
    if (!settings_.enabled) return;
    // A topic the wildcard filter covers gets no filter of its own: the
    // client hands a message to every subscription it matches, so a command
    // under two filters would be written and answered twice.
    const auto wildcard = config::command_wildcard(cfg);
    const auto covered = [&](std::string_view topic) { return wildcard && topic_matches(*wildcard, topic); };
    std::vector<std::string> exact;
    for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
        if (!topics_->placed(di)) continue;
        const auto& d = cfg.devices[di];
        for (std::size_t pi = 0; pi < d.points.size(); ++pi) {
            const auto number = topics_->index(di, pi);
            by_topic_.push_back(static_cast<std::uint32_t>(number));
            auto topic = std::string(topics_->topic(number)) + settings_.suffix;
            if (!covered(topic)) exact.push_back(std::move(topic));
        }
    }
    // Sorted by topic, the first point of a topic first: it is the one a
    // command to that topic names (the loader refuses shared topics).
    std::stable_sort(by_topic_.begin(), by_topic_.end(),
                     [this](std::uint32_t a, std::uint32_t b) { return topics_->topic(a) < topics_->topic(b); });
    by_topic_.shrink_to_fit();
    if (!by_topic_.empty()) topic_limit_ = std::max(topic_limit_, topics_->longest() + settings_.suffix.size());
    // A device-level topic template expanded for device d (on a placed device's bus).
    const auto device_topic = [&cfg](const std::string& tmpl, const config::device& d) {
        const auto bus =
            std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& b) { return b.name == d.bus; });
        return config::expand_topic(tmpl, cfg.publish, d, config::point{}, *bus);
    };
    if (!settings_.device_topic.empty()) {
        for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
            if (!topics_->placed(di)) continue;
            const auto& d = cfg.devices[di];
            auto topic = device_topic(settings_.device_topic, d) + settings_.suffix;
            // A point's command topic keeps its meaning if the two collide.
            if (point_of(topic)) continue;
            const auto at = std::lower_bound(devices_.begin(), devices_.end(), topic,
                                             [](const auto& e, const std::string& t) { return e.first < t; });
            if (at != devices_.end() && at->first == topic) continue;
            topic_limit_ = std::max(topic_limit_, topic.size());
            if (!covered(topic)) exact.push_back(topic);
            devices_.emplace(at, std::move(topic), di);
        }
    }
    // What the gateway publishes besides the points' values.
    const auto format = cfg.publish.format;
    point_values_published_ =
        format != config::payload_format::device && format != config::payload_format::sparkplug;
    if (format != config::payload_format::sparkplug) {
        published_.push_back(config::status_topic(cfg));
        for (std::size_t di = 0; di < cfg.devices.size(); ++di) {
            if (!topics_->placed(di)) continue;
            const auto& d = cfg.devices[di];
            published_.push_back(config::availability_topic(cfg.availability.device_topic, cfg, d.name));
            if (format == config::payload_format::device) published_.push_back(device_topic(cfg.publish.device_topic, d));
        }
        std::sort(published_.begin(), published_.end());
        published_.erase(std::unique(published_.begin(), published_.end()), published_.end());
        published_.shrink_to_fit();
    }
    // Also for device topics alone: a command to a topic under the wildcard
    // that names nothing is answered.
    if (wildcard && (!by_topic_.empty() || !devices_.empty())) {
        filters_.push_back(*wildcard);
        wildcard_ = wildcard;
    }
    for (auto& e : exact) filters_.push_back(std::move(e));
}

std::optional<std::uint32_t> command_table::point_of(std::string_view topic) const {
    const std::string_view suffix = settings_.suffix;
    if (topic.size() < suffix.size() || topic.substr(topic.size() - suffix.size()) != suffix) return std::nullopt;
    return point_publishing_on(topic.substr(0, topic.size() - suffix.size()));
}

std::optional<std::uint32_t> command_table::point_publishing_on(std::string_view state) const {
    const auto it = std::lower_bound(by_topic_.begin(), by_topic_.end(), state,
                                     [this](std::uint32_t n, std::string_view t) { return topics_->topic(n) < t; });
    if (it == by_topic_.end() || topics_->topic(*it) != state) return std::nullopt;
    return *it;
}

std::optional<command_target> command_table::find(std::string_view topic) const {
    if (const auto number = point_of(topic)) {
        const auto [device, point] = topics_->locate(*number);
        return command_target{device, point};
    }
    const auto it = std::lower_bound(devices_.begin(), devices_.end(), topic,
                                     [](const auto& e, std::string_view t) { return e.first < t; });
    if (it != devices_.end() && it->first == topic) return command_target{it->second, 0, true};
    return std::nullopt;
}

std::string command_table::reply_topic_for(const std::string& command_topic) const {
    if (command_topic.size() >= settings_.suffix.size() &&
        command_topic.compare(command_topic.size() - settings_.suffix.size(), settings_.suffix.size(),
                              settings_.suffix) == 0) {
        return command_topic.substr(0, command_topic.size() - settings_.suffix.size()) + settings_.reply_suffix;
    }
    return command_topic + settings_.reply_suffix;
}

bool command_table::takes_commands_on(std::string_view topic) const {
    // The exact filters are the topics find() knows.
    return (wildcard_ && topic_matches(*wildcard_, topic)) || find(topic).has_value();
}

bool command_table::publishes_on(std::string_view topic) const {
    if (topic.substr(0, 8) == "spBv1.0/") return true;
    if (std::binary_search(published_.begin(), published_.end(), topic, std::less<>())) return true;
    return point_values_published_ && point_publishing_on(topic).has_value();
}

parsed_device_command parse_device_command(std::string_view payload) {
    parsed_device_command out;
    if (payload.size() > max_command_payload) {
        out.id = command_id(payload);
        out.error = too_long_error();
        return out;
    }
    // ordered_json: the points are written in the order the sender gave them.
    auto j = nlohmann::ordered_json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        out.id = command_id(payload);
        out.error = "malformed JSON";
        return out;
    }
    const auto expected = "expected {\"point\": value, ...} or {\"values\": {\"point\": value, ...}, \"id\": \"...\"}";
    if (!j.is_object()) {
        out.error = expected;
        return out;
    }
    // A top-level string "id" is the caller's, in either form.
    if (j.contains("id") && j["id"].is_string()) out.id = j["id"].get<std::string>();
    device_command c;
    c.id = out.id;
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
            } else if (key != "values") {
                out.error = "unknown key \"" + shortened(key) + "\" beside \"values\"; " + expected;
                return out;
            }
        }
    }
    for (const auto& [key, v] : values->items()) {
        if (values == &j && key == "id" && out.id) continue;
        c.values.emplace_back(key, nlohmann::json::parse(v.dump()));
    }
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

std::optional<modbus::value> write_value_of_text(const config::device& d, const config::point& p,
                                                 std::string_view text, std::string& why) {
    auto parsed = parse_command(text, p.type == config::data_type::string);
    if (!parsed.command) {
        why = parsed.error;
        return std::nullopt;
    }
    return write_value(d, p, parsed.command->value, why);
}

point_command_decision decide_point_command(const config::gateway& cfg, const std::optional<command_target>& target,
                                            const std::string& topic, std::string_view payload) {
    point_command_decision out;
    const config::point* point = nullptr;
    if (target && !target->whole_device && target->device < cfg.devices.size() &&
        target->point < cfg.devices[target->device].points.size()) {
        point = &cfg.devices[target->device].points[target->point];
    }
    auto parsed = parse_command(payload, point && point->type == config::data_type::string);
    out.id = parsed.id;
    if (!parsed.command) {
        out.refusal = parsed.error;
        return out;
    }
    if (!point) {
        out.refusal = "no point has the command topic " + shortened(topic);
        return out;
    }
    auto value = write_value(cfg.devices[target->device], *point, parsed.command->value, out.refusal);
    if (!value) return out;
    out.write = point_write{target->device, target->point, std::move(*value)};
    return out;
}

nlohmann::json point_value(const config::point& p, const std::vector<std::uint16_t>& words) {
    auto decoded = modbus::decode(p, words);
    if (!decoded) return nullptr;
    return nlohmann::json::parse(json_payload(p, reading{*decoded, {}, std::chrono::system_clock::now()})).at("value");
}

nlohmann::json failure_fields(const modbus::point_result& r) {
    if (!r.written) {
        nlohmann::json j = {{"error", r.error.message()}};
        if (modbus::is_exception(r.error)) j["modbus_exception"] = r.error.value();
        return j;
    }
    // The exception, if any, is the read-back's: the write was not refused.
    const bool said = r.error == make_error_code(modbus::modbus_errc::written_not_read_back);
    return {{"error", said ? r.error.message() : "the device took the write; reading it back failed: " + r.error.message()},
            {"written", true}};
}

nlohmann::json access_answer(const config::point& p, const modbus::point_result& r) {
    if (r.error) {
        nlohmann::json j = {{"ok", false}};
        j.update(failure_fields(r));
        return j;
    }
    return {{"ok", true}, {"value", point_value(p, r.readback)}, {"unit", p.unit}, {"registers", r.readback}};
}

std::string write_reply(const std::optional<std::string>& id, const config::point& p,
                        const modbus::point_result& r) {
    if (!r.error) return reply_payload(id, true, {}, point_value(p, r.readback), 0);
    nlohmann::json j;
    j["id"] = id ? nlohmann::json(*id) : nlohmann::json(nullptr);
    j["ok"] = false;
    j.update(failure_fields(r));
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string reply_payload(const std::optional<std::string>& id, bool ok, const std::string& error,
                          const nlohmann::json& value, int exception) {
    nlohmann::json j;
    j["id"] = id ? nlohmann::json(*id) : nlohmann::json(nullptr);
    j["ok"] = ok;
    if (ok) {
        j["value"] = value;
    } else {
        j["error"] = error;
        if (exception != 0) j["modbus_exception"] = exception;
    }
    // A string point's value is the device's bytes, an error may quote the
    // caller's: never a throw on invalid UTF-8.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json to_json(const command_counters& c) {
    return {{"received", c.received},
            {"refused", c.refused},
            {"topic_too_long", c.topic_too_long},
            {"payload_too_large", c.payload_too_large},
            {"reply_address_too_long", c.reply_address_too_long},
            {"response_topic_refused", c.response_topic_refused},
            {"replies_looping", c.replies_looping},
            {"held_full", c.held_full},
            {"bus_queue_full", c.bus_queue_full},
            {"replies_dropped", c.replies_dropped},
            {"retained_ignored", c.retained_ignored},
            {"writes_ok", c.writes_ok},
            {"writes_failed", c.writes_failed}};
}

}  // namespace fieldbridge::gateway
