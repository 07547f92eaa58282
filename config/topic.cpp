#include "config/topic.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/reserved_topic.hpp"
#include "config/suggestion.hpp"

namespace fieldbridge::config {

namespace {

constexpr std::array<std::string_view, 5> placeholders{"prefix", "device", "point", "bus", "unit"};

}  // namespace

std::string expand_topic(const std::string& tmpl, const publish_settings& publish, const device& d, const point& p,
                         const bus& b) {
    std::string out;
    out.reserve(tmpl.size() + 32);
    std::size_t i = 0;
    while (i < tmpl.size()) {
        if (tmpl[i] == '{') {
            const auto close = tmpl.find('}', i + 1);
            if (close != std::string::npos) {
                const std::string_view name(tmpl.data() + i + 1, close - i - 1);
                bool known = true;
                if (name == "prefix") {
                    out += publish.prefix;
                } else if (name == "device") {
                    out += d.name;
                } else if (name == "point") {
                    out += p.name;
                } else if (name == "bus") {
                    out += b.name;
                } else if (name == "unit") {
                    out += std::to_string(d.unit_id);
                } else {
                    known = false;
                }
                if (known) {
                    i = close + 1;
                    continue;
                }
            }
        }
        out += tmpl[i];
        ++i;
    }
    return out;
}

std::string point_topic(const publish_settings& publish, const device& d, const point& p, const bus& b) {
    return expand_topic(p.topic ? *p.topic : publish.topic_template, publish, d, p, b);
}

std::string availability_topic(const std::string& tmpl, const gateway& cfg, const std::string& device_name) {
    const device none;
    const bus no_bus;
    const auto d = std::find_if(cfg.devices.begin(), cfg.devices.end(), [&](const device& x) { return x.name == device_name; });
    const device& dev = d == cfg.devices.end() ? none : *d;
    const auto b = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const bus& x) { return x.name == dev.bus; });
    return expand_topic(tmpl, cfg.publish, dev, point{}, b == cfg.buses.end() ? no_bus : *b);
}

std::optional<std::string> command_wildcard(const gateway& cfg) {
    const std::string& tmpl = cfg.publish.topic_template;
    if (cfg.commands.suffix.find('/') != 0) return std::nullopt;
    std::string out;
    std::size_t level_start = 0;
    while (true) {
        auto level_end = tmpl.find('/', level_start);
        if (level_end == std::string::npos) level_end = tmpl.size();
        const std::string_view level(tmpl.data() + level_start, level_end - level_start);
        if (level_start > 0) out += '/';
        if (level == "{prefix}") {
            out += cfg.publish.prefix;
        } else if (level.size() > 2 && level.front() == '{' && level.back() == '}' &&
                   level.find('{', 1) == std::string_view::npos) {
            out += '+';
        } else if (level.find('{') != std::string_view::npos) {
            return std::nullopt;
        } else {
            out += level;
        }
        if (level_end == tmpl.size()) break;
        level_start = level_end + 1;
    }
    if (out.find('#') != std::string::npos) return std::nullopt;
    return out + cfg.commands.suffix;
}

std::optional<std::string> topic_text_error(std::string_view text) {
    for (const char c : text) {
        if (c == '+' || c == '#') {
            return std::string("contains the MQTT wildcard '") + c + "'; a publish topic may not contain + or #";
        }
        if (c == '\0') return std::string("contains a NUL character");
    }
    if (const auto refused = find_refused_code_point(text)) return refused_code_point_error(refused);
    return std::nullopt;
}

std::string refused_code_point_error(const refused_code_point& at) {
    char code[16];
    std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(at.code));
    const bool control = at.code < 0xA0;
    return std::string("contains ") + (control ? "the control character " : "the Unicode non-character ") + code +
           " at byte " + std::to_string(at.offset) +
           "; MQTT servers (mosquitto among them) close the connection over it: remove it";
}

std::optional<std::string> topic_template_error(std::string_view tmpl) {
    const std::string expected = "; expected placeholders among {prefix} {device} {point} {bus} {unit}";
    if (tmpl.empty()) return std::string("is empty; expected a topic such as \"{prefix}/{device}/{point}\"");
    std::size_t i = 0;
    while (i < tmpl.size()) {
        const char c = tmpl[i];
        if (c == '}') return std::string("has a '}' without a matching '{'") + expected;
        if (c != '{') {
            ++i;
            continue;
        }
        const auto close = tmpl.find_first_of("{}", i + 1);
        if (close == std::string_view::npos || tmpl[close] == '{') {
            return "has an unclosed placeholder at \"" + std::string(tmpl.substr(i)) + "\"" + expected;
        }
        const std::string_view name = tmpl.substr(i + 1, close - i - 1);
        bool known = false;
        for (const auto& p : placeholders) known = known || p == name;
        if (!known) {
            std::string message = "has an unknown placeholder {" + std::string(name) + "}";
            const auto guess = closest_match(name, {placeholders.begin(), placeholders.end()});
            if (guess) message += "; did you mean {" + *guess + "}?";
            return message + expected;
        }
        i = close + 1;
    }
    if (const auto first = reserved_topic_prefix(tmpl); !first.empty()) return reserved_topic_error(first);
    return topic_text_error(tmpl);
}

std::string reserved_topic_error(std::string_view prefix) {
    return "begins with " + std::string(prefix) +
           ", which the broker keeps for itself: it drops what clients publish there";
}

std::string status_topic(const gateway& cfg) { return availability_topic(cfg.availability.gateway_topic, cfg, ""); }

}  // namespace fieldbridge::config
