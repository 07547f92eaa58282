// The loader on YAML text and on the shipped examples: what loads, into
// which structs, and the file:line:col diagnostics of what does not.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "tests/config/load_errors.hpp"
#include "config/point_map.hpp"
#include "config/topic.hpp"

namespace fieldbridge::config {
namespace {

using namespace std::chrono_literals;

// The diagnostics of a configuration that must not load, one per line.
using testing::errors_of;

const std::string bus_and_device = R"(
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
)";

// What check accepts, a write can carry: one FC16 request holds at most 123
// registers, so a writable string is at most 123 long (a read one, 125).
TEST(config_loader, a_writable_string_fits_one_write) {
    const auto point = [](int length, bool writable) {
        return bus_and_device + "      - { name: label, register: holding, address: 0, type: string, length: " +
               std::to_string(length) + (writable ? ", writable: true" : "") + " }\n";
    };
    EXPECT_NO_THROW(load_string(point(123, true), "plant.yaml"));
    EXPECT_NO_THROW(load_string(point(125, false), "plant.yaml"));
    for (const int length : {124, 125}) {
        const auto e = errors_of(point(length, true));
        EXPECT_NE(e.find("writable: true on a string of " + std::to_string(length) + " registers"), std::string::npos)
            << e;
        EXPECT_NE(e.find("expected length: 1..123"), std::string::npos) << e;
    }
}

TEST(config_loader, mqtt_protocol_and_session_expiry) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_EQ(load_string(dev, "plant.yaml").mqtt.protocol, mqtt_protocol::v3_1_1);  // the default
    EXPECT_FALSE(load_string(dev, "plant.yaml").mqtt.session_expiry);
    const auto v5 = load_string("mqtt: { protocol: \"5\", session_expiry: 2h }\n" + dev, "plant.yaml");
    EXPECT_EQ(v5.mqtt.protocol, mqtt_protocol::v5);
    EXPECT_EQ(v5.mqtt.session_expiry, std::chrono::seconds{7200});
    EXPECT_EQ(load_string("mqtt: { protocol: 5, session_expiry: never }\n" + dev, "plant.yaml").mqtt.session_expiry,
              std::chrono::seconds{0xFFFFFFFF});
    EXPECT_EQ(load_string("mqtt: { protocol: \"3.1.1\" }\n" + dev, "plant.yaml").mqtt.protocol, mqtt_protocol::v3_1_1);

    auto e = errors_of("mqtt: { protocol: 4 }\n" + dev);
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("3.1.1"), std::string::npos) << e;
    e = errors_of("mqtt: { session_expiry: 1h }\n" + dev);
    EXPECT_NE(e.find("MQTT 3.1.1 has no session expiry"), std::string::npos) << e;
    e = errors_of("mqtt: { protocol: 5, session_expiry: 1500ms }\n" + dev);
    EXPECT_NE(e.find("whole number of seconds"), std::string::npos) << e;
}

TEST(config_loader, the_status_summary_is_off_by_default_and_at_least_a_second_apart) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_EQ(load_string(dev, "plant.yaml").availability.summary_interval, std::chrono::milliseconds{0});
    EXPECT_EQ(load_string("availability: { summary_interval: 0s }\n" + dev, "plant.yaml").availability.summary_interval,
              std::chrono::milliseconds{0});
    EXPECT_EQ(load_string("availability: { summary_interval: 1m }\n" + dev, "plant.yaml").availability.summary_interval,
              std::chrono::milliseconds{60000});
    auto e = errors_of("availability: { summary_interval: 500ms }\n" + dev);
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("shorter than 1s"), std::string::npos) << e;
    e = errors_of("availability: { summary_interval: 2d }\n" + dev);
    EXPECT_NE(e.find("summary_interval"), std::string::npos) << e;
}

TEST(config_loader, the_metrics_endpoint_is_off_by_default_and_listens_on_an_address_literal) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_FALSE(load_string(dev, "plant.yaml").metrics.enabled());
    const auto v4 = load_string("metrics: { listen: \"127.0.0.1:9108\" }\n" + dev, "plant.yaml").metrics;
    EXPECT_EQ(v4.address, "127.0.0.1");
    EXPECT_EQ(v4.port, 9108);
    const auto any = load_string("metrics: { listen: \"0.0.0.0:9200\" }\n" + dev, "plant.yaml").metrics;
    EXPECT_EQ(any.address, "0.0.0.0");
    const auto v6 = load_string("metrics: { listen: \"[::1]:9108\" }\n" + dev, "plant.yaml").metrics;
    EXPECT_EQ(v6.address, "::1");
    EXPECT_EQ(v6.port, 9108);
    for (const auto* bad : {"localhost:9108", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9x",
                            "[::1]9108", "::1:9108", "[127.0.0.1]:9108", ":9108", ""}) {
        const auto e = errors_of(std::string("metrics: { listen: \"") + bad + "\" }\n" + dev);
        EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << bad << ": " << e;
        EXPECT_NE(e.find("metrics.listen"), std::string::npos) << bad << ": " << e;
    }
    EXPECT_NE(errors_of("metrics: { port: 9108 }\n" + dev).find("port"), std::string::npos);
}

TEST(config_loader, mqtt_failover_addresses) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_TRUE(load_string(dev, "plant.yaml").mqtt.failover.empty());  // the default
    const auto g =
        load_string("mqtt: { host: a, port: 1884, failover: [b, \"c:8883\", \"[fd00::2]:1885\", \"::1\"] }\n" + dev,
                    "plant.yaml");
    using addr = std::pair<std::string, std::uint16_t>;
    // Port 0: the broker's own port (here 1884), filled in when the client is made.
    EXPECT_EQ(g.mqtt.failover,
              (std::vector<addr>{{"b", 0}, {"c", 8883}, {"fd00::2", 1885}, {"::1", 0}}));

    auto e = errors_of("mqtt: { failover: b }\n" + dev);
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("expected a list of broker addresses"), std::string::npos) << e;
    e = errors_of("mqtt: { failover: [\"b:99999\"] }\n" + dev);
    EXPECT_NE(e.find("mqtt.failover[0]"), std::string::npos) << e;
    EXPECT_NE(e.find("1..65535"), std::string::npos) << e;
    e = errors_of("mqtt: { failover: [\"\"] }\n" + dev);
    EXPECT_NE(e.find("not a host name"), std::string::npos) << e;
}

TEST(config_loader, mqtt_connect_timeout) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_EQ(load_string(dev, "plant.yaml").mqtt.connect_timeout, std::chrono::seconds{5});  // the default
    EXPECT_EQ(load_string("mqtt: { connect_timeout: 1500ms }\n" + dev, "plant.yaml").mqtt.connect_timeout,
              std::chrono::milliseconds{1500});
    const auto e = errors_of("mqtt: { connect_timeout: 10ms }\n" + dev);
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("mqtt.connect_timeout"), std::string::npos) << e;
}

TEST(config_loader, store_qos0_route) {
    const auto dev = bus_and_device + "      - { name: a, register: holding, address: 0 }\n";
    EXPECT_EQ(load_string(dev, "plant.yaml").store.qos0, qos0_route::direct);  // the default
    EXPECT_EQ(load_string("store: { qos0: stored }\n" + dev, "plant.yaml").store.qos0, qos0_route::stored);
    EXPECT_EQ(load_string("store: { qos0: direct }\n" + dev, "plant.yaml").store.qos0, qos0_route::direct);
    const auto e = errors_of("store: { qos0: durable }\n" + dev);
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("store.qos0"), std::string::npos) << e;
    EXPECT_NE(e.find("stored"), std::string::npos) << e;
}

TEST(config_loader, a_device_topic_is_one_per_device_and_apart_from_other_topics) {
    const auto two = bus_and_device + R"(      - { name: a, register: holding, address: 0 }
  m2:
    bus: line
    unit_id: 2
    points:
      - { name: a, register: holding, address: 0 }
)";
    const auto with = [&](const std::string& publish) { return "publish: { format: device, " + publish + " }\n" + two; };
    EXPECT_EQ(load_string(with("device_topic: \"{prefix}/{device}\""), "plant.yaml").publish.device_topic, "{prefix}/{device}");
    auto e = errors_of(with("device_topic: \"{prefix}/all\""));
    EXPECT_NE(e.find("plant.yaml:1:"), std::string::npos) << e;
    EXPECT_NE(e.find("publish.device_topic: the topic fieldbridge/all of devices.m2 is also the topic of devices.m1"),
              std::string::npos) << e;
    e = errors_of(with("device_topic: \"{prefix}/{device}/a\""));
    EXPECT_NE(e.find("is also the topic of devices.m1.points[a]"), std::string::npos) << e;
    e = errors_of(with("device_topic: \"{prefix}/{device}/availability\""));
    EXPECT_NE(e.find("is also the availability topic of devices.m1"), std::string::npos) << e;
    e = errors_of(with("device_topic: \"{prefix}/{point}\""));
    EXPECT_NE(e.find("publish.device_topic: names {point}"), std::string::npos) << e;
    // With the per-point format the device topic is not used: not checked.
    EXPECT_NO_THROW(load_string("publish: { device_topic: \"{prefix}/all\" }\n" + two, "plant.yaml"));
}

TEST(config_loader, reads_every_section_into_plain_structs) {
    const auto g = load_string(R"(
mqtt:
  host: broker.local
  port: 8883
  client_id: gw-7
  keepalive: 15s
  username: u
  password: p
  clean_session: false
  reconnect: { min: 250ms, max: 2m }
  tls: { enabled: true, ca_file: /etc/ca.crt, verify_hostname: false }
publish: { prefix: site, topic: "{prefix}/{bus}/{device}/{point}", format: raw, heartbeat: 5m, qos: 2 }
buses:
  rs485: { type: rtu, device: /dev/ttyUSB0, baud: 19200, parity: even, data_bits: 8, stop_bits: 1 }
devices:
  meter:
    bus: rs485
    unit_id: 17
    poll_interval: 250ms
    timeout: 100ms
    retries: 3
    max_gap: 4
    max_registers: 60
    points:
      - { name: v, register: input, address: 3, type: float32, order: cdab, scale: 2, offset: -1, unit: V,
          deadband: 0.5, qos: 0, retain: true }
      - { name: alarm, register: holding, address: 9, type: bool, bit: 15, writable: true }
)",
                               "site.yaml");
    EXPECT_EQ(g.mqtt.host, "broker.local");
    EXPECT_EQ(g.mqtt.port, 8883);
    EXPECT_EQ(g.mqtt.client_id, "gw-7");
    EXPECT_EQ(g.mqtt.keepalive, 15s);
    EXPECT_FALSE(g.mqtt.clean_session);
    EXPECT_EQ(g.mqtt.reconnect_min, 250ms);
    EXPECT_EQ(g.mqtt.reconnect_max, 120s);
    EXPECT_TRUE(g.mqtt.tls.enabled);
    EXPECT_EQ(g.mqtt.tls.ca_file, "/etc/ca.crt");
    EXPECT_FALSE(g.mqtt.tls.verify_hostname);
    EXPECT_EQ(g.publish.prefix, "site");
    EXPECT_EQ(g.publish.format, payload_format::raw);
    EXPECT_EQ(g.publish.heartbeat, 300s);
    EXPECT_EQ(g.publish.default_qos, quality_of_service::exactly_once);

    ASSERT_EQ(g.buses.size(), 1u);
    const auto& rtu = std::get<rtu_link>(g.buses[0].link);
    EXPECT_EQ(rtu.device, "/dev/ttyUSB0");
    EXPECT_EQ(rtu.baud, 19200u);
    EXPECT_EQ(rtu.parity, parity::even);

    ASSERT_EQ(g.devices.size(), 1u);
    const auto& d = g.devices[0];
    EXPECT_EQ(d.unit_id, 17);
    EXPECT_EQ(d.poll_interval, 250ms);
    EXPECT_EQ(d.timeout, 100ms);
    EXPECT_EQ(d.retries, 3);
    EXPECT_EQ(d.max_gap, 4);
    EXPECT_EQ(d.max_registers_per_read, 60);
    ASSERT_EQ(d.points.size(), 2u);
    const auto& v = d.points[0];
    EXPECT_EQ(v.kind, register_kind::input_register);
    EXPECT_EQ(v.address, 3);
    EXPECT_EQ(v.type, data_type::float32);
    EXPECT_EQ(v.order, word_order::cdab);
    EXPECT_EQ(v.scale, 2.0);
    EXPECT_EQ(v.offset, -1.0);
    EXPECT_EQ(v.unit, "V");
    EXPECT_EQ(v.deadband, 0.5);
    EXPECT_EQ(v.qos, quality_of_service::at_most_once);
    EXPECT_TRUE(v.retain);
    EXPECT_EQ(v.mark.file, "site.yaml");
    EXPECT_GT(v.mark.line, 0);
    const auto& alarm = d.points[1];
    EXPECT_EQ(alarm.type, data_type::boolean);
    EXPECT_EQ(alarm.bit, 15);
    EXPECT_TRUE(alarm.writable);
    EXPECT_EQ(alarm.qos, quality_of_service::exactly_once);  // the publish default
    EXPECT_EQ(point_topic(g.publish, d, alarm, g.buses[0]), "site/rs485/meter/alarm");
}

TEST(config_loader, a_profile_is_reused_by_many_devices) {
    std::string yaml = R"(
profiles:
  em: { points: [ { name: v, register: input, address: 0, type: float32 }, { name: e, register: holding, address: 10, type: uint64 } ] }
buses:
  line: { type: rtu, device: /dev/ttyS0 }
devices:
)";
    for (int i = 1; i <= 20; ++i) {
        yaml += "  m" + std::to_string(i) + ": { bus: line, unit_id: " + std::to_string(i) + ", profile: em }\n";
    }
    yaml += "  extra: { bus: line, unit_id: 21, profile: em, points: [ { name: t, register: input, address: 50, type: int16 } ] }\n";
    const auto g = load_string(yaml);
    ASSERT_EQ(g.devices.size(), 21u);
    for (const auto& d : g.devices) {
        ASSERT_GE(d.points.size(), 2u);
        EXPECT_EQ(d.points[0].name, "v");
        EXPECT_EQ(d.points[1].type, data_type::uint64);
        EXPECT_EQ(d.profile, "em");
    }
    ASSERT_EQ(g.devices.back().points.size(), 3u);
    EXPECT_EQ(g.devices.back().points[2].name, "t");
    // The devices of the profile hold its one list; the device with points
    // of its own has a list of its own, and the profile's is unchanged.
    ASSERT_EQ(g.profiles.size(), 1u);
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(g.devices[static_cast<std::size_t>(i)].points.shares_with(g.profiles[0].points));
    EXPECT_FALSE(g.devices.back().points.shares_with(g.profiles[0].points));
    EXPECT_EQ(g.profiles[0].points.size(), 2u);
}

TEST(config_point_list, a_change_copies_a_shared_list_first) {
    point a;
    a.name = "a";
    point b;
    b.name = "b";
    const point_list profile_points{a, b};
    point_list first = profile_points;
    point_list second = profile_points;
    EXPECT_TRUE(first.shares_with(second));
    EXPECT_EQ(first, second);

    first.edit()[0].scale = 0.1;
    second.push_back(a);
    EXPECT_FALSE(first.shares_with(profile_points));
    EXPECT_FALSE(second.shares_with(profile_points));
    EXPECT_EQ(profile_points[0].scale, 1.0);
    EXPECT_EQ(profile_points.size(), 2u);
    EXPECT_EQ(first[0].scale, 0.1);
    EXPECT_EQ(second.size(), 3u);
    EXPECT_NE(first, profile_points);

    // Equal points compare equal whether or not the list is shared (a reload
    // keeps a device whose points did not change).
    const point_list separate{a, b};
    EXPECT_FALSE(separate.shares_with(profile_points));
    EXPECT_EQ(separate, profile_points);
    EXPECT_EQ(point_list{}, point_list(std::vector<point>{}));
    EXPECT_TRUE(point_list{}.empty());

    // A list held once is changed in place.
    point_list own{a};
    const point* before = &own[0];
    own.edit()[0].scale = 2;
    EXPECT_EQ(&own[0], before);
}

TEST(config_loader, device_quirk_settings_and_simulator_faults) {
    const auto g = load_string(R"(
buses:
  line: { type: rtu, device: /dev/ttyS0 }
devices:
  m1:
    bus: line
    unit_id: 1
    request_delay: 50ms
    switch_delay: 20ms
    write_function: fc16
    busy_retry_delay: 250ms
    merge_reads: false
    offline_after: 5
    offline_poll_interval: 30s
    simulator_faults: { refuse_fc6: true, busy_every: 3, response_delay: 5ms, unmapped: ["10-19", "40"],
                        miss_every: 7, min_request_gap: 40ms, max_registers: 8, stray_every: 5,
                        unanswered: ["100-109"] }
    points: [ { name: a, register: holding, address: 0 } ]
  m2:
    bus: line
    unit_id: 2
    points: [ { name: a, register: holding, address: 0 } ]
availability: { offline_after: 4, summary_interval: 30s }
)");
    const auto& d = g.devices.at(0);
    EXPECT_EQ(d.request_delay, 50ms);
    EXPECT_EQ(d.switch_delay, 20ms);
    EXPECT_EQ(d.write_function, write_function::fc16);
    EXPECT_EQ(d.busy_retry_delay, 250ms);
    EXPECT_TRUE(d.faults.refuse_fc6);
    EXPECT_EQ(d.faults.busy_every, 3u);
    EXPECT_EQ(d.faults.response_delay, 5ms);
    EXPECT_EQ(d.faults.unmapped, (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{10, 19}, {40, 40}}));
    EXPECT_EQ(d.faults.unanswered, (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{100, 109}}));
    EXPECT_FALSE(d.merge_reads);
    EXPECT_EQ(d.offline_after, 5u);
    EXPECT_EQ(d.offline_poll_interval, 30s);
    EXPECT_EQ(d.faults.miss_every, 7u);
    EXPECT_EQ(d.faults.min_request_gap, 40ms);
    EXPECT_EQ(d.faults.max_registers, 8u);
    EXPECT_EQ(d.faults.stray_every, 5u);
    // A device without its own threshold takes availability's.
    EXPECT_EQ(g.devices.at(1).offline_after, 4u);
    EXPECT_EQ(g.devices.at(1).offline_poll_interval, 10s);
    EXPECT_EQ(g.availability.summary_interval, 30s);

    const auto e = errors_of(bus_and_device + "      - { name: a, register: holding, address: 0 }\n" +
                             "    simulator_faults: { unmapped: [\"19-10\"] }\n" + "    write_function: fc7\n");
    EXPECT_NE(e.find("not a register range"), std::string::npos) << e;
    EXPECT_NE(e.find("fc7"), std::string::npos) << e;
}

TEST(config_loader, a_profile_carries_device_settings_that_a_device_may_override) {
    const auto g = load_string(R"(
profiles:
  slow_meter:
    timeout: 2s
    byte_timeout: 80ms
    request_delay: 50ms
    write_function: fc16
    max_registers: 16
    points: [ { name: a, register: holding, address: 0 } ]
buses:
  line: { type: rtu, device: /dev/ttyS0 }
devices:
  m1: { bus: line, unit_id: 1, profile: slow_meter }
  m2: { bus: line, unit_id: 2, profile: slow_meter, request_delay: 80ms, retries: 3 }
  m3: { bus: line, unit_id: 3, points: [ { name: a, register: holding, address: 0 } ] }
)");
    const auto& m1 = g.devices.at(0);
    EXPECT_EQ(m1.timeout, 2s);
    EXPECT_EQ(m1.byte_timeout, 80ms);
    EXPECT_EQ(m1.request_delay, 50ms);
    EXPECT_EQ(m1.write_function, write_function::fc16);
    EXPECT_EQ(m1.max_registers_per_read, 16u);
    EXPECT_EQ(m1.name, "m1");
    EXPECT_EQ(m1.unit_id, 1u);
    const auto& m2 = g.devices.at(1);
    EXPECT_EQ(m2.timeout, 2s);
    EXPECT_EQ(m2.request_delay, 80ms);
    EXPECT_EQ(m2.retries, 3);
    const auto& m3 = g.devices.at(2);
    EXPECT_EQ(m3.timeout, 1s);
    EXPECT_EQ(m3.write_function, write_function::automatic);

    const auto e = errors_of(R"(
profiles:
  p: { timeout: soon, unit_id: 4, points: [ { name: a, register: holding, address: 0 } ] }
)" + bus_and_device.substr(0, 0));
    EXPECT_NE(e.find("timeout"), std::string::npos) << e;
    EXPECT_NE(e.find("unit_id"), std::string::npos) << e;
}

// 248..255 are reserved on a serial line, and RTU frames over TCP reach one
// (a serial device server); a Modbus TCP gateway may use them.
TEST(config_loader, unit_ids_past_247_only_on_modbus_tcp_framing) {
    const auto with = [](const std::string& framing) {
        return "buses: { conv: { type: tcp, host: 10.0.0.5, framing: " + framing +
               " } }\ndevices: { d: { bus: conv, unit_id: 250, points: [ { name: a, register: holding, address: 0 } "
               "] } }\n";
    };
    const auto e = errors_of(with("rtu"));
    EXPECT_NE(e.find("plant.yaml:2:"), std::string::npos) << e;
    EXPECT_NE(e.find("unit_id: 250 is out of range; expected an integer 1..247"), std::string::npos) << e;
    EXPECT_EQ(load_string(with("mbap"), "plant.yaml").devices.at(0).unit_id, 250);
}

TEST(config_loader, serial_line_and_tcp_connection_settings) {
    const auto g = load_string(R"(
buses:
  line: { type: rtu, device: /dev/ttyS0, baud: 115200, rs485: rts_down, rts_delay_us: 300, simulator_wire_timing: true }
  plc: { type: tcp, host: 10.0.0.5 }
  converter: { type: tcp, host: 10.0.0.6, port: 4001, framing: rtu }
devices:
  m1: { bus: line, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] }
  p1:
    bus: plc
    unit_id: 1
    connect_pause: 500ms
    close_after_poll: true
    simulator_faults: { one_master: true, connect_pause: 200ms }
    points: [ { name: a, register: holding, address: 0 } ]
)");
    const auto& line = std::get<rtu_link>(g.buses.at(0).link);
    EXPECT_EQ(line.rs485, rs485_mode::rts_down);
    EXPECT_EQ(line.rts_delay_us, 300u);
    EXPECT_TRUE(line.simulator_wire_timing);
    EXPECT_EQ(std::get<rtu_link>(load_string(R"(
buses: { line: { type: rtu, device: /dev/ttyS0 } }
devices: { m1: { bus: line, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] } }
)").buses.at(0).link).rts_delay_us, std::nullopt);
    EXPECT_EQ(std::get<tcp_link>(g.buses.at(1).link).framing, tcp_framing::mbap);
    EXPECT_EQ(std::get<tcp_link>(g.buses.at(2).link).framing, tcp_framing::rtu);
    const auto& p = g.devices.at(1);
    EXPECT_EQ(p.connect_pause, 500ms);
    EXPECT_TRUE(p.close_after_poll);
    EXPECT_TRUE(p.faults.one_master);
    EXPECT_EQ(p.faults.connect_pause, 200ms);

    const auto e = errors_of(R"(
buses: { line: { type: rtu, device: /dev/ttyS0, rs485: rts } }
devices: { m1: { bus: line, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] } }
)");
    EXPECT_NE(e.find("rts_up"), std::string::npos) << e;
}

TEST(config_loader, unknown_keys_are_refused_with_a_suggestion) {
    const auto e = errors_of("mqtt: { host: 127.0.0.1, prot: 1883 }\n");
    EXPECT_NE(e.find("plant.yaml:1:26: mqtt.prot: unknown key; did you mean port?"), std::string::npos) << e;
}

TEST(config_loader, wrong_types_and_ranges_name_line_column_and_what_is_expected) {
    const auto e = errors_of(bus_and_device + R"(      - { name: a, register: holding, address: 70000, type: int16 }
      - { name: b, register: holding, address: 1, type: int17 }
      - { name: c, register: holding, address: 2, type: int16, writable: yes }
)");
    EXPECT_NE(e.find("plant.yaml:9:"), std::string::npos) << e;
    EXPECT_NE(e.find("plant.yaml:10:"), std::string::npos) << e;
    EXPECT_NE(e.find("plant.yaml:11:"), std::string::npos) << e;
    EXPECT_NE(e.find("expected"), std::string::npos) << e;
}

TEST(config_loader, every_problem_is_reported_at_once) {
    const auto e = errors_of(R"(buses:
  line: { type: rtu, device: /dev/ttyUSB0, baud: 9601, parity: evn }
devices:
  m1: { bus: lne, unit_id: 300 }
)");
    EXPECT_NE(e.find("plant.yaml:2:"), std::string::npos) << e;
    EXPECT_NE(e.find("did you mean even?"), std::string::npos) << e;
    EXPECT_NE(e.find("no bus named lne; did you mean line?"), std::string::npos) << e;
    EXPECT_NE(e.find("unit_id: 300 is out of range"), std::string::npos) << e;
}

TEST(config_loader, overlapping_registers_and_duplicate_topics_are_refused) {
    const auto e = errors_of(bus_and_device + R"(      - { name: a, register: holding, address: 0, type: float32 }
      - { name: b, register: holding, address: 1, type: int16 }
      - { name: d, register: holding, address: 20, type: int16, topic: "x/y" }
      - { name: f, register: holding, address: 21, type: int16, topic: "x/y" }
)");
    EXPECT_NE(e.find("plant.yaml:10:9: devices.m1.points[b]: holding registers 1 overlap point a"), std::string::npos)
        << e;
    EXPECT_NE(e.find("plant.yaml:12:9: devices.m1.points[f]: topic x/y is also the topic of"), std::string::npos) << e;
}

TEST(config_loader, bits_of_one_register_may_share_it) {
    const auto g = load_string(bus_and_device + R"(      - { name: a, register: holding, address: 0, type: bool, bit: 0 }
      - { name: b, register: holding, address: 0, type: bool, bit: 1 }
)");
    EXPECT_EQ(g.devices[0].points.size(), 2u);
}

TEST(config_loader, duplicate_names_are_refused) {
    const auto e = errors_of(bus_and_device + R"(      - { name: a, register: holding, address: 0, type: int16 }
      - { name: a, register: holding, address: 5, type: int16 }
)");
    EXPECT_NE(e.find("plant.yaml:10:"), std::string::npos) << e;
    EXPECT_NE(e.find("duplicate point name a"), std::string::npos) << e;
}

TEST(config_loader, malformed_yaml_is_an_error_not_a_crash) {
    for (const std::string bad : {"mqtt: [\n", "{{{{", "devices: 12\n", "- just\n- a list\n", "mqtt: { port: 99999999999999999999 }\n",
                                  "buses: { l: { type: tcp, host: h, port: -1 } }\n", "\t\tmqtt:\n"}) {
        EXPECT_THROW(load_string(bad, "bad.yaml"), config_error) << bad;
    }
}

TEST(config_loader, a_missing_file_is_a_clear_error) {
    try {
        load_file("/nonexistent/plant.yaml");
        FAIL();
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/plant.yaml"), std::string::npos) << e.what();
    }
}

TEST(config_topic, templates_expand_every_placeholder) {
    publish_settings pub;
    pub.prefix = "p";
    device d;
    d.name = "dev";
    d.unit_id = 7;
    point pt;
    pt.name = "pt";
    bus b;
    b.name = "line";
    EXPECT_EQ(expand_topic("{prefix}/{bus}/{device}/{unit}/{point}", pub, d, pt, b), "p/line/dev/7/pt");
    EXPECT_TRUE(topic_template_error("{prefix}/{devise}").has_value());
    EXPECT_TRUE(topic_template_error("a/#").has_value());
    EXPECT_FALSE(topic_template_error("{prefix}/{device}/{point}").has_value());
}

TEST(config_examples, the_shipped_examples_load_and_print_their_point_map) {
    const auto demo = load_file(FIELDBRIDGE_SOURCE_DIR "/examples/demo.yaml");
    EXPECT_EQ(demo.buses.size(), 1u);
    EXPECT_NE(format_point_map(demo).find("demo/meter1/voltage"), std::string::npos);

    const auto meters = load_file(FIELDBRIDGE_SOURCE_DIR "/examples/energy-meter.yaml");
    EXPECT_EQ(meters.devices.size(), 20u);
    const auto map = format_point_map(meters);
    EXPECT_NE(map.find("plant1/hall3/meter20/transformer_temp"), std::string::npos) << map;
    EXPECT_NE(map.find("float32 cdab"), std::string::npos) << map;
    EXPECT_TRUE(meters.warnings.empty());
}

// One master per line: two buses on one serial device, or two carrying RTU
// frames to one converter, are refused; Modbus TCP connections to one host
// may be several.
TEST(config, two_buses_on_one_line_are_refused) {
    const std::string devices =
        "devices:\n"
        "  d1: { bus: l1, unit_id: 1, points: [ { name: a, register: holding, address: 0 } ] }\n"
        "  d2: { bus: l2, unit_id: 2, points: [ { name: a, register: holding, address: 0 } ] }\n";
    auto e = errors_of("buses:\n"
                       "  l1: { type: rtu, device: /dev/ttyUSB0 }\n"
                       "  l2: { type: rtu, device: /dev/./ttyUSB0, baud: 19200 }\n" +
                       devices);
    EXPECT_NE(e.find("plant.yaml:3:"), std::string::npos) << e;
    EXPECT_NE(e.find("buses.l2: the serial device /dev/./ttyUSB0 is also the line of buses.l1"), std::string::npos) << e;
    e = errors_of("buses:\n"
                  "  l1: { type: tcp, host: 10.0.0.6, port: 4001, framing: rtu }\n"
                  "  l2: { type: tcp, host: 10.0.0.6, port: 4001, framing: rtu }\n" +
                  devices);
    EXPECT_NE(e.find("buses.l2: RTU frames over TCP to 10.0.0.6:4001 is also the line of buses.l1"), std::string::npos)
        << e;
    EXPECT_NO_THROW(load_string("buses:\n"
                                "  l1: { type: tcp, host: 10.0.0.6 }\n"
                                "  l2: { type: tcp, host: 10.0.0.6 }\n" +
                                    devices,
                                "plant.yaml"));
}

}  // namespace
}  // namespace fieldbridge::config
