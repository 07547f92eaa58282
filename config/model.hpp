// The gateway configuration as plain values: what config/loader.hpp produces
// from YAML and every other part consumes. No yaml-cpp type appears here.
// Immutable after load; safe to share read-only between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <variant>
#include <vector>

#include "config/payload_template.hpp"

namespace fieldbridge::config {

using std::chrono::milliseconds;

// Where a value came from, for messages that point at the line.
struct source_mark {
    std::string file;
    int line = 0;    // 1-based; 0 when unknown
    int column = 0;  // 1-based; 0 when unknown

    // Where a value was written is not part of what it means: two
    // configurations that differ only in layout compare equal (reload).
    bool operator==(const source_mark&) const { return true; }
};

enum class register_kind { coil, discrete_input, holding_register, input_register };

enum class data_type {
    boolean,  // coil / discrete input, or bit N of a register (point::bit)
    int16,
    uint16,
    int32,
    uint32,
    int64,
    uint64,
    float32,
    float64,
    string,  // point::length registers
};

// Byte order inside the value as it is laid out over registers, named like
// libmodbus' helpers: A is the most significant byte.
//   32-bit: abcd (big endian), cdab (word swap), badc (byte swap), dcba (little endian)
//   64-bit: abcd = ABCDEFGH, cdab = GHEFCDAB (words reversed), badc = BADCFEHG,
//           dcba = HGFEDCBA. 16-bit values honour the byte swap of badc/dcba.
enum class word_order { abcd, cdab, badc, dcba };

// How a string is packed into registers: most devices put the first
// character in the high byte, some swap the bytes of every register.
enum class string_packing {
    high_byte_first,  // two chars per register, first char in the high byte (the common case)
    low_byte_first,   // two chars per register, byte-swapped ("rP3oME1-")
    low_byte_only,    // one char per register in the low byte
};

// How the built-in simulator moves a point's value over time.
struct simulation {
    enum class waveform { constant, counter, sine, ramp };
    waveform wave = waveform::constant;
    double value = 0.0;      // constant value, counter start, sine centre, ramp start
    double amplitude = 0.0;  // sine amplitude; ramp span
    double step = 1.0;       // counter increment per second
    milliseconds period{60000};  // sine / ramp period
    bool operator==(const simulation&) const = default;
};

enum class quality_of_service : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

struct point {
    std::string name;
    register_kind kind = register_kind::holding_register;
    std::uint16_t address = 0;  // protocol (0-based) address
    data_type type = data_type::uint16;
    word_order order = word_order::abcd;
    std::optional<std::uint8_t> bit;  // 0..15, only with type boolean on a register
    std::uint16_t length = 0;         // registers, only with type string
    string_packing packing = string_packing::high_byte_first;
    double scale = 1.0;  // engineering = raw * scale + offset
    double offset = 0.0;
    std::string unit;
    std::optional<std::string> topic;  // overrides the publish topic template
    template_ref payload_template;     // format: template; overrides the device's and publish.template
    quality_of_service qos = quality_of_service::at_least_once;
    bool retain = false;
    bool writable = false;
    double deadband = 0.0;  // absolute, in engineering units; 0 = publish every change
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<simulation> simulate;  // used by `fieldbridge simulate` only
    source_mark mark;
    bool operator==(const point&) const = default;
};

// Registers a point occupies: 1, 2 or 4 by type, `length` for strings; a
// bool (coil, discrete input or one bit of a register) takes one.
inline std::uint32_t register_count(const point& p) {
    switch (p.type) {
        case data_type::boolean:
        case data_type::int16:
        case data_type::uint16:
            return 1;
        case data_type::int32:
        case data_type::uint32:
        case data_type::float32:
            return 2;
        case data_type::int64:
        case data_type::uint64:
        case data_type::float64:
            return 4;
        case data_type::string:
            return p.length;
    }
    return 1;
}

// The points of a profile or a device. Devices made from one profile share
// its list: 500 devices of a 100-point profile hold 100 points, not 50 000,
// in the core and in every bus worker's copy. Reading is a vector's; a change
// (edit, push_back) first copies a list someone else also holds, so that
// changing one device never shows in another. Like the rest of the
// configuration it is built on one thread and then only read.
class point_list {
public:
    using value_type = point;
    using const_iterator = std::vector<point>::const_iterator;
    using iterator = const_iterator;
    using size_type = std::size_t;

    point_list() = default;
    point_list(std::vector<point> points)  // NOLINT(google-explicit-constructor): a vector is a list
        : items_(points.empty() ? nullptr : std::make_shared<std::vector<point>>(std::move(points))) {}
    point_list(std::initializer_list<point> points) : point_list(std::vector<point>(points)) {}

    const std::vector<point>& items() const { return items_ ? *items_ : empty_list(); }
    operator const std::vector<point>&() const { return items(); }  // NOLINT(google-explicit-constructor)

    const_iterator begin() const { return items().begin(); }
    const_iterator end() const { return items().end(); }
    std::size_t size() const { return items().size(); }
    bool empty() const { return items().empty(); }
    const point& operator[](std::size_t i) const { return items()[i]; }
    const point& at(std::size_t i) const { return items().at(i); }
    const point& front() const { return items().front(); }
    const point& back() const { return items().back(); }

    // The list to change, this holder's own (copied first if shared).
    std::vector<point>& edit() {
        if (!items_) {
            items_ = std::make_shared<std::vector<point>>();
        } else if (items_.use_count() > 1) {
            items_ = std::make_shared<std::vector<point>>(*items_);
        }
        return *items_;
    }
    void push_back(point p) { edit().push_back(std::move(p)); }

    // Whether two holders share one list (not merely equal points).
    bool shares_with(const point_list& other) const { return items_ && items_ == other.items_; }

    bool operator==(const point_list& other) const { return items_ == other.items_ || items() == other.items(); }

private:
    static const std::vector<point>& empty_list() {
        static const std::vector<point> none;
        return none;
    }
    std::shared_ptr<std::vector<point>> items_;
};

// A point list defined once and reused by many devices.
struct profile {
    std::string name;
    point_list points;
    source_mark mark;
    bool operator==(const profile&) const = default;
};

// How Modbus frames travel on a TCP connection.
enum class tcp_framing {
    mbap,  // Modbus TCP (MBAP header): a Modbus TCP device or gateway
    rtu,   // RTU frames (address, PDU, CRC) as on a serial line: a serial device server / converter
};

struct tcp_link {
    std::string host;
    std::uint16_t port = 502;
    tcp_framing framing = tcp_framing::mbap;
    bool operator==(const tcp_link&) const = default;
};

enum class parity { none, even, odd };

// Who switches an RS485 transceiver between sending and receiving: the
// adapter by itself, the kernel's RS485 mode, or the RTS line driven by us.
enum class rs485_mode {
    none,      // the adapter does it by itself (most USB-RS485 adapters)
    kernel,    // the serial driver does it (TIOCSRS485)
    rts_up,    // the gateway raises RTS while it sends
    rts_down,  // the gateway lowers RTS while it sends
};

struct rtu_link {
    std::string device;  // e.g. /dev/serial/by-id/...
    std::uint32_t baud = 9600;
    config::parity parity = parity::none;
    std::uint8_t data_bits = 8;
    std::uint8_t stop_bits = 1;
    rs485_mode rs485 = rs485_mode::none;
    // Between switching RTS and the first byte, and between the last byte
    // and switching back (rts_up / rts_down); unset: one character time.
    std::optional<std::uint32_t> rts_delay_us;
    // `fieldbridge simulate` only: answer no sooner than a real line at this
    // baud would carry the request, the 3.5-character silence and the answer.
    bool simulator_wire_timing = false;
    bool operator==(const rtu_link&) const = default;
};

struct bus {
    std::string name;
    std::variant<tcp_link, rtu_link> link;
    source_mark mark;
    bool operator==(const bus&) const = default;
};

enum class write_function { automatic, fc16 };

// Misbehaviours the built-in simulator can show for a device, to test the
// gateway's settings against (docs/configuration.md, `simulate`). Used by
// `fieldbridge simulate` only.
struct simulated_faults {
    bool refuse_fc6 = false;          // answer FC6 with exception 1: the device takes FC16 only
    bool refuse_fc5 = false;          // answer FC5 with exception 1: the device takes FC15 only
    bool refuse_fc43 = false;         // answer FC43 (Read Device Identification) with exception 1
    unsigned busy_every = 0;          // every Nth request gets exception 6 (server busy); 0 = never
    unsigned stray_every = 0;         // RTU: every Nth answer comes after a frame from another unit; 0 = never
    milliseconds response_delay{0};   // wait before every answer
    // Silent (no answer at all) from vanish_after after the simulator
    // started, for vanish_for; 0 = never.
    milliseconds vanish_after{0};
    milliseconds vanish_for{0};
    // Register ranges (first, last) the device does not have: a read of
    // holding or input registers that touches one gets exception 2.
    std::vector<std::pair<std::uint16_t, std::uint16_t>> unmapped;
    // Register ranges (first, last) a read of holding or input registers
    // touching which gets no answer at all: a device that lets a read of
    // what it lacks time out instead of refusing it.
    std::vector<std::pair<std::uint16_t, std::uint16_t>> unanswered;
    unsigned miss_every = 0;             // every Nth request gets no answer at all; 0 = never
    milliseconds min_request_gap{0};     // a request sooner than this after the last answer gets no answer
    std::uint16_t max_registers = 0;     // reads of more registers get exception 3; 0 = the protocol's 125
    // TCP: a second connection is closed at once while one is open.
    bool one_master = false;
    // A coil or discrete input read whose start is not a multiple of 8 is
    // answered with the bits from the byte boundary below it (a converter
    // that rounds the start down), the count unchanged.
    bool misaligned_bits = false;
    milliseconds connect_pause{0};       // TCP: requests this soon after the connection opened get no answer

    bool operator==(const simulated_faults&) const = default;
};

struct device {
    std::string name;
    std::string bus;
    std::uint8_t unit_id = 1;
    milliseconds poll_interval{1000};
    milliseconds timeout{1000};  // response timeout of one request
    milliseconds byte_timeout{500};  // longest silence between two bytes of one answer
    int retries = 1;             // extra attempts after a failed request
    std::uint16_t max_gap = 10;  // registers (or bits) bridged when merging reads
    std::uint16_t max_registers_per_read = 125;
    std::uint16_t max_bits_per_read = 2000;
    // Coil and discrete input reads (FC1/FC2) start at a multiple of this
    // (8: a byte boundary), reading the bits below the first point too,
    // for devices and converters that answer a read at another start with
    // the wrong bits. 1: at the first point.
    std::uint16_t bit_alignment = 1;
    bool merge_reads = true;  // false: one request per point (devices that refuse multi-point reads)
    milliseconds request_delay{0};      // pause between two requests to this device
    milliseconds switch_delay{0};       // pause before its first request after another device's
    config::write_function write_function = write_function::automatic;  // automatic: FC6 for one register
    milliseconds busy_retry_delay{100};  // wait before retrying after exception 6 (server busy)
    bool mask_write = false;  // a bit of a holding register is written with FC22 (atomic) instead of FC3 + FC6/16
    // Consecutive polls without a good value before the device is offline
    // (soft errors below it only spoil the values); the loader fills it from
    // availability.offline_after unless the device sets it.
    unsigned offline_after = 3;
    // An offline device is polled this often (never more often than
    // poll_interval) until it answers again; 0: at poll_interval.
    milliseconds offline_poll_interval{10000};
    milliseconds connect_pause{0};  // TCP: wait after the connection opened before the first request
    bool close_after_poll = false;  // TCP: close the connection after each poll of this device
    simulated_faults faults;
    template_ref payload_template;  // format: template; overrides publish.template for points without their own
    std::optional<std::string> profile;
    point_list points;  // effective: profile points followed by the device's own (shared with the profile if none)
    source_mark mark;
    bool operator==(const device&) const = default;
};

struct tls_settings {
    bool enabled = false;
    std::string ca_file;    // empty: system trust store
    std::string cert_file;  // client certificate (mutual TLS), optional
    std::string key_file;
    bool verify_hostname = true;
    bool operator==(const tls_settings&) const = default;
};

enum class mqtt_protocol { v3_1_1, v5 };

struct broker {
    mqtt_protocol protocol = mqtt_protocol::v3_1_1;
    std::string host = "localhost";
    std::uint16_t port = 1883;
    // More addresses of the same broker or cluster, tried in turn when
    // host:port cannot be reached ("host" or "host:port"; the port defaults
    // to `port`).
    std::vector<std::pair<std::string, std::uint16_t>> failover;
    std::string client_id = "fieldbridge";
    std::chrono::seconds keepalive{30};
    // QoS 1/2 messages sent and not yet acknowledged, at most (the broker's
    // Receive Maximum lowers it under MQTT 5); 16 384 at most, so that packet
    // ids stay for the rest.
    std::uint16_t max_inflight = 64;
    std::string username;
    std::string password;
    bool clean_session = true;
    // MQTT 5 Session Expiry Interval. Unset: 0 with a clean session, never
    // (0xFFFFFFFF) with a persistent one, the 3.1.1 behaviour.
    std::optional<std::chrono::seconds> session_expiry;
    tls_settings tls;
    // TCP connect, TLS handshake and CONNACK together; an attempt that takes
    // longer is given up and the next one (or the next failover address) tried.
    milliseconds connect_timeout{5000};
    milliseconds reconnect_min{500};
    milliseconds reconnect_max{30000};
    source_mark mark;
    bool operator==(const broker&) const = default;
};

// json: one message per point ({"value":...}); raw: the value alone as
// text; device: one message per device and poll with all its points that
// are published in that poll, on publish.device_topic; template: one
// message per point, the operator's template filled in (the point's own,
// else its device's, else publish.template); sparkplug: Sparkplug B 3.0,
// the gateway an edge node (sparkplug_settings).
enum class payload_format { json, raw, device, templated, sparkplug };

struct publish_settings {
    std::string prefix = "fieldbridge";
    std::string topic_template = "{prefix}/{device}/{point}";
    std::string device_topic = "{prefix}/{device}";  // format: device
    payload_format format = payload_format::json;
    template_ref payload_template;  // format: template, for points and devices without their own
    std::chrono::seconds heartbeat{60};  // republish an unchanged value this often; 0 = never
    quality_of_service default_qos = quality_of_service::at_least_once;
    source_mark mark;
    bool operator==(const publish_settings&) const = default;
};

// The durable store-and-forward queue (gateway/store).
enum class store_durability { full, normal };
enum class drop_policy { oldest, qos0_first, refuse_new };
// How a QoS 0 message reaches the MQTT client while the link is up and no
// older message waits in the store: straight (direct), or through the store
// like QoS 1/2 (stored). While the link is down, or behind a backlog, QoS 0
// messages are stored either way.
enum class qos0_route { direct, stored };
// The order a backlog leaves in when the link comes back: production order
// (strict), or the latest stored message of each topic first, live messages
// next and the older ones behind them, marked historical (fresh_first).
enum class store_order { strict, fresh_first };

struct store_settings {
    std::string path;  // empty: $STATE_DIRECTORY/queue.db under systemd, else /var/lib/fieldbridge/queue.db
    store_durability durability = store_durability::full;
    std::uint64_t max_messages = 1'000'000;
    std::uint64_t max_megabytes = 256;        // topic + payload bytes, in MiB
    std::chrono::seconds max_age{7 * 24 * 3600};  // 0 = no age limit
    config::drop_policy drop = drop_policy::qos0_first;
    std::uint32_t cache_kib = 2048;  // SQLite page cache of the store's connection
    config::qos0_route qos0 = qos0_route::direct;
    store_order order = store_order::strict;
    source_mark mark;
    bool operator==(const store_settings&) const = default;
};

// Commands from MQTT: a point's command topic is its state topic + suffix,
// the reply goes to its state topic + reply_suffix.
struct command_settings {
    bool enabled = true;
    std::string suffix = "/set";
    std::string reply_suffix = "/reply";
    // A retained command is delivered again to every new subscription, so a
    // stale setpoint would be written at every restart: ignored unless set.
    bool accept_retained = false;
    // Device-level commands (several points in one JSON object) on this
    // topic template + suffix; empty: off.
    std::string device_topic;
    // A command for an offline device waits up to this long for it to come
    // back; 0: refused at once.
    milliseconds max_age{0};
    source_mark mark;
    bool operator==(const command_settings&) const = default;
};

// Retained online/offline topics for the gateway (birth message and last
// will) and for each device. Templates take {prefix}, {device}, {bus}, {unit}.
struct availability_settings {
    std::string gateway_topic = "{prefix}/status";
    std::string device_topic = "{prefix}/{device}/availability";
    unsigned offline_after = 3;  // consecutive polls without a good value
    // Republish the gateway's online message with a summary of its figures
    // this often (and with each birth); 0 = off.
    std::chrono::milliseconds summary_interval{0};
    source_mark mark;
    source_mark device_topic_mark;  // where device_topic was given, for its diagnostics
    bool operator==(const availability_settings&) const = default;
};

// publish.format: sparkplug: the Sparkplug B group and edge node ids of the
// topics spBv1.0/<group_id>/<TYPE>/<edge_node_id>[/<device>].
struct sparkplug_settings {
    std::string group_id = "fieldbridge";
    std::string edge_node_id;  // empty: mqtt.client_id
    // Born only while this primary host application's STATE says online;
    // empty: whenever the link is up.
    std::string primary_host_id;
    source_mark mark;
    bool operator==(const sparkplug_settings&) const = default;
};

// The edge node id in use: sparkplug.edge_node_id, else mqtt.client_id.
inline const std::string& edge_node_id(const sparkplug_settings& s, const broker& b) {
    return s.edge_node_id.empty() ? b.client_id : s.edge_node_id;
}

// The local control socket that `fieldbridge status` talks to.
struct control_settings {
    std::string socket;  // empty: $RUNTIME_DIRECTORY/control.sock under systemd, else /run/fieldbridge/control.sock
    source_mark mark;
    bool operator==(const control_settings&) const = default;
};

// The Prometheus metrics endpoint (metrics.listen); off unless set.
struct metrics_settings {
    std::string address;  // an IP address literal; empty: no endpoint
    std::uint16_t port = 0;
    source_mark mark;
    bool enabled() const { return !address.empty(); }
    bool operator==(const metrics_settings&) const = default;
};

// The template a point's messages are made from with format: template: its
// own, else its device's (or the device's profile's), else publish.template;
// nullptr when none is set.
inline const payload_template* effective_template(const publish_settings& publish, const device& d,
                                                  const point& p) {
    if (p.payload_template) return p.payload_template.get();
    if (d.payload_template) return d.payload_template.get();
    return publish.payload_template.get();
}

struct gateway {
    broker mqtt;
    publish_settings publish;
    store_settings store;
    control_settings control;
    metrics_settings metrics;
    command_settings commands;
    availability_settings availability;
    sparkplug_settings sparkplug;
    std::vector<profile> profiles;
    std::vector<bus> buses;
    std::vector<device> devices;
    std::string source_file;
    // Things that load but look wrong ("bus line2 is not used by any device"),
    // each as "file:line:col: message"; `fieldbridge check` prints them.
    std::vector<std::string> warnings;
};

}  // namespace fieldbridge::config
