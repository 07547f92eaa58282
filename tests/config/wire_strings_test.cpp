// "Whatever `fieldbridge check` accepts, `fieldbridge run` can encode,
// publish and subscribe", for every string of the configuration and a list of
// hostile values. Each configuration either fails to load with a diagnostic
// at a real line and column naming the key, or every CONNECT, PUBLISH (each
// point through the payload builder, availability, birth), SUBSCRIBE and
// command reply that `run` builds from it encodes, and every JSON payload
// parses and carries the configured strings unchanged. There is no third
// outcome.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/utf8.hpp"
#include "config/loader.hpp"
#include "config/topic.hpp"
#include "config/validate.hpp"
#include "config/wire_strings.hpp"
#include "gateway/client_options.hpp"
#include "gateway/commands.hpp"
#include "gateway/payload.hpp"
#include "gateway/point_mapper.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;

// ---- the hostile values ----

struct hostile {
    std::string label;
    std::string bytes;
    // No string setting may hold it: not UTF-8, U+0000, or more than an
    // MQTT string holds. Refused wherever it is written, at its line.
    bool bad_alone;
};

std::vector<hostile> hostile_values() {
    return {
        {"invalid UTF-8 FF FE", "\xFF\xFE", true},
        {"overlong C0 AF", "\xC0\xAF", true},
        {"lone surrogate ED A0 80", "\xED\xA0\x80", true},
        {"truncated E2 82", "\xE2\x82", true},
        {"U+0000", std::string("a\0b", 3), true},
        {"65536 bytes", std::string(65536, 'x'), true},
        {"70000 bytes", std::string(70000, 'x'), true},
        {"5 MB", std::string(5u << 20, 'x'), true},
        {"+", "+", false},
        {"#", "#", false},
        {"wildcards in levels", "a/+/#", false},
        {"empty", "", false},
        // Fits an MQTT string alone, not a topic together with anything else.
        {"65530 bytes", std::string(65530, 'y'), false},
        {"valid multibyte", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", false},  // é € 😀
        // Valid UTF-8 that MQTT servers close the connection over in a topic,
        // a client id or a user name (common/utf8.hpp, is_refused_code_point).
        {"tab", "a\tb", false},
        {"U+0001", "a\x01", false},
        {"DEL", "\x7F", false},
        {"U+0085 (C1)", "a\xC2\x85", false},
        {"U+FDD0", "\xEF\xB7\x90", false},
        {"U+FFFF", "a\xEF\xBF\xBF", false},
        {"U+10FFFE", "\xF4\x8F\xBF\xBE", false},
        // Topics the broker keeps from clients (common/reserved_topic.hpp).
        {"$SYS", "$SYS/x", false},
        {"$share", "$share/g/x", false},
        {"$SYS alone", "$SYS", false},
    };
}

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7F) {
            out += c;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        }
    }
    if (s.size() > 200) out += "...(" + std::to_string(s.size()) + " bytes)";
    return out;
}

// A YAML double-quoted scalar holding exactly these bytes: NUL as the \0
// escape, the other C0 controls and DEL as \xNN, every other byte (valid
// UTF-8 or not) as it is.
std::string yaml_quoted(std::string_view bytes) {
    std::string out = "\"";
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\0') {
            out += "\\0";
        } else if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// ---- the configuration: every string setting in a slot ----

// The base configuration, one setting per line; {{slot}} is replaced by the
// quoted value of that slot.
const char* const base_yaml = R"(mqtt:
  host: {{mqtt.host}}
  client_id: {{mqtt.client_id}}
  username: {{mqtt.username}}
  password: {{mqtt.password}}
  failover:
    - {{mqtt.failover}}
  tls:
    enabled: false
    ca_file: {{mqtt.tls.ca_file}}
    cert_file: {{mqtt.tls.cert_file}}
    key_file: {{mqtt.tls.key_file}}
publish:
  prefix: {{publish.prefix}}
  topic: {{publish.topic}}
  device_topic: {{publish.device_topic}}
store:
  path: {{store.path}}
control:
  socket: {{control.socket}}
commands:
  suffix: {{commands.suffix}}
  reply_suffix: {{commands.reply_suffix}}
  device_topic: {{commands.device_topic}}
availability:
  gateway_topic: {{availability.gateway_topic}}
  device_topic: {{availability.device_topic}}
profiles:
  {{profile}}:
    points:
      - name: {{profile.point.name}}
        register: holding
        address: 10
        type: string
        length: 4
        unit: {{profile.point.unit}}
buses:
  {{bus}}:
    type: tcp
    host: {{bus.host}}
    port: 1502
  serial:
    type: rtu
    device: {{bus.serial.device}}
devices:
  {{device}}:
    bus: {{device.bus}}
    unit_id: 1
    points:
      - name: {{point.name}}
        register: holding
        address: 0
        type: float32
        unit: {{point.unit}}
        writable: true
      - name: b
        register: holding
        address: 4
        topic: {{point.topic}}
        writable: true
  m2:
    bus: serial
    unit_id: 2
    profile: {{device.profile}}
    simulator_faults:
      unmapped:
        - {{device.unmapped}}
      unanswered:
        - {{device.unanswered}}
)";

const std::map<std::string, std::string>& valid_values() {
    static const std::map<std::string, std::string> values{
        {"mqtt.host", "localhost"},
        {"mqtt.client_id", "fieldbridge-test"},
        {"mqtt.username", "gw"},
        {"mqtt.password", "secret"},
        {"mqtt.failover", "broker-b"},
        {"mqtt.tls.ca_file", "ca.pem"},
        {"mqtt.tls.cert_file", "cert.pem"},
        {"mqtt.tls.key_file", "key.pem"},
        {"publish.prefix", "plant"},
        {"publish.topic", "{prefix}/{device}/{point}"},
        {"publish.device_topic", "{prefix}/{device}"},
        {"store.path", "queue.db"},
        {"control.socket", "control.sock"},
        {"commands.suffix", "/set"},
        {"commands.reply_suffix", "/reply"},
        {"commands.device_topic", "{prefix}/{device}/cmd"},
        {"availability.gateway_topic", "{prefix}/status"},
        {"availability.device_topic", "{prefix}/{device}/availability"},
        {"profile", "meter"},
        {"profile.point.name", "serial_no"},
        {"profile.point.unit", "text"},
        {"bus", "line"},
        {"bus.host", "127.0.0.1"},
        {"bus.serial.device", "/dev/ttyUSB0"},
        {"device", "m1"},
        {"device.bus", "line"},
        {"point.name", "a"},
        {"point.unit", "V"},
        {"point.topic", "{prefix}/{device}/{point}/own"},
        {"device.profile", "meter"},
        {"device.unmapped", "20-29"},
        {"device.unanswered", "30-39"},
    };
    return values;
}

// One string setting: the slot it is written in, the key diagnostics name
// (alternatives separated by '|'), and the text around the hostile value (a template keeps its placeholders,
// so that the value is tested as part of a topic as well as on its own).
struct string_field {
    std::string slot;
    std::string key;
    std::string before = {};
};

// Every string the configuration has (config/model.hpp), in the file.
const std::vector<string_field>& string_fields() {
    static const std::vector<string_field> fields{
        {"mqtt.host", "mqtt.host"},
        {"mqtt.client_id", "mqtt.client_id"},
        {"mqtt.username", "mqtt.username"},
        {"mqtt.password", "mqtt.password"},
        {"mqtt.failover", "mqtt.failover[0]"},
        {"mqtt.tls.ca_file", "mqtt.tls.ca_file"},
        {"mqtt.tls.cert_file", "mqtt.tls.cert_file"},
        {"mqtt.tls.key_file", "mqtt.tls.key_file"},
        {"publish.prefix", "publish.prefix"},
        {"publish.topic", "publish.topic"},
        {"publish.topic", "publish.topic", "{prefix}/{device}/{point}/"},
        {"publish.device_topic", "publish.device_topic"},
        {"publish.device_topic", "publish.device_topic", "{prefix}/{device}/"},
        {"store.path", "store.path"},
        {"control.socket", "control.socket"},
        {"commands.suffix", "commands.suffix"},
        {"commands.suffix", "commands.suffix", "/set"},
        {"commands.reply_suffix", "commands.reply_suffix"},
        {"commands.reply_suffix", "commands.reply_suffix", "/reply"},
        {"commands.device_topic", "commands.device_topic"},
        {"commands.device_topic", "commands.device_topic", "{prefix}/{device}/cmd/"},
        {"availability.gateway_topic", "availability.gateway_topic"},
        {"availability.gateway_topic", "availability.gateway_topic", "{prefix}/status/"},
        {"availability.device_topic", "availability.device_topic"},
        {"availability.device_topic", "availability.device_topic", "{prefix}/{device}/availability/"},
        {"profile", "profiles."},
        // A point is named in paths by its name when it is a valid one, else by its index.
        {"profile.point.name", "profiles.meter.points[|devices.m2.points["},  // m2 uses the profile
        {"profile.point.unit", "profiles.meter.points[serial_no].unit"},
        {"bus", "buses."},
        {"bus.host", "buses.line.host"},
        {"bus.serial.device", "buses.serial.device"},
        {"device", "devices."},
        {"device.bus", "devices.m1.bus"},
        {"point.name", "devices.m1.points["},
        {"point.unit", "devices.m1.points[a].unit"},
        {"point.topic", "devices.m1.points[b].topic"},
        {"point.topic", "devices.m1.points[b].topic", "{prefix}/{device}/{point}/"},
        {"device.profile", "devices.m2.profile"},
        {"device.unmapped", "devices.m2.simulator_faults.unmapped[0]"},
        {"device.unanswered", "devices.m2.simulator_faults.unanswered[0]"},
    };
    return fields;
}

struct rendered {
    std::string text;
    int line = 0;  // 1-based line of the slot under test
};

rendered render(const std::string& slot, const std::string& value) {
    rendered out;
    std::string text = base_yaml;
    for (const auto& [name, valid] : valid_values()) {
        const std::string token = "{{" + name + "}}";
        const auto at = text.find(token);
        if (at == std::string::npos) {
            ADD_FAILURE() << "no slot " << name;
            continue;
        }
        if (name == slot) {
            out.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
        }
        text.replace(at, token.size(), yaml_quoted(name == slot ? value : valid));
    }
    out.text = std::move(text);
    return out;
}

// ---- the packets `run` builds ----

// mqtt/client.cpp's translation of its options into the session's.
mqtt::session_options session_options_of(const mqtt::client_options& o) {
    mqtt::session_options s;
    s.version = o.version;
    s.session_expiry = o.session_expiry;
    s.client_id = o.client_id;
    s.keepalive = o.keepalive;
    s.clean_session = o.clean_session;
    s.will = o.will;
    if (!o.username.empty()) s.username = o.username;
    if (!o.password.empty()) s.password = o.password;
    s.max_inflight = 60000;  // every message of the test goes out at once
    return s;
}

class run_packets {
public:
    run_packets(const config::gateway& cfg, mqtt::protocol_version version)
        : cfg_(cfg), version_(version), session_(session_options_of(options())) {}

    // Builds and encodes everything; failures are reported with `context`.
    void check(const std::string& context) {
        context_ = context;
        connect();
        if (::testing::Test::HasFatalFailure()) return;
        subscribe();
        publish_points();
        publish_device_messages();
        publish_availability();
        reply_to_commands();
    }

private:
    const config::gateway& cfg_;
    mqtt::protocol_version version_;
    mqtt::session session_;
    std::string context_;
    std::uint64_t token_ = 1;
    mqtt::clock::time_point now_ = mqtt::clock::time_point{} + 1h;

    mqtt::client_options options() const {
        auto o = gateway::client_options_from(cfg_);
        o.version = version_;
        return o;
    }

    // Every packet the session asks to send encodes; returns how many.
    std::size_t expect_encoded(const mqtt::actions& actions, const char* what) {
        std::size_t sent = 0;
        for (const auto& a : actions) {
            const auto* s = std::get_if<mqtt::action::send>(&a);
            if (!s) continue;
            ++sent;
            const auto bytes = mqtt::encode(s->packet, version_);
            EXPECT_TRUE(bytes.has_value()) << context_ << ": " << what << " does not encode: " << bytes.error().message();
        }
        return sent;
    }

    void connect() {
        const auto o = options();
        ASSERT_TRUE(o.will.has_value());
        EXPECT_EQ(o.will->topic, config::availability_topic(cfg_.availability.gateway_topic, cfg_, ""));
        ASSERT_EQ(expect_encoded(session_.on_transport_connected(now_), "CONNECT"), 1u) << context_;
        (void)session_.on_packet(mqtt::connack{}, now_);
        ASSERT_EQ(session_.state(), mqtt::session::link::connected) << context_;
    }

    void subscribe() {
        const gateway::command_table table(cfg_);
        if (cfg_.commands.enabled) {
            EXPECT_FALSE(table.filters().empty()) << context_;
        }
        std::vector<mqtt::subscription> all;
        for (const auto& filter : table.filters()) {
            // As the app subscribes: one filter per SUBSCRIBE.
            EXPECT_EQ(expect_encoded(session_.subscribe({{filter, mqtt::qos::at_least_once}}, 0, now_), "SUBSCRIBE"), 1u)
                << context_ << ": " << printable(filter);
            all.push_back({filter, mqtt::qos::at_least_once});
        }
        // As a fresh session renews them: all in one SUBSCRIBE.
        if (!all.empty()) (void)expect_encoded(session_.subscribe(all, 0, now_), "SUBSCRIBE of every filter");
    }

    void publish(mqtt::message m, const char* what) {
        EXPECT_EQ(expect_encoded(session_.publish(std::move(m), token_++, now_), what), 1u) << context_ << ": " << what;
    }

    // Registers every point can hold ("ABAB..." for a string: a string that
    // is not UTF-8 is a decode error, a bad reading).
    static std::vector<std::uint16_t> words_for(const config::point& p) {
        return std::vector<std::uint16_t>(std::max<std::uint32_t>(1, config::register_count(p)), 0x4142);
    }

    // A poll of every point of d, all good or all timed out.
    static modbus::poll_result poll_of(const config::device& d, bool good) {
        const auto wall = std::chrono::system_clock::time_point{} + 20000 * 24h;
        modbus::poll_result r{d.name, wall, {}, {}, {}, false, {}};
        for (std::size_t i = 0; i < d.points.size(); ++i) {
            modbus::quality q{good, good ? std::error_code{} : std::make_error_code(std::errc::timed_out)};
            r.samples.push_back(modbus::sample{i, words_for(d.points[i]), q});
        }
        return r;
    }

    void publish_points() {
        gateway::point_mapper mapper(cfg_);
        for (const auto& good : {true, false}) {
            for (const auto& d : cfg_.devices) {
                const auto messages = mapper.map(poll_of(d, good), std::chrono::steady_clock::time_point{} + 1h);
                EXPECT_EQ(messages.size(), d.points.size()) << context_ << ": device " << printable(d.name);
                for (std::size_t i = 0; i < messages.size() && i < d.points.size(); ++i) {
                    const auto& p = d.points[i];
                    if (cfg_.publish.format == config::payload_format::json) {
                        const auto j = nlohmann::json::parse(messages[i].payload, nullptr, false);
                        EXPECT_FALSE(j.is_discarded()) << context_ << ": payload " << printable(messages[i].payload);
                        // The configured unit goes out as configured.
                        if (!p.unit.empty() && j.is_object()) {
                            EXPECT_EQ(j.value("unit", std::string()), p.unit) << context_ << ": unit";
                        }
                    }
                    publish(messages[i], "PUBLISH of a point");
                }
            }
        }
    }

    // The same readings as format: device, one message per device (the
    // configuration under test takes the per-point format; its device
    // topic is checked here all the same).
    void publish_device_messages() {
        auto cfg = cfg_;
        cfg.publish.format = config::payload_format::device;
        gateway::point_mapper mapper(cfg);
        for (const auto& good : {true, false}) {
            for (const auto& d : cfg.devices) {
                const auto messages = mapper.map(poll_of(d, good), std::chrono::steady_clock::time_point{} + 1h);
                EXPECT_EQ(messages.size(), d.points.empty() ? 0u : 1u) << context_ << ": device " << printable(d.name);
                for (const auto& m : messages) {
                    const auto j = nlohmann::json::parse(m.payload, nullptr, false);
                    EXPECT_TRUE(j.is_object()) << context_ << ": payload " << printable(m.payload);
                    if (j.is_object()) {
                        EXPECT_EQ(j.value("points", nlohmann::json::object()).size(), d.points.size()) << context_;
                    }
                    publish(m, "PUBLISH of a device's points");
                }
            }
        }
    }

    void publish_availability() {
        const nlohmann::json state = {{"state", "online"}, {"ts", "2026-12-01T00:00:00.000Z"}};
        for (const auto& d : cfg_.devices) {
            publish(mqtt::message{config::availability_topic(cfg_.availability.device_topic, cfg_, d.name), state.dump(),
                                  mqtt::qos::at_least_once, true},
                    "PUBLISH of a device's availability");
        }
        publish(mqtt::message{config::availability_topic(cfg_.availability.gateway_topic, cfg_, ""), state.dump(),
                              mqtt::qos::at_least_once, true},
                "PUBLISH of the birth message");
    }

    void reply(const gateway::command_table& table, const std::string& command_topic, const nlohmann::json& value) {
        EXPECT_TRUE(table.find(command_topic).has_value()) << context_ << ": no command topic " << printable(command_topic);
        const nlohmann::json j = {{"id", "1"}, {"ok", true}, {"value", value}};
        const auto payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        EXPECT_FALSE(nlohmann::json::parse(payload, nullptr, false).is_discarded()) << context_;
        publish(mqtt::message{table.reply_topic_for(command_topic), payload, mqtt::qos::at_least_once, false},
                "PUBLISH of a command reply");
    }

    void reply_to_commands() {
        if (!cfg_.commands.enabled) return;
        const gateway::command_table table(cfg_);
        for (const auto& d : cfg_.devices) {
            const auto b = std::find_if(cfg_.buses.begin(), cfg_.buses.end(), [&](const auto& x) { return x.name == d.bus; });
            ASSERT_NE(b, cfg_.buses.end());
            for (const auto& p : d.points) {
                reply(table, config::point_topic(cfg_.publish, d, p, *b) + cfg_.commands.suffix,
                      gateway::point_value(p, words_for(p)));
            }
            if (!cfg_.commands.device_topic.empty()) {
                reply(table,
                      config::expand_topic(cfg_.commands.device_topic, cfg_.publish, d, config::point{}, *b) +
                          cfg_.commands.suffix,
                      nlohmann::json::object());
            }
        }
    }
};

void expect_run_encodes(const config::gateway& cfg, const std::string& context) {
    for (const auto version : {mqtt::protocol_version::v3_1_1, mqtt::protocol_version::v5}) {
        auto copy = cfg;
        copy.mqtt.protocol = version == mqtt::protocol_version::v5 ? config::mqtt_protocol::v5 : config::mqtt_protocol::v3_1_1;
        run_packets(copy, version).check(context + (version == mqtt::protocol_version::v5 ? " (MQTT 5)" : " (MQTT 3.1.1)"));
    }
}

bool mentions(const config::diagnostic& d, const std::string& text) { return d.message.find(text) != std::string::npos; }

bool names_key(const config::diagnostic& d, const std::string& keys) {
    std::size_t start = 0;
    while (start <= keys.size()) {
        const auto bar = std::min(keys.find('|', start), keys.size());
        if (mentions(d, keys.substr(start, bar - start))) return true;
        start = bar + 1;
    }
    return false;
}

std::string listing(const std::vector<config::diagnostic>& ds) {
    std::string out;
    for (std::size_t i = 0; i < ds.size() && i < 4; ++i) out += "\n  " + printable(config::to_string(ds[i]));
    return out;
}

// ---- the invariant over the file ----

TEST(wire_strings, base_configuration_loads_and_runs) {
    const auto text = render("", "").text;
    const auto cfg = config::load_string(text, "plant.yaml");
    EXPECT_EQ(cfg.devices.size(), 2u);
    expect_run_encodes(cfg, "base");
}

TEST(wire_strings, every_string_setting_is_refused_at_its_line_or_encodes) {
    std::size_t refused = 0;
    std::size_t accepted = 0;
    for (const auto& field : string_fields()) {
        for (const auto& h : hostile_values()) {
            const std::string value = field.before + h.bytes;
            const auto r = render(field.slot, value);
            const std::string context = field.key + (field.before.empty() ? "" : " (after \"" + field.before + "\")") +
                                        " = " + h.label;
            ASSERT_GT(r.line, 0) << context;
            std::optional<config::gateway> cfg;
            std::vector<config::diagnostic> diagnostics;
            try {
                cfg = config::load_string(r.text, "plant.yaml");
            } catch (const config::config_error& e) {
                diagnostics = e.diagnostics();
            }
            if (!cfg) {
                ++refused;
                // At the value's line (a value that no setting may hold, and
                // refusals of a value of its own), or, for a topic built from
                // it, wherever that topic is configured: a real line and
                // column, naming the key either way. A file refused as a
                // whole for not being UTF-8, or a map key longer than YAML
                // allows (1024 characters), is refused at the line of the value.
                const bool found = std::any_of(diagnostics.begin(), diagnostics.end(), [&](const config::diagnostic& d) {
                    if (d.file != "plant.yaml" || d.line < 1 || d.column < 1) return false;
                    if (d.line == r.line && (mentions(d, "UTF-8") || mentions(d, "YAML syntax error"))) return true;
                    return names_key(d, field.key) && (!h.bad_alone || d.line == r.line);
                });
                EXPECT_TRUE(found) << context << ": refused without a diagnostic at line " << r.line << " naming "
                                   << field.key << ":" << listing(diagnostics);
                continue;
            }
            ++accepted;
            EXPECT_FALSE(h.bad_alone) << context << ": accepted; no string setting may hold it";
            expect_run_encodes(*cfg, context);
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
    // Both outcomes occur: the property is not vacuous.
    EXPECT_GT(refused, 0u);
    EXPECT_GT(accepted, 0u);
}

// ---- the invariant over the model, whatever reader built it ----

struct model_field {
    std::string key;
    std::function<void(config::gateway&, const std::string&)> set;
};

config::point& own_point(config::gateway& g, std::size_t device, std::size_t point) {
    return g.devices.at(device).points.edit().at(point);
}

const std::vector<model_field>& model_fields() {
    using config::gateway;
    using str = const std::string&;
    static const std::vector<model_field> fields{
        {"mqtt.host", [](gateway& g, str v) { g.mqtt.host = v; }},
        {"mqtt.failover[0]", [](gateway& g, str v) { g.mqtt.failover.at(0).first = v; }},
        {"mqtt.client_id", [](gateway& g, str v) { g.mqtt.client_id = v; }},
        {"mqtt.username", [](gateway& g, str v) { g.mqtt.username = v; }},
        {"mqtt.password", [](gateway& g, str v) { g.mqtt.password = v; }},
        {"mqtt.tls.ca_file", [](gateway& g, str v) { g.mqtt.tls.ca_file = v; }},
        {"mqtt.tls.cert_file", [](gateway& g, str v) { g.mqtt.tls.cert_file = v; }},
        {"mqtt.tls.key_file", [](gateway& g, str v) { g.mqtt.tls.key_file = v; }},
        {"publish.prefix", [](gateway& g, str v) { g.publish.prefix = v; }},
        {"publish.topic", [](gateway& g, str v) { g.publish.topic_template = v; }},
        {"publish.topic", [](gateway& g, str v) { g.publish.topic_template = "{prefix}/{device}/{point}/" + v; }},
        {"store.path", [](gateway& g, str v) { g.store.path = v; }},
        {"control.socket", [](gateway& g, str v) { g.control.socket = v; }},
        {"commands.suffix", [](gateway& g, str v) { g.commands.suffix = v; }},
        {"commands.reply_suffix", [](gateway& g, str v) { g.commands.reply_suffix = v; }},
        {"commands.device_topic", [](gateway& g, str v) { g.commands.device_topic = v; }},
        {"commands.device_topic", [](gateway& g, str v) { g.commands.device_topic = "{prefix}/{device}/" + v; }},
        {"availability.gateway_topic", [](gateway& g, str v) { g.availability.gateway_topic = v; }},
        {"availability.gateway_topic", [](gateway& g, str v) { g.availability.gateway_topic = "{prefix}/" + v; }},
        {"availability.device_topic", [](gateway& g, str v) { g.availability.device_topic = v; }},
        {"availability.device_topic", [](gateway& g, str v) { g.availability.device_topic = "{prefix}/{device}/" + v; }},
        {"buses.line.host", [](gateway& g, str v) { std::get<config::tcp_link>(g.buses.at(0).link).host = v; }},
        {"buses.serial.device", [](gateway& g, str v) { std::get<config::rtu_link>(g.buses.at(1).link).device = v; }},
        {"devices.m1.points[a].unit", [](gateway& g, str v) { own_point(g, 0, 0).unit = v; }},
        {"devices.m1.points[b].topic", [](gateway& g, str v) { own_point(g, 0, 1).topic = v; }},
        {"devices.m1.points[b].topic",
         [](gateway& g, str v) { own_point(g, 0, 1).topic = "{prefix}/{device}/{point}/" + v; }},
        {"profiles.meter.points[serial_no].unit",
         [](gateway& g, str v) {
             // The profile and the device that uses it share the list.
             auto& list = g.profiles.at(0).points.edit();
             list.at(0).unit = v;
             g.devices.at(1).points = g.profiles.at(0).points;
         }},
    };
    return fields;
}

TEST(wire_strings, every_string_of_the_model_is_refused_by_validate_or_encodes) {
    const auto base = config::load_string(render("", "").text, "plant.yaml");
    ASSERT_EQ(base.buses.at(0).name, "line");
    ASSERT_EQ(base.devices.at(0).name, "m1");
    ASSERT_EQ(base.devices.at(0).points.at(1).name, "b");
    std::size_t refused = 0;
    for (const auto& field : model_fields()) {
        for (const auto& h : hostile_values()) {
            auto g = base;
            field.set(g, h.bytes);
            const std::string context = field.key + " = " + h.label + " (model)";
            const auto diagnostics = config::validate(g);
            if (!diagnostics.empty()) {
                ++refused;
                const bool found = std::any_of(diagnostics.begin(), diagnostics.end(), [&](const config::diagnostic& d) {
                    return d.file == "plant.yaml" && d.line >= 1 && d.column >= 1 && mentions(d, field.key);
                });
                EXPECT_TRUE(found) << context << ": refused without a diagnostic naming " << field.key << ":"
                                   << listing(diagnostics);
                continue;
            }
            EXPECT_FALSE(h.bad_alone) << context << ": validate accepted it";
            expect_run_encodes(g, context);
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
    EXPECT_GT(refused, 0u);
}

// ---- the reported cases, as an operator reads them ----

std::vector<config::diagnostic> errors_of(const std::string& slot, const std::string& value) {
    try {
        (void)config::load_string(render(slot, value).text, "plant.yaml");
    } catch (const config::config_error& e) {
        return e.diagnostics();
    }
    ADD_FAILURE() << slot << " = " << printable(value) << " loaded";
    return {};
}

config::gateway base_model() { return config::load_string(render("", "").text, "plant.yaml"); }

TEST(wire_strings, a_unit_that_is_not_utf8_is_refused_at_its_line) {
    // Through the file: at the unit's line, whichever check sees it first (the
    // reader's, for a file that is not UTF-8 as a whole, or the setting's).
    for (const std::string bad : {"\xFF\xFE", "V\xC0\xAF", "\xE2\x82", "\xED\xA0\x80"}) {
        const auto ds = errors_of("point.unit", bad);
        ASSERT_FALSE(ds.empty()) << printable(bad);
        EXPECT_EQ(ds[0].line, render("point.unit", bad).line) << listing(ds);
        EXPECT_NE(ds[0].message.find("UTF-8"), std::string::npos) << listing(ds);
    }
    // U+0000 is valid UTF-8 and written as an escape: refused by the setting's check.
    auto ds = errors_of("point.unit", std::string("V\0", 2));
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, render("point.unit", "").line);
    EXPECT_EQ(ds[0].column, 15);
    EXPECT_EQ(ds[0].message, "devices.m1.points[a].unit: contains U+0000 (NUL) at byte 1; expected text without NUL "
                             "characters, which MQTT strings may not hold");

    // On the model, whatever reader built it: the key, the bytes and where.
    const auto base = base_model();
    const auto point_line = render("point.name", "a").line;
    const std::vector<std::pair<std::string, std::string>> cases{
        {"\xFF\xFE", "(FF at byte 0)"}, {"V\xC0\xAF", "(C0 AF at byte 1)"}, {"\xE2\x82", "(E2 82 at byte 0)"},
        {"\xED\xA0\x80", "(ED A0 80 at byte 0)"}};
    for (const auto& [bad, where] : cases) {
        auto g = base;
        own_point(g, 0, 0).unit = bad;
        ds = config::validate(g);
        ASSERT_EQ(ds.size(), 1u) << listing(ds);
        EXPECT_EQ(ds[0].line, point_line);
        EXPECT_EQ(ds[0].message, "devices.m1.points[a].unit: is not valid UTF-8 " + where +
                                     "; expected UTF-8 text: save the file as UTF-8, or write the character as "
                                     "\"\\uXXXX\" in a double-quoted string");
    }
}

TEST(wire_strings, a_point_topic_that_is_not_utf8_is_refused_before_any_subscription_is_lost) {
    const std::string bad = "{prefix}/{device}/\xFF/{point}";
    const auto ds = errors_of("point.topic", bad);
    ASSERT_FALSE(ds.empty());
    EXPECT_EQ(ds[0].line, render("point.topic", bad).line) << listing(ds);
    EXPECT_NE(ds[0].message.find("UTF-8"), std::string::npos) << listing(ds);

    auto g = base_model();
    own_point(g, 0, 1).topic = bad;
    const auto model = config::validate(g);
    ASSERT_EQ(model.size(), 1u) << listing(model);
    EXPECT_EQ(model[0].line, render("point.topic", bad).line - 3);  // the point b
    EXPECT_NE(model[0].message.find("devices.m1.points[b].topic: is not valid UTF-8 (FF at byte 18)"), std::string::npos)
        << model[0].message;
}

TEST(wire_strings, client_id_and_prefix_limits) {
    // The hard limit is the MQTT string; above 23 bytes a warning only.
    auto ds = errors_of("mqtt.client_id", std::string(5u << 20, 'c'));
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].message, "mqtt.client_id: is 5242880 bytes long; expected at most 65535 bytes (the most an MQTT "
                             "string holds)");
    const auto long_id = config::load_string(render("mqtt.client_id", std::string(24, 'c')).text, "plant.yaml");
    ASSERT_EQ(long_id.warnings.size(), 1u);
    EXPECT_NE(long_id.warnings[0].find(":3:14: mqtt.client_id: is 24 bytes long; an MQTT 3.1.1 server need not accept "
                                       "more than 23 bytes"),
              std::string::npos)
        << long_id.warnings[0];
    EXPECT_TRUE(config::load_string(render("mqtt.client_id", std::string(23, 'c')).text, "plant.yaml").warnings.empty());
    EXPECT_TRUE(config::load_string(render("mqtt.client_id", std::string(65535, 'c')).text, "plant.yaml").mqtt.client_id.size() ==
                65535);

    ds = errors_of("publish.prefix", std::string(70000, 'p'));
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, render("publish.prefix", "").line);
    EXPECT_EQ(ds[0].message, "publish.prefix: is 70000 bytes long; expected at most 65535 bytes (the most an MQTT "
                             "string holds)");
    auto g = base_model();
    g.publish.prefix = "plant\xC0\xAF";
    ds = config::validate(g);
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, render("publish.prefix", "").line);
    EXPECT_NE(ds[0].message.find("publish.prefix: is not valid UTF-8 (C0 AF at byte 5)"), std::string::npos);
}

TEST(wire_strings, a_control_character_or_a_reserved_first_level_is_refused_at_its_key) {
    auto ds = errors_of("publish.prefix", "plant\t");
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, render("publish.prefix", "").line);
    EXPECT_EQ(ds[0].message, "publish.prefix: contains the control character U+0009 at byte 5; MQTT servers "
                             "(mosquitto among them) close the connection over it: remove it");
    ds = errors_of("mqtt.client_id", "gw\xC2\x9F");
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, render("mqtt.client_id", "").line);
    EXPECT_EQ(ds[0].message, "mqtt.client_id: contains the control character U+009F at byte 2; MQTT servers "
                             "(mosquitto among them) close the connection over it: remove it");
    // (Refused, the user name is taken as not set: the password then lacks one too.)
    ds = errors_of("mqtt.username", "\xEF\xB7\xAF");
    EXPECT_TRUE(std::any_of(ds.begin(), ds.end(), [&](const config::diagnostic& d) {
        return d.line == render("mqtt.username", "").line &&
               mentions(d, "mqtt.username: contains the Unicode non-character U+FDEF at byte 0");
    })) << listing(ds);
    // The password is binary data on the wire: anything goes.
    EXPECT_EQ(config::load_string(render("mqtt.password", "a\tb\x01").text, "plant.yaml").mqtt.password, "a\tb\x01");

    // Written in a template, or put in by the prefix.
    ds = errors_of("availability.gateway_topic", "$SYS/gw/{prefix}");
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].message, "availability.gateway_topic: begins with $SYS, which the broker keeps for itself: it "
                             "drops what clients publish there");
    ds = errors_of("publish.prefix", "$share/x");
    ASSERT_FALSE(ds.empty());
    EXPECT_NE(ds[0].message.find("\"$share/x/"), std::string::npos) << listing(ds);
    EXPECT_NE(ds[0].message.find("begins with $share, which the broker keeps for itself"), std::string::npos)
        << listing(ds);
    // A '$' topic of another name is the broker's to allow.
    EXPECT_EQ(config::load_string(render("publish.prefix", "$aws/things/gw").text, "plant.yaml").publish.prefix,
              "$aws/things/gw");
}

// The status topic is built from defaults alone when the file has neither
// an availability nor an mqtt section: the finding is at the prefix it puts
// in, and in any case names the file.
TEST(wire_strings, a_status_topic_made_of_defaults_is_refused_where_the_prefix_is) {
    const std::string text =
        "publish: { prefix: $SYSt }\n"
        "buses: { line: { type: tcp, host: 127.0.0.1, port: 1502 } }\n"
        "devices: { m1: { bus: line, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] } }\n";
    try {
        (void)config::load_string(text, "plant.yaml");
        ADD_FAILURE() << "a status topic under $SYS loaded";
    } catch (const config::config_error& e) {
        const auto& ds = e.diagnostics();
        const auto it = std::find_if(ds.begin(), ds.end(),
                                     [](const config::diagnostic& d) { return mentions(d, "availability.gateway_topic"); });
        ASSERT_NE(it, ds.end()) << listing(ds);
        EXPECT_EQ(it->file, "plant.yaml") << listing(ds);
        EXPECT_EQ(it->line, 1) << listing(ds);
        for (const auto& d : ds) EXPECT_EQ(d.file, "plant.yaml") << listing(ds);
    }
}

TEST(wire_strings, sparkplug_topics_too_long_are_refused_naming_the_ids) {
    const auto sparkplug = [](const std::string& group, const std::string& host) {
        return "mqtt: { host: localhost, client_id: gw }\n"
               "publish: { format: sparkplug }\n"
               "sparkplug: { group_id: " + group + ", edge_node_id: edge, primary_host_id: " + host + " }\n"
               "buses: { line: { type: tcp, host: 127.0.0.1, port: 1502 } }\n"
               "devices: { m1: { bus: line, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] } }\n";
    };
    // spBv1.0/<group>/NBIRTH/edge/m1: 8 + group + 12 + 3 bytes.
    const std::string fits(65535 - 8 - 12 - 3, 'g');
    EXPECT_NO_THROW((void)config::load_string(sparkplug(fits, "host"), "sp.yaml"));
    try {
        (void)config::load_string(sparkplug(fits + "g", "host"), "sp.yaml");
        ADD_FAILURE() << "a group id one byte too long loaded";
    } catch (const config::config_error& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u) << listing(e.diagnostics());
        EXPECT_EQ(e.diagnostics()[0].line, 3);
        EXPECT_NE(e.diagnostics()[0].message.find("sparkplug.group_id: the Sparkplug topic of devices.m1 "),
                  std::string::npos) << listing(e.diagnostics());
        EXPECT_NE(e.diagnostics()[0].message.find("is 65536 bytes long"), std::string::npos) << listing(e.diagnostics());
    }
    try {
        (void)config::load_string(sparkplug("plant", std::string(65535 - 13, 'h')), "sp.yaml");
        ADD_FAILURE() << "a primary host id too long loaded";
    } catch (const config::config_error& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u) << listing(e.diagnostics());
        EXPECT_NE(e.diagnostics()[0].message.find("sparkplug.primary_host_id: the primary host's STATE topic"),
                  std::string::npos) << listing(e.diagnostics());
    }
    EXPECT_NO_THROW((void)config::load_string(sparkplug("plant", std::string(65535 - 14, 'h')), "sp.yaml"));
}

TEST(wire_strings, a_topic_too_long_after_expansion_is_refused_once_per_template_naming_its_parts) {
    // 65530 bytes fit an MQTT string; the topics built from them do not
    // (the state topic of m1.a is exactly 65535 bytes and does).
    const auto ds = errors_of("publish.prefix", std::string(65530, 'p'));
    // One per template: publish.topic, point b's own topic,
    // commands.device_topic, availability.device_topic and .gateway_topic.
    ASSERT_EQ(ds.size(), 5u) << listing(ds);
    const auto it = std::find_if(ds.begin(), ds.end(), [](const auto& d) { return d.message.rfind("publish.topic:", 0) == 0; });
    ASSERT_NE(it, ds.end()) << listing(ds);
    EXPECT_EQ(it->line, render("publish.prefix", "").line);  // the publish section
    EXPECT_EQ(it->message,
              "publish.topic: the command topic of devices.m1.points[a] \"" + std::string(40, 'p') +
                  "...\" is 65539 bytes long, more than the 65535 bytes an MQTT topic holds; expected an MQTT topic "
                  "name of 1..65535 bytes without + or #: it is built from publish.topic, publish.prefix (65530 "
                  "bytes) and the names it puts in, then commands.suffix (and 4 more topics built from "
                  "publish.topic)");
    for (const auto& d : ds) {
        EXPECT_GE(d.line, 1);
        EXPECT_NE(d.message.find("publish.prefix (65530 bytes)"), std::string::npos) << printable(d.message);
    }
}

TEST(wire_strings, a_password_needs_a_username_that_is_sent) {
    const auto ds = errors_of("mqtt.username", "");
    ASSERT_EQ(ds.size(), 1u) << listing(ds);
    EXPECT_EQ(ds[0].line, 2);  // the mqtt section
    EXPECT_EQ(ds[0].message, "mqtt.username: is empty while mqtt.password is set; expected a user name (MQTT 3.1.1 "
                             "sends no password without one)");
}

// ---- the second line: payloads never throw ----

TEST(wire_strings, a_json_payload_of_any_string_value_parses) {
    config::point p;
    p.name = "serial_no";
    p.type = config::data_type::string;
    p.length = 2;
    p.unit = "text";
    const auto check = [&](const std::string& bytes) {
        gateway::reading r{modbus::value{bytes}, {}, std::chrono::system_clock::time_point{}};
        std::string payload;
        ASSERT_NO_THROW(payload = gateway::json_payload(p, r)) << printable(bytes);
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << printable(payload);
        // Valid text goes out unchanged; anything else as U+FFFD, never a throw.
        if (!find_utf8_problem(bytes)) {
            EXPECT_EQ(j.at("value").get<std::string>(), bytes);
        } else if (find_utf8_problem(bytes).problem == utf8_problem::invalid_sequence) {
            EXPECT_NE(j.at("value").get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << printable(payload);
        }
        EXPECT_EQ(gateway::raw_payload(p, r), bytes);
    };
    // Every pair of bytes two characters of a register can hold.
    for (unsigned hi = 0; hi < 256; ++hi) {
        for (unsigned lo = 0; lo < 256; ++lo) {
            check(std::string{static_cast<char>(hi), static_cast<char>(lo)});
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
    // And longer strings of random bytes, biased towards multibyte leads.
    std::mt19937 rng(20261201);
    std::uniform_int_distribution<int> length(0, 40);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 20000; ++i) {
        std::string s(static_cast<std::size_t>(length(rng)), '\0');
        for (auto& c : s) c = static_cast<char>(byte(rng) | (i % 2 ? 0x80 : 0));
        check(s);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace fieldbridge
