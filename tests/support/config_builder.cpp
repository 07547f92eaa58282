#include "tests/support/config_builder.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace fieldbridge::testing {
namespace {

// Plain YAML scalars that read back as this very string: no indicator
// characters, not empty, not something YAML would take for a number or a flag.
bool plain_is_safe(const std::string& text) {
    if (text.empty()) return false;
    const bool all_digits = std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
    if (all_digits) return false;
    if (text == "true" || text == "false" || text == "null" || text == "~" || text == "yes" || text == "no") {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '.' || c == '/' || c == '-' || c == '+';
    });
}

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string scalar(const std::string& text) { return plain_is_safe(text) ? text : quoted(text); }

}  // namespace

yaml_map& yaml_map::put(const std::string& key, std::string written) {
    for (auto& [k, v] : entries_) {
        if (k == key) {
            v = std::move(written);
            return *this;
        }
    }
    entries_.emplace_back(key, std::move(written));
    return *this;
}

yaml_map& yaml_map::set(const std::string& key, const std::string& text) { return put(key, scalar(text)); }
yaml_map& yaml_map::set(const std::string& key, long long number) { return put(key, std::to_string(number)); }
yaml_map& yaml_map::set(const std::string& key, bool flag) { return put(key, flag ? "true" : "false"); }
yaml_map& yaml_map::set(const std::string& key, const yaml_map& nested) { return put(key, nested.flow()); }

yaml_map& yaml_map::set(const std::string& key, double number) {
    // The shortest text that reads back as the same double, without an exponent.
    char text[400];
    const auto end = std::to_chars(text, text + sizeof text, number, std::chars_format::fixed).ptr;
    return put(key, std::string(text, end));
}

yaml_map& yaml_map::set(const std::string& key, const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? " " : ", ") + quoted(items[i]);
    return put(key, out + (items.empty() ? "]" : " ]"));
}

yaml_map& yaml_map::erase(const std::string& key) {
    std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
    return *this;
}

bool yaml_map::contains(const std::string& key) const {
    return std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; });
}

std::string yaml_map::written(const std::string& key) const {
    for (const auto& [k, v] : entries_) {
        if (k == key) return v;
    }
    return {};
}

std::string yaml_map::flow() const {
    if (entries_.empty()) return "{}";
    std::string out = "{ ";
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        if (i > 0) out += ", ";
        out += entries_[i].first + ": " + entries_[i].second;
    }
    return out + " }";
}

std::string yaml_map::block(int indent) const {
    std::string out;
    for (const auto& [k, v] : entries_) out += std::string(static_cast<std::size_t>(indent), ' ') + k + ": " + v + "\n";
    return out;
}

point_spec::point_spec(const std::string& name, const std::string& register_kind, int address,
                       const std::string& type)
    : name_(name), address_(address) {
    fields_.set("name", name).set("register", register_kind).set("address", address).set("type", type);
}

point_spec& point_spec::simulate_constant(double value) {
    return set("simulate", yaml_map().set("wave", "constant").set("value", value));
}

point_spec& point_spec::simulate_ramp(double start, double span, const std::string& period) {
    return set("simulate",
               yaml_map().set("wave", "ramp").set("value", start).set("amplitude", span).set("period", period));
}

device_spec& device_spec::point(point_spec p) {
    for (auto& existing : points_) {
        if (existing.name() == p.name()) {
            existing = std::move(p);
            return *this;
        }
    }
    points_.push_back(std::move(p));
    return *this;
}

std::string device_spec::yaml() const {
    std::string out = "  " + name_ + ":\n" + fields_.block(4);
    if (!faults_.empty()) out += "    simulator_faults: " + faults_.flow() + "\n";
    if (!points_.empty()) {
        out += "    points:\n";
        for (const auto& p : points_) out += "      - " + p.fields().flow() + "\n";
    }
    return out;
}

config_builder& config_builder::broker(const std::string& host, std::uint16_t port) {
    mqtt_.set("host", host).set("port", static_cast<int>(port));
    return *this;
}

config_builder& config_builder::client_id(const std::string& id) {
    mqtt_.set("client_id", id);
    return *this;
}

config_builder& config_builder::prefix(const std::string& p) {
    publish_.set("prefix", p);
    return *this;
}

config_builder& config_builder::heartbeat(const std::string& d) {
    publish_.set("heartbeat", d);
    return *this;
}

config_builder& config_builder::store_path(const std::string& path) {
    store_.set("path", path);
    return *this;
}

config_builder& config_builder::control_socket(const std::string& path) {
    control_.set("socket", path);
    return *this;
}

yaml_map& config_builder::bus(const std::string& name) {
    for (auto& [n, settings] : buses_) {
        if (n == name) return settings;
    }
    return buses_.emplace_back(name, yaml_map()).second;
}

config_builder& config_builder::tcp_bus(const std::string& name, std::uint16_t port, const std::string& host) {
    bus(name) = yaml_map().set("type", "tcp").set("host", host).set("port", static_cast<int>(port));
    return *this;
}

config_builder& config_builder::rtu_bus(const std::string& name, const std::string& device, int baud) {
    bus(name) = yaml_map().set("type", "rtu").set("device", device).set("baud", baud);
    return *this;
}

config_builder& config_builder::profile(const std::string& name, std::vector<point_spec> points) {
    for (auto& [n, list] : profiles_) {
        if (n == name) {
            list = std::move(points);
            return *this;
        }
    }
    profiles_.emplace_back(name, std::move(points));
    return *this;
}

config_builder& config_builder::profile_file(const std::string& name, const std::string& path) {
    for (auto& [n, file] : profile_files_) {
        if (n == name) {
            file = path;
            return *this;
        }
    }
    profile_files_.emplace_back(name, path);
    return *this;
}

device_spec& config_builder::device(const std::string& name) {
    for (auto& d : devices_) {
        if (d.name() == name) return d;
    }
    return devices_.emplace_back(name);
}

config_builder& config_builder::remove_device(const std::string& name) {
    std::erase_if(devices_, [&](const device_spec& d) { return d.name() == name; });
    return *this;
}

std::string config_builder::yaml() const {
    std::string out;
    const auto section = [&](const char* name, const yaml_map& m) {
        if (!m.empty()) out += std::string(name) + ": " + m.flow() + "\n";
    };
    section("mqtt", mqtt_);
    section("publish", publish_);
    section("store", store_);
    section("control", control_);
    section("commands", commands_);
    section("availability", availability_);
    section("metrics", metrics_);
    section("sparkplug", sparkplug_);
    if (!profiles_.empty() || !profile_files_.empty()) {
        out += "profiles:\n";
        for (const auto& [name, points] : profiles_) {
            out += "  " + name + ":\n    points:\n";
            for (const auto& p : points) out += "      - " + p.fields().flow() + "\n";
        }
        for (const auto& [name, path] : profile_files_) out += "  " + name + ": !include " + path + "\n";
    }
    if (!buses_.empty()) {
        out += "buses:\n";
        for (const auto& [name, settings] : buses_) out += "  " + name + ": " + settings.flow() + "\n";
    }
    if (!devices_.empty()) {
        out += "devices:\n";
        for (const auto& d : devices_) out += d.yaml();
    }
    return out;
}

std::string config_builder::write(const std::filesystem::path& path) const {
    std::ofstream out(path);
    out << yaml();
    out.close();
    if (!out) throw std::runtime_error("config_builder: cannot write " + path.string());
    return path.string();
}

}  // namespace fieldbridge::testing
