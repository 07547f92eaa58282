// A gateway configuration for tests, built from typed calls and written out
// as the YAML the gateway reads: sections, buses, profiles, devices and
// points. A test changes a setting by calling the setter again (it replaces
// the value in place), never by editing YAML text. Plain values; not
// thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace fieldbridge::testing {

// An ordered YAML mapping, written in flow style: { a: 1, b: { c: x } }.
// Setting a key again replaces its value where it stands.
class yaml_map {
public:
    // Text is written plain when YAML reads it back as the same string,
    // quoted otherwise ("{prefix}/{device}", "5", "").
    yaml_map& set(const std::string& key, const std::string& text);
    yaml_map& set(const std::string& key, const char* text) { return set(key, std::string(text)); }
    yaml_map& set(const std::string& key, long long number);
    yaml_map& set(const std::string& key, int number) { return set(key, static_cast<long long>(number)); }
    yaml_map& set(const std::string& key, double number);
    yaml_map& set(const std::string& key, bool flag);
    yaml_map& set(const std::string& key, const yaml_map& nested);
    // A flow sequence of text items: [ "1-4", "9" ].
    yaml_map& set(const std::string& key, const std::vector<std::string>& items);
    yaml_map& erase(const std::string& key);

    bool empty() const { return entries_.empty(); }
    bool contains(const std::string& key) const;
    // The value as written (plain or quoted), or "" when the key is not set.
    std::string written(const std::string& key) const;
    // "{ a: 1, b: x }"
    std::string flow() const;
    // One "key: value" line per entry, each indented by `indent` spaces.
    std::string block(int indent) const;

private:
    yaml_map& put(const std::string& key, std::string written);
    std::vector<std::pair<std::string, std::string>> entries_;
};

// A point of a device or a profile.
class point_spec {
public:
    // register_kind: holding, input, coil or discrete; type as in the
    // configuration reference (uint16, float32, string, bool...).
    point_spec(const std::string& name, const std::string& register_kind, int address, const std::string& type);

    point_spec& qos(int q) { return set("qos", q); }
    point_spec& order(const std::string& o) { return set("order", o); }
    point_spec& unit(const std::string& u) { return set("unit", u); }
    point_spec& topic(const std::string& t) { return set("topic", t); }
    point_spec& retain(bool on = true) { return set("retain", on); }
    point_spec& writable(bool on = true) { return set("writable", on); }
    point_spec& length(int registers) { return set("length", registers); }
    point_spec& bit(int b) { return set("bit", b); }
    point_spec& scale(double s) { return set("scale", s); }
    point_spec& offset(double o) { return set("offset", o); }
    // What `fieldbridge simulate` serves for it.
    point_spec& simulate_constant(double value);
    point_spec& simulate_ramp(double start, double span, const std::string& period);
    // Any other key.
    template <class T>
    point_spec& set(const std::string& key, const T& value) {
        fields_.set(key, value);
        return *this;
    }

    const std::string& name() const { return name_; }
    int address() const { return address_; }
    const yaml_map& fields() const { return fields_; }

private:
    std::string name_;
    int address_;
    yaml_map fields_;
};

// A device on a bus: its own points, or a profile's.
class device_spec {
public:
    explicit device_spec(std::string name) : name_(std::move(name)) {}

    device_spec& bus(const std::string& b) { return set("bus", b); }
    device_spec& unit_id(int id) { return set("unit_id", id); }
    device_spec& profile(const std::string& p) { return set("profile", p); }
    device_spec& poll_interval(const std::string& d) { return set("poll_interval", d); }
    device_spec& timeout(const std::string& d) { return set("timeout", d); }
    device_spec& retries(int n) { return set("retries", n); }
    device_spec& offline_poll_interval(const std::string& d) { return set("offline_poll_interval", d); }
    device_spec& max_gap(int registers) { return set("max_gap", registers); }
    // simulator_faults: how `fieldbridge simulate` misbehaves as this device
    // (vanish_after, vanish_for, response_delay, miss_every, unmapped...).
    template <class T>
    device_spec& fault(const std::string& key, const T& value) {
        faults_.set(key, value);
        return *this;
    }
    device_spec& point(point_spec p);
    template <class T>
    device_spec& set(const std::string& key, const T& value) {
        fields_.set(key, value);
        return *this;
    }

    const std::string& name() const { return name_; }
    std::string yaml() const;  // the block under devices:

private:
    std::string name_;
    yaml_map fields_;
    yaml_map faults_;
    std::vector<point_spec> points_;
};

class config_builder {
public:
    // Sections written as one flow mapping each: mqtt, publish, store,
    // control, commands, availability, metrics, sparkplug. Setting a key adds the section.
    yaml_map& mqtt() { return mqtt_; }
    yaml_map& publish() { return publish_; }
    yaml_map& store() { return store_; }
    yaml_map& control() { return control_; }
    yaml_map& commands() { return commands_; }
    yaml_map& availability() { return availability_; }
    yaml_map& metrics() { return metrics_; }
    yaml_map& sparkplug() { return sparkplug_; }

    config_builder& broker(const std::string& host, std::uint16_t port);
    config_builder& client_id(const std::string& id);
    config_builder& prefix(const std::string& p);
    config_builder& heartbeat(const std::string& d);
    config_builder& store_path(const std::string& path);
    config_builder& control_socket(const std::string& path);

    config_builder& tcp_bus(const std::string& name, std::uint16_t port, const std::string& host = "127.0.0.1");
    config_builder& rtu_bus(const std::string& name, const std::string& device, int baud);
    // The bus's settings, to change or add to (parity, framing...).
    yaml_map& bus(const std::string& name);

    config_builder& profile(const std::string& name, std::vector<point_spec> points);
    // A profile read from a file: `name: !include path`.
    config_builder& profile_file(const std::string& name, const std::string& path);
    // The device of that name, added (with the name only) if there is none.
    device_spec& device(const std::string& name);
    config_builder& remove_device(const std::string& name);

    std::string yaml() const;
    // Writes yaml() to path; returns the path as text.
    std::string write(const std::filesystem::path& path) const;

private:
    yaml_map mqtt_, publish_, store_, control_, commands_, availability_, metrics_, sparkplug_;
    std::vector<std::pair<std::string, yaml_map>> buses_;
    std::vector<std::pair<std::string, std::vector<point_spec>>> profiles_;
    std::vector<std::pair<std::string, std::string>> profile_files_;  // name, path
    std::vector<device_spec> devices_;
};

}  // namespace fieldbridge::testing
