#include "config/wire_strings.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>
#include <variant>

#include "common/reserved_topic.hpp"
#include "common/utf8.hpp"
#include "config/topic.hpp"

namespace fieldbridge::config {

namespace {

// "E2 82": the bytes of the sequence that does not decode, for the message.
std::string hex_bytes(std::string_view text, std::size_t at) {
    std::string out;
    for (std::size_t k = at; k < text.size() && k < at + 4; ++k) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned>(static_cast<unsigned char>(text[k])));
        if (!out.empty()) out += ' ';
        out += buf;
        // A sequence ends before the next lead or ASCII byte.
        if (k + 1 < text.size() && (static_cast<unsigned char>(text[k + 1]) & 0xC0u) != 0x80u) break;
    }
    return out;
}

std::string shortened(std::string_view text) {
    if (text.size() <= 60) return std::string(text);
    return std::string(text.substr(0, 40)) + "...";
}

// Collects the problems of one check run: each string once per key, and
// each expanded-topic problem once per key that causes it.
class checker {
public:
    checker(const gateway& cfg, diagnostic_list& out) : cfg_(cfg), out_(out), found_before_(out.count()) {}

    void run() {
        strings();
        // An invalid part would be reported again for every topic built from it.
        if (out_.count() == found_before_) topics();
        for (const auto& [key, r] : reports_) {
            std::string message = r.message;
            if (r.more > 0) message += " (and " + std::to_string(r.more) + " more topics built from " + key + ")";
            add(out_, r.mark, std::move(message));
        }
    }

private:
    struct report {
        source_mark mark;
        std::string message;
        std::size_t more = 0;
    };

    const gateway& cfg_;
    diagnostic_list& out_;
    std::size_t found_before_;  // by the checks before this one
    std::map<std::string, report> reports_;  // by the key blamed, first problem kept

    void text(const source_mark& at, const std::string& path, std::string_view value) {
        if (const auto why = string_setting_error(value)) add(out_, at, path + ": " + *why);
    }

    // A string CONNECT carries that servers check as a topic's text.
    void sent_text(const source_mark& at, const std::string& path, std::string_view value) {
        if (const auto why = sent_string_error(value)) add(out_, at, path + ": " + *why);
    }

    // A part of every topic (publish.prefix, the command suffixes).
    void topic_part(const source_mark& at, const std::string& path, std::string_view value) {
        if (const auto why = string_setting_error(value)) {
            add(out_, at, path + ": " + *why);
        } else if (const auto wildcard = topic_text_error(value)) {
            add(out_, at, path + ": " + *wildcard);
        }
    }

    void point_strings(const point& p, const std::string& path) {
        text(p.mark, path + ".name", p.name);
        text(p.mark, path + ".unit", p.unit);
        if (p.topic) {
            if (const auto why = string_setting_error(*p.topic)) {
                add(out_, p.mark, path + ".topic: " + *why);
            } else if (const auto bad = topic_template_error(*p.topic)) {
                add(out_, p.mark, path + ".topic: " + *bad);
            }
        }
    }

    void strings() {
        const broker& b = cfg_.mqtt;
        text(b.mark, "mqtt.host", b.host);
        for (std::size_t i = 0; i < b.failover.size(); ++i) {
            text(b.mark, "mqtt.failover[" + std::to_string(i) + "]", b.failover[i].first);
        }
        sent_text(b.mark, "mqtt.client_id", b.client_id);
        if (b.client_id.empty()) add(out_, b.mark, "mqtt.client_id: is empty; expected a non-empty client id");
        sent_text(b.mark, "mqtt.username", b.username);
        text(b.mark, "mqtt.password", b.password);
        // The client sends no empty user name; 3.1.1 has no password without one [MQTT-3.1.2-22].
        if (!b.password.empty() && b.username.empty() && b.protocol == mqtt_protocol::v3_1_1) {
            add(out_, b.mark, "mqtt.username: is empty while mqtt.password is set; expected a user name (MQTT 3.1.1 "
                              "sends no password without one)");
        }
        text(b.mark, "mqtt.tls.ca_file", b.tls.ca_file);
        text(b.mark, "mqtt.tls.cert_file", b.tls.cert_file);
        text(b.mark, "mqtt.tls.key_file", b.tls.key_file);

        topic_part(cfg_.publish.mark, "publish.prefix", cfg_.publish.prefix);
        template_text(cfg_.publish.mark, "publish.topic", cfg_.publish.topic_template, false);
        text(cfg_.store.mark, "store.path", cfg_.store.path);
        text(cfg_.control.mark, "control.socket", cfg_.control.socket);

        const command_settings& c = cfg_.commands;
        topic_part(c.mark, "commands.suffix", c.suffix);
        topic_part(c.mark, "commands.reply_suffix", c.reply_suffix);
        template_text(c.mark, "commands.device_topic", c.device_topic, true);
        template_text(cfg_.availability.mark, "availability.gateway_topic", cfg_.availability.gateway_topic, false);
        template_text(cfg_.availability.mark, "availability.device_topic", cfg_.availability.device_topic, false);

        // A profile's points are shared by its devices: checked once, under the profile.
        std::set<const point*> seen;
        for (const auto& pr : cfg_.profiles) {
            text(pr.mark, "profiles." + pr.name, pr.name);
            for (const auto& p : pr.points) {
                if (seen.insert(&p).second) point_strings(p, "profiles." + pr.name + ".points[" + p.name + "]");
            }
        }
        for (const auto& bs : cfg_.buses) {
            text(bs.mark, "buses." + bs.name, bs.name);
            if (const auto* tcp = std::get_if<tcp_link>(&bs.link)) text(bs.mark, "buses." + bs.name + ".host", tcp->host);
            if (const auto* rtu = std::get_if<rtu_link>(&bs.link)) {
                text(bs.mark, "buses." + bs.name + ".device", rtu->device);
            }
        }
        for (const auto& d : cfg_.devices) {
            text(d.mark, "devices." + d.name, d.name);
            for (const auto& p : d.points) {
                if (seen.insert(&p).second) point_strings(p, "devices." + d.name + ".points[" + p.name + "]");
            }
        }
    }

    void template_text(const source_mark& at, const std::string& path, const std::string& tmpl, bool may_be_empty) {
        if (const auto why = string_setting_error(tmpl)) {
            add(out_, at, path + ": " + *why);
        } else if (!(may_be_empty && tmpl.empty())) {
            if (const auto bad = topic_template_error(tmpl)) add(out_, at, path + ": " + *bad);
        }
    }

    // A topic built from the configuration: refused once per template key.
    void topic(const std::string& key, const source_mark& at, const std::string& what, const std::string& value,
               const std::string& parts) {
        const auto why = topic_name_error(value);
        if (!why) return;
        const auto [it, first] = reports_.try_emplace(key);
        if (!first) {
            ++it->second.more;
            return;
        }
        it->second.mark = at;
        it->second.message = key + ": " + what + " \"" + shortened(value) + "\" " + *why +
                             "; expected an MQTT topic name of 1.." + std::to_string(max_mqtt_string) +
                             " bytes without + or #: it is built from " + parts;
    }

    // What a template's topics are made of, for the message.
    std::string parts_of(const std::string& key, const std::string& tmpl) const {
        std::string out = key;
        if (tmpl.find("{prefix}") != std::string::npos) {
            out += ", publish.prefix (" + std::to_string(cfg_.publish.prefix.size()) + " bytes)";
        }
        return out + " and the names it puts in";
    }

    static const source_mark& either(const source_mark& preferred, const source_mark& fallback) {
        return preferred.line > 0 ? preferred : fallback;
    }

    // Sparkplug B's topics: spBv1.0/<group>/<TYPE>/<edge node>[/<device>],
    // the longest TYPE being six letters (NBIRTH, DDEATH, ...), and the
    // primary host's spBv1.0/STATE/<host id>. Each id is a name (letters,
    // digits, '_', '.', '-'), so only the length can be wrong.
    void sparkplug_topics() {
        const auto& s = cfg_.sparkplug;
        const std::string node = "spBv1.0/" + s.group_id + "/NBIRTH/" + edge_node_id(s, cfg_.mqtt);
        const std::string parts = "sparkplug.group_id and the edge node id (sparkplug.edge_node_id or mqtt.client_id)";
        topic("sparkplug.group_id", either(s.mark, cfg_.mqtt.mark), "the Sparkplug node topic", node, parts);
        for (const auto& d : cfg_.devices) {
            topic("sparkplug.group_id", either(s.mark, d.mark), "the Sparkplug topic of devices." + d.name,
                  node + "/" + d.name, parts + ", then the device name");
        }
        if (!s.primary_host_id.empty()) {
            topic("sparkplug.primary_host_id", either(s.mark, cfg_.mqtt.mark), "the primary host's STATE topic",
                  "spBv1.0/STATE/" + s.primary_host_id, "sparkplug.primary_host_id");
        }
    }

    void topics() {
        const command_settings& c = cfg_.commands;
        const std::string& publish_tmpl = cfg_.publish.topic_template;
        for (const auto& d : cfg_.devices) {
            const auto b = std::find_if(cfg_.buses.begin(), cfg_.buses.end(), [&](const bus& x) { return x.name == d.bus; });
            if (b == cfg_.buses.end()) continue;  // validate reports the missing bus
            for (const auto& p : d.points) {
                const std::string path = "devices." + d.name + ".points[" + p.name + "]";
                const std::string key = p.topic ? path + ".topic" : std::string("publish.topic");
                const source_mark& at = p.topic ? p.mark : either(cfg_.publish.mark, p.mark);
                const std::string parts = parts_of(key, p.topic ? *p.topic : publish_tmpl);
                const auto state = point_topic(cfg_.publish, d, p, *b);
                topic(key, at, "the topic of " + path, state, parts);
                if (!c.enabled) continue;
                topic(key, at, "the command topic of " + path, state + c.suffix, parts + ", then commands.suffix");
                topic(key, at, "the reply topic of " + path, state + c.reply_suffix,
                      parts + ", then commands.reply_suffix");
            }
            if (c.enabled && !c.device_topic.empty()) {
                const auto base = expand_topic(c.device_topic, cfg_.publish, d, point{}, *b);
                const std::string parts = parts_of("commands.device_topic", c.device_topic);
                topic("commands.device_topic", either(c.mark, d.mark), "the command topic of devices." + d.name,
                      base + c.suffix, parts + ", then commands.suffix");
                topic("commands.device_topic", either(c.mark, d.mark), "the reply topic of devices." + d.name,
                      base + c.reply_suffix, parts + ", then commands.reply_suffix");
            }
            if (cfg_.publish.format == payload_format::device) {
                topic("publish.device_topic", either(cfg_.publish.mark, d.mark), "the value topic of devices." + d.name,
                      expand_topic(cfg_.publish.device_topic, cfg_.publish, d, point{}, *b),
                      parts_of("publish.device_topic", cfg_.publish.device_topic));
            }
            topic("availability.device_topic", either(cfg_.availability.mark, d.mark),
                  "the availability topic of devices." + d.name,
                  availability_topic(cfg_.availability.device_topic, cfg_, d.name),
                  parts_of("availability.device_topic", cfg_.availability.device_topic));
        }
        if (cfg_.publish.format == payload_format::sparkplug) sparkplug_topics();
        // The birth message, the last will (in CONNECT) and the goodbye; no
        // device is named in it, so {device}, {bus} and {point} expand to nothing.
        // Marked where the template is, else where the prefix it puts in is.
        const auto& gateway_tmpl = cfg_.availability.gateway_topic;
        const source_mark& put_in = gateway_tmpl.find("{prefix}") != std::string::npos
                                        ? either(cfg_.publish.mark, cfg_.mqtt.mark)
                                        : cfg_.mqtt.mark;
        topic("availability.gateway_topic", either(cfg_.availability.mark, put_in), "the gateway's status topic",
              status_topic(cfg_),
              parts_of("availability.gateway_topic", cfg_.availability.gateway_topic));
    }
};

}  // namespace

std::optional<std::string> string_setting_error(std::string_view text) {
    if (text.size() > max_mqtt_string) {
        return "is " + std::to_string(text.size()) + " bytes long; expected at most " +
               std::to_string(max_mqtt_string) + " bytes (the most an MQTT string holds)";
    }
    const auto problem = find_utf8_problem(text);
    switch (problem.problem) {
        case utf8_problem::none:
            return std::nullopt;
        case utf8_problem::null_character:
            return "contains U+0000 (NUL) at byte " + std::to_string(problem.offset) +
                   "; expected text without NUL characters, which MQTT strings may not hold";
        case utf8_problem::invalid_sequence:
            return "is not valid UTF-8 (" + hex_bytes(text, problem.offset) + " at byte " +
                   std::to_string(problem.offset) +
                   "); expected UTF-8 text: save the file as UTF-8, or write the character as \"\\uXXXX\" in a "
                   "double-quoted string";
    }
    return std::nullopt;
}

std::optional<std::string> topic_name_error(std::string_view text) {
    if (text.empty()) return std::string("is empty; an MQTT topic has at least one character");
    if (text.size() > max_mqtt_string) {
        return "is " + std::to_string(text.size()) + " bytes long, more than the " + std::to_string(max_mqtt_string) +
               " bytes an MQTT topic holds";
    }
    if (auto why = string_setting_error(text)) return why;
    if (auto wildcard = topic_text_error(text)) return wildcard;
    if (const auto first = reserved_topic_prefix(text); !first.empty()) return reserved_topic_error(first);
    return std::nullopt;
}

std::optional<std::string> sent_string_error(std::string_view text) {
    if (auto why = string_setting_error(text)) return why;
    if (const auto refused = find_refused_code_point(text)) return refused_code_point_error(refused);
    return std::nullopt;
}

std::optional<std::string> client_id_warning(std::string_view client_id) {
    if (client_id.size() <= portable_client_id) return std::nullopt;
    return "is " + std::to_string(client_id.size()) + " bytes long; an MQTT 3.1.1 server need not accept more than " +
           std::to_string(portable_client_id) + " bytes (mosquitto and most others do), so keep it short if the "
           "broker refuses the connection with \"identifier rejected\"";
}

void check_wire_strings(const gateway& cfg, diagnostic_list& out) { checker(cfg, out).run(); }

}  // namespace fieldbridge::config
