#include "config/schema_keys.hpp"

#include <algorithm>
#include <map>

#include "config/names.hpp"

namespace fieldbridge::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using k = value_kind;

template <class E>
std::vector<std::string> names(name_table<E> table) {
    std::vector<std::string> out;
    for (const auto& [word, value] : table)
        out.emplace_back(word);
    return out;
}

key_spec make(std::string_view name, value_kind kind, std::string_view description) {
    key_spec spec;
    spec.name = name;
    spec.kind = kind;
    spec.description = description;
    return spec;
}
key_spec text(std::string_view name, std::string_view description, bool non_empty = true) {
    return make(name, non_empty ? k::nonempty_string : k::string, description);
}
key_spec integer(std::string_view name, std::int64_t min, std::int64_t max, std::string_view description) {
    auto spec = make(name, k::integer, description);
    spec.min = min;
    spec.max = max;
    return spec;
}
key_spec number(std::string_view name, std::string_view description,
                std::optional<double> min = std::nullopt) {
    auto spec = make(name, k::number, description);
    spec.number_min = min;
    return spec;
}
key_spec flag(std::string_view name, std::string_view description) {
    return make(name, k::boolean, description);
}
key_spec duration(std::string_view name, milliseconds min, milliseconds max, std::string_view description) {
    auto spec = make(name, k::duration, description);
    spec.duration_min = min;
    spec.duration_max = max;
    return spec;
}
key_spec whole_seconds(std::string_view name, milliseconds max, std::string_view description,
                       value_kind kind = k::seconds) {
    auto spec = make(name, kind, description);
    spec.duration_max = max;
    return spec;
}
key_spec choice(std::string_view name, std::vector<std::string> choices, std::string_view description) {
    auto spec = make(name, k::choice, description);
    spec.choices = std::move(choices);
    return spec;
}
key_spec integers(std::string_view name, std::vector<std::int64_t> values, std::string_view description) {
    auto spec = make(name, k::integer_set, description);
    spec.integers = std::move(values);
    return spec;
}
key_spec nested(std::string_view name, value_kind kind, section s, std::string_view description) {
    auto spec = make(name, kind, description);
    spec.nested = s;
    return spec;
}
key_spec required(key_spec spec) {
    spec.required = true;
    return spec;
}

// How a device is polled: set per device, or for all devices of a profile.
std::vector<key_spec> settings() {
    return {
        duration("poll_interval", milliseconds(1), hours(24), "how often the device is polled"),
        duration("timeout", milliseconds(1), minutes(1), "wait for the answer to begin"),
        duration("byte_timeout", milliseconds(1), seconds(10), "longest silence inside an answer"),
        integer("retries", 0, 10, "requests repeated after a failure"),
        integer("max_gap", 0, 2000, "registers or bits bridged when merging reads"),
        integer("max_registers", 1, 125, "registers per read request"),
        integer("max_bits", 1, 2000, "coils or discrete inputs per read request"),
        integer("bit_alignment", 1, 16, "coil and discrete input reads start at a multiple of this (8: bytes)"),
        flag("merge_reads", "merge neighbouring points into block reads"),
        duration("request_delay", milliseconds(0), seconds(10), "pause before each request to this device"),
        duration("switch_delay", milliseconds(0), seconds(10),
                 "pause before a request after talking to another unit"),
        choice("write_function", names(write_function_names()),
               "auto (FC6/FC5 for one register or coil) or fc16"),
        duration("busy_retry_delay", milliseconds(0), seconds(60),
                 "wait after exception 6 (busy) before asking again"),
        flag("mask_write", "write bits of holding registers with FC22"),
        integer("offline_after", 1, 1000,
                "consecutive polls without a good value before the device is offline"),
        duration("offline_poll_interval", milliseconds(0), hours(24), "poll interval while offline"),
        duration("connect_pause", milliseconds(0), seconds(60),
                 "tcp: wait after connecting before the first request"),
        flag("close_after_poll", "tcp: close the connection after each poll"),
        text("template", "payload template of the points (format: template)", false),
    };
}

std::vector<key_spec> with_settings(std::vector<key_spec> keys) {
    auto s = settings();
    keys.insert(keys.end(), s.begin(), s.end());
    return keys;
}

std::vector<std::int64_t> standard_bauds() {
    return {110,     300,     600,     1200,    2400,    4800,    9600,    19200,
            38400,   57600,   115200,  230400,  460800,  500000,  576000,  921600,
            1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000};
}

std::map<section, std::vector<key_spec>> make_table() {
    std::map<section, std::vector<key_spec>> t;
    t[section::root] = {
        nested("mqtt", k::nested, section::mqtt, "the broker"),
        nested("publish", k::nested, section::publish, "topics and payloads"),
        nested("store", k::nested, section::store, "the durable queue"),
        nested("control", k::nested, section::control, "the local control socket"),
        nested("metrics", k::nested, section::metrics, "the Prometheus endpoint"),
        nested("commands", k::nested, section::commands, "writing to devices from MQTT"),
        nested("availability", k::nested, section::availability, "online/offline topics"),
        nested("sparkplug", k::nested, section::sparkplug, "Sparkplug B ids (publish.format: sparkplug)"),
        nested("profiles", k::map_of, section::profile, "point lists and settings shared by devices"),
        nested("buses", k::map_of, section::bus, "serial lines and TCP connections"),
        nested("devices", k::map_of, section::device, "the devices polled"),
    };
    t[section::mqtt] = {
        choice("protocol", names(mqtt_protocol_names()), "MQTT version: 3.1.1 (default) or 5"),
        whole_seconds("session_expiry", seconds(0xFFFFFFFE),
                      "MQTT 5: how long the broker keeps the session, or never", k::seconds_or_never),
        text("host", "broker host name or address"),
        integer("port", 1, 65535, "broker port"),
        text("client_id", "MQTT client id"),
        whole_seconds("keepalive", seconds(65535), "keepalive"),
        integer("max_inflight", 1, 16384, "QoS 1/2 messages sent and not yet acknowledged, at most"),
        text("username", "user name", false),
        text("password", "password", false),
        flag("clean_session", "start a clean session at every connect"),
        nested("reconnect", k::nested, section::mqtt_reconnect, "reconnect back-off"),
        nested("tls", k::nested, section::mqtt_tls, "TLS settings"),
        make("failover", k::list_of_strings, "further brokers: HOST or HOST:PORT"),
        duration("connect_timeout", milliseconds(100), minutes(5), "give up a connection attempt after"),
    };
    t[section::mqtt_reconnect] = {
        duration("min", milliseconds(1), hours(1), "first wait"),
        duration("max", milliseconds(1), hours(24), "longest wait"),
    };
    t[section::mqtt_tls] = {
        flag("enabled", "use TLS"),
        text("ca_file", "CA certificates (PEM) instead of the system's"),
        text("cert_file", "client certificate (PEM)"),
        text("key_file", "client key (PEM)"),
        flag("verify_hostname", "check the broker's name against its certificate"),
    };
    t[section::publish] = {
        text("prefix", "topic prefix, {prefix} in templates", false),
        text("topic", "point topic template", false),
        text("device_topic", "device topic template (format: device)", false),
        text("template", "payload template (format: template)", false),
        choice("format", names(payload_format_names()), "payload format"),
        whole_seconds("heartbeat", hours(24), "republish unchanged values this often; 0s: never"),
        integer("qos", 0, 2, "default QoS of points"),
    };
    t[section::store] = {
        text("path", "queue database file"),
        choice("durability", names(durability_names()), "full (default) or normal"),
        integer("max_messages", 1, 1'000'000'000, "messages kept while the broker is away"),
        integer("max_megabytes", 1, 1'048'576, "MiB of topics and payloads kept"),
        whole_seconds("max_age", hours(24 * 366), "drop messages older than this; 0s: never"),
        choice("drop", names(drop_policy_names()), "what goes when full"),
        integer("cache_kib", 64, 1'048'576, "KiB of SQLite page cache"),
        choice("qos0", names(qos0_route_names()), "QoS 0 while the link is up: direct (default) or stored"),
        choice("order", names(store_order_names()),
               "after an outage: strict (default) or fresh_first (latest values first, backlog marked historical)"),
    };
    t[section::control] = {text("socket", "control socket path")};
    t[section::sparkplug] = {
        make("group_id", k::name, "the Sparkplug group id"),
        make("edge_node_id", k::name, "the edge node id; default: mqtt.client_id"),
        make("primary_host_id", k::name, "publish only while this host application's STATE is online"),
    };
    t[section::metrics] = {make("listen", k::listen_address,
                                "address and port of the endpoint, e.g. 127.0.0.1:9108; off when not set")};
    t[section::commands] = {
        flag("enabled", "accept commands"),
        text("suffix", "command topic: the point topic + this"),
        text("reply_suffix", "reply topic: the point topic + this"),
        flag("accept_retained", "act on retained commands"),
        text("device_topic", "topic template of whole-device commands", false),
        duration("max_age", milliseconds(0), hours(24), "hold commands for an offline device this long"),
    };
    t[section::availability] = {
        text("gateway_topic", "the gateway's online/offline topic template"),
        text("device_topic", "a device's availability topic template"),
        integer("offline_after", 1, 1000,
                "consecutive polls without a good value before a device is offline"),
        duration("summary_interval", milliseconds(0), hours(24),
                 "0s (off) or 1s..24h: a summary on the gateway topic"),
    };
    t[section::profile] = with_settings({
        required(nested("points", k::list_of, section::point, "the points")),
    });
    t[section::bus] = {
        required(choice("type", {"rtu", "tcp"}, "rtu or tcp")),
        text("host", "tcp: host name or address"),
        integer("port", 1, 65535, "tcp: port"),
        choice("framing", names(tcp_framing_names()), "tcp: mbap (default) or rtu (serial device server)"),
        text("device", "rtu: serial device, e.g. /dev/serial/by-id/..."),
        integers("baud", standard_bauds(), "rtu: a standard rate"),
        choice("parity", names(parity_names()), "rtu: none (default), even or odd"),
        integer("data_bits", 5, 8, "rtu: 5..8"),
        integer("stop_bits", 1, 2, "rtu: 1 (default) or 2"),
        choice("rs485", names(rs485_mode_names()), "rtu: who switches the RS485 direction"),
        integer("rts_delay_us", 0, 1'000'000, "rtu: microseconds between RTS and the data"),
        flag("simulator_wire_timing", "rtu, fieldbridge simulate only: answer at the line's speed"),
    };
    t[section::device] = with_settings({
        required(text("bus", "the name of a bus under buses")),
        required(integer("unit_id", 1, 255, "Modbus unit id: 1..247 on an rtu bus, 1..255 on tcp")),
        text("profile", "the name of a profile under profiles"),
        nested("points", k::list_of, section::point, "the device's own points (after its profile's)"),
        nested("simulator_faults", k::nested, section::simulator_faults,
               "fieldbridge simulate only: misbehaviour"),
    });
    t[section::simulator_faults] = {
        flag("refuse_fc6", "answer FC6 with exception 1"),
        flag("refuse_fc5", "answer FC5 with exception 1"),
        flag("refuse_fc43", "answer FC43 (Read Device Identification) with exception 1"),
        integer("busy_every", 0, 1'000'000, "every Nth request gets exception 6"),
        duration("response_delay", milliseconds(0), seconds(60), "wait before every answer"),
        make("unmapped", k::list_of_strings, "register ranges the device lacks: \"10-19\""),
        make("unanswered", k::list_of_strings, "register ranges whose reads get no answer: \"100-109\""),
        duration("vanish_after", milliseconds(0), hours(24), "silent from this long after the start"),
        duration("vanish_for", milliseconds(0), hours(24), "for this long"),
        integer("miss_every", 0, 1'000'000, "every Nth request is not answered"),
        duration("min_request_gap", milliseconds(0), seconds(60),
                 "requests closer than this are not answered"),
        integer("max_registers", 0, 125, "reads of more registers get exception 3; 0: no limit"),
        flag("one_master", "one TCP connection at a time"),
        flag("misaligned_bits", "bit reads not starting at a multiple of 8 answered from the byte below"),
        duration("connect_pause", milliseconds(0), seconds(60), "deaf this long after a connect"),
        integer("stray_every", 0, 1'000'000, "rtu: every Nth answer follows a frame from another unit"),
    };
    t[section::point] = {
        required(make("name", k::name, "the point's name (part of its topic)")),
        required(choice("register", names(register_kind_names()), "coil, discrete, holding or input")),
        required(integer("address", 0, 65535, "protocol address (0-based)")),
        choice("type", names(data_type_names()), "value type"),
        choice("order", names(word_order_names()), "word order of multi-register values"),
        integer("bit", 0, 15, "one bit of a holding or input register (type bool)"),
        integer("length", 1, 125, "string: registers"),
        choice("packing", names(string_packing_names()), "string: characters per register"),
        number("scale", "value = raw * scale + offset"),
        number("offset", "added after scale"),
        text("unit", "engineering unit", false),
        text("topic", "topic template of this point", false),
        text("template", "payload template of this point (format: template)", false),
        integer("qos", 0, 2, "MQTT QoS"),
        flag("retain", "publish retained"),
        flag("writable", "accept commands (coils and holding registers)"),
        number("deadband", "publish only changes of at least this much", 0.0),
        number("min", "lowest value a command may write"),
        number("max", "highest value a command may write"),
        nested("simulate", k::nested, section::simulate, "fieldbridge simulate only: the value served"),
    };
    t[section::simulate] = {
        choice("wave", names(waveform_names()), "the value's shape over time"),
        number("value", "constant value or centre"),
        number("amplitude", "sine or ramp amplitude"),
        number("step", "counter increment per second"),
        duration("period", milliseconds(1), hours(24 * 7), "sine or ramp period"),
    };
    return t;
}

const std::map<section, std::vector<key_spec>>& table() {
    static const auto t = make_table();
    return t;
}

}  // namespace

const std::vector<key_spec>& keys_of(section s) {
    return table().at(s);
}

std::vector<std::string> key_names(section s) {
    std::vector<std::string> out;
    for (const auto& spec : keys_of(s))
        out.emplace_back(spec.name);
    return out;
}

const key_spec* find_key(section s, std::string_view name) {
    const auto& keys = keys_of(s);
    const auto it =
        std::find_if(keys.begin(), keys.end(), [&](const key_spec& spec) { return spec.name == name; });
    return it == keys.end() ? nullptr : &*it;
}

std::vector<std::string> tcp_bus_keys() {
    return {"host", "port", "framing"};
}

std::vector<std::string> rtu_bus_keys() {
    return {"device",    "baud",  "parity",       "data_bits",
            "stop_bits", "rs485", "rts_delay_us", "simulator_wire_timing"};
}

std::string_view section_path(section s) {
    switch (s) {
        case section::root:
            return "";
        case section::mqtt:
            return "mqtt";
        case section::mqtt_reconnect:
            return "mqtt.reconnect";
        case section::mqtt_tls:
            return "mqtt.tls";
        case section::publish:
            return "publish";
        case section::store:
            return "store";
        case section::control:
            return "control";
        case section::metrics:
            return "metrics";
        case section::commands:
            return "commands";
        case section::availability:
            return "availability";
        case section::sparkplug:
            return "sparkplug";
        case section::profile:
            return "profiles.<name>";
        case section::bus:
            return "buses.<name>";
        case section::device:
            return "devices.<name>";
        case section::simulator_faults:
            return "devices.<name>.simulator_faults";
        case section::point:
            return "points[]";
        case section::simulate:
            return "points[].simulate";
    }
    return "";
}

}  // namespace fieldbridge::config
