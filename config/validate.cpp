#include "config/validate.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "config/limits.hpp"
#include "config/names.hpp"
#include "config/topic.hpp"
#include "config/topic_roles.hpp"
#include "config/wire_strings.hpp"

namespace fieldbridge::config {

namespace {

std::string where(const source_mark& m) {
    std::string out = m.file;
    if (m.line > 0) out += ":" + std::to_string(m.line);
    return out;
}

std::string point_path(const device& d, const point& p) { return "devices." + d.name + ".points[" + p.name + "]"; }

std::string space_name(register_kind k) {
    switch (k) {
        case register_kind::coil:
            return "coils";
        case register_kind::discrete_input:
            return "discrete inputs";
        case register_kind::holding_register:
            return "holding registers";
        case register_kind::input_register:
            return "input registers";
    }
    return "registers";
}

std::string span_text(const point& p) {
    const std::uint32_t count = is_bit_kind(p.kind) ? 1 : register_count(p);
    std::string out = std::to_string(p.address);
    if (count > 1) out += ".." + std::to_string(p.address + count - 1);
    if (p.bit) out += " bit " + std::to_string(*p.bit);
    return out;
}

template <class T>
void check_unique_names(const std::vector<T>& items, const std::string& section, diagnostic_list& out) {
    std::map<std::string, const T*> seen;
    for (const auto& item : items) {
        const auto [it, inserted] = seen.emplace(item.name, &item);
        if (!inserted) {
            add(out, item.mark, section + "." + item.name + ": duplicate name (first at " + where(it->second->mark) +
                                    "); expected unique names");
        }
    }
}

// One line, one master: two buses on one serial device (or on one converter
// carrying RTU frames over TCP) would interleave their requests and read each
// other's answers. Modbus TCP (MBAP) connections to one host are told apart
// by their transaction ids and may be several.
void check_shared_lines(const std::vector<bus>& buses, diagnostic_list& out) {
    std::map<std::string, const bus*> lines;
    for (const auto& b : buses) {
        std::string line;
        std::string what;
        if (const auto* rtu = std::get_if<rtu_link>(&b.link)) {
            line = "serial " + std::filesystem::path(rtu->device).lexically_normal().string();
            what = "the serial device " + rtu->device;
        } else if (const auto& tcp = std::get<tcp_link>(b.link); tcp.framing == tcp_framing::rtu) {
            line = "rtu " + tcp.host + ":" + std::to_string(tcp.port);
            what = "RTU frames over TCP to " + tcp.host + ":" + std::to_string(tcp.port);
        } else {
            continue;
        }
        if (const auto [it, inserted] = lines.emplace(line, &b); !inserted) {
            add(out, b.mark, "buses." + b.name + ": " + what + " is also the line of buses." + it->second->name +
                                 " (at " + where(it->second->mark) +
                                 "); expected one bus per line: put the devices of both under one bus");
        }
    }
}

// Two points of one device may not read the same register (or coil), except
// bool points that pick different bits of one register.
void check_overlaps(const device& d, diagnostic_list& out) {
    std::vector<const point*> sorted;
    for (const auto& p : d.points) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(), [](const point* a, const point* b) {
        return std::pair(a->kind, a->address) < std::pair(b->kind, b->address);
    });
    std::vector<const point*> open;  // points of the current space whose span may still reach the next one
    for (const point* p : sorted) {
        const std::uint32_t start = p->address;
        std::erase_if(open, [&](const point* q) {
            const std::uint32_t q_end = q->address + (is_bit_kind(q->kind) ? 1 : register_count(*q));
            return q->kind != p->kind || q_end <= start;
        });
        for (const point* q : open) {
            if (!share_a_register(*p, *q)) continue;
            add(out, p->mark, point_path(d, *p) + ": " + space_name(p->kind) + " " + span_text(*p) +
                                  " overlap point " + q->name + " (" + span_text(*q) + ", at " + where(q->mark) +
                                  "); expected points that do not share registers (bool points may share one "
                                  "register with different bit numbers)");
            break;
        }
        open.push_back(p);
    }
}

void check_read_limits(const device& d, diagnostic_list& out) {
    for (const auto& p : d.points) {
        if (is_bit_kind(p.kind)) continue;
        const std::uint32_t count = register_count(p);
        if (count > d.max_registers_per_read) {
            add(out, p.mark, point_path(d, p) + ": " + std::string(to_string(p.type)) + " needs " +
                                 std::to_string(count) + " registers in one read but devices." + d.name +
                                 ".max_registers is " + std::to_string(d.max_registers_per_read) +
                                 "; expected max_registers >= " + std::to_string(count));
        }
    }
}

// format: template: every point has a template to be made from (its own,
// its device's or publish.template); reported once per device.
void check_templates(const gateway& cfg, diagnostic_list& out) {
    if (cfg.publish.format != payload_format::templated || cfg.publish.payload_template) return;
    for (const auto& d : cfg.devices) {
        const point* first = nullptr;
        std::size_t without = 0;
        for (const auto& p : d.points) {
            if (effective_template(cfg.publish, d, p) != nullptr) continue;
            if (first == nullptr) first = &p;
            ++without;
        }
        if (first == nullptr) continue;
        add(out, first->mark,
            point_path(d, *first) + ": publish.format is template and this point has no template" +
                (without > 1 ? " (nor have " + std::to_string(without - 1) + " more points of devices." + d.name + ")"
                             : std::string()) +
                "; expected publish.template, devices." + d.name + ".template (or its profile's) or the point's "
                "template");
    }
}

}  // namespace

bool share_a_register(const point& a, const point& b) {
    if (a.kind != b.kind) return false;
    const auto end = [](const point& p) { return p.address + (is_bit_kind(p.kind) ? 1 : register_count(p)); };
    if (end(a) <= b.address || end(b) <= a.address) return false;
    const bool distinct_bits =
        a.bit && b.bit && *a.bit != *b.bit && a.address == b.address && register_count(a) == 1 && register_count(b) == 1;
    return !distinct_bits;
}

std::vector<diagnostic> validate(const gateway& cfg) {
    diagnostic_list out;
    validate(cfg, out);
    return out.take();
}

void validate(const gateway& cfg, diagnostic_list& out) {
    check_unique_names(cfg.buses, "buses", out);
    check_unique_names(cfg.profiles, "profiles", out);
    check_unique_names(cfg.devices, "devices", out);
    check_shared_lines(cfg.buses, out);
    check_templates(cfg, out);

    point_topic_map topics;
    // format: device: each device's value topic and its availability topic.
    const bool device_format = cfg.publish.format == payload_format::device;
    std::vector<std::pair<std::string, const device*>> device_topics;
    std::map<std::string, const device*> availability_topics;
    std::size_t topic_bytes = 0;
    bool too_many_topic_bytes = false;
    for (const auto& d : cfg.devices) {
        const auto b = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const bus& x) { return x.name == d.bus; });
        if (b == cfg.buses.end()) {
            add(out, d.mark, "devices." + d.name + ".bus: no bus named " + d.bus + "; expected a bus under buses");
            continue;
        }
        std::map<std::string, const point*> names;
        for (const auto& p : d.points) {
            const auto [first, inserted] = names.emplace(p.name, &p);
            if (!inserted) {
                add(out, p.mark, point_path(d, p) + ": point name " + p.name + " is already used on this device (at " +
                                     where(first->second->mark) + (d.profile ? ", profile " + *d.profile : "") +
                                     "); expected unique point names per device");
            }
        }
        check_overlaps(d, out);
        check_read_limits(d, out);
        if (device_format) {
            device_topics.emplace_back(expand_topic(cfg.publish.device_topic, cfg.publish, d, point{}, *b), &d);
            availability_topics.emplace(expand_topic(cfg.availability.device_topic, cfg.publish, d, point{}, *b), &d);
        }
        for (const auto& p : d.points) {
            if (too_many_topic_bytes) break;
            auto topic = point_topic(cfg.publish, d, p, *b);
            topic_bytes += topic.size();
            if (topic_bytes > limits::max_topic_bytes) {
                add(out, p.mark, point_path(d, p) + ": the topics of the points up to this one come to " +
                                     std::to_string(topic_bytes) + " bytes; expected at most " +
                                     std::to_string(limits::max_topic_bytes) +
                                     " bytes of topics in all points together (64 MiB): shorten " +
                                     (p.topic ? point_path(d, p) + ".topic" : std::string("publish.topic")) +
                                     ", publish.prefix or the names they put in");
                too_many_topic_bytes = true;
                break;
            }
            const auto [it, inserted] = topics.emplace(topic, topic_owner{&d, &p});
            if (!inserted) {
                add(out, p.mark, point_path(d, p) + ": topic " + topic + " is also the topic of " +
                                     point_path(*it->second.d, *it->second.p) + " (at " + where(it->second.p->mark) +
                                     "); expected one topic per point: use {device} and {point} in " +
                                     (p.topic ? point_path(d, p) + ".topic" : std::string("publish.topic")));
            }
        }
    }
    // format: device: one value topic per device, not another's and not a
    // point's or an availability topic.
    if (!too_many_topic_bytes) {
        std::map<std::string, const device*> seen;
        for (const auto& [topic, d] : device_topics) {
            const auto& mark = cfg.publish.mark.line > 0 ? cfg.publish.mark : d->mark;
            const std::string what = "publish.device_topic: the topic " + topic + " of devices." + d->name;
            if (const auto [it, inserted] = seen.emplace(topic, d); !inserted) {
                add(out, mark, what + " is also the topic of devices." + it->second->name +
                                   "; expected one topic per device: use {device} in publish.device_topic");
            } else if (const auto p = topics.find(topic); p != topics.end()) {
                add(out, mark, what + " is also the topic of " + point_path(*p->second.d, *p->second.p) +
                                   "; expected a device topic apart from the points' topics");
            } else if (const auto a = availability_topics.find(topic); a != availability_topics.end()) {
                add(out, mark, what + " is also the availability topic of devices." + a->second->name +
                                   "; expected a device topic apart from availability.device_topic");
            }
        }
    }
    // The wire check expands every topic again, each up to 65 535 bytes.
    if (too_many_topic_bytes) return;
    check_topic_roles(cfg, topics, out);
    check_wire_strings(cfg, out);
}

}  // namespace fieldbridge::config
