#include "gateway/payload_examples.hpp"

#include <memory>
#include <sstream>

#include "config/names.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/simulated_value.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "gateway/availability.hpp"
#include "gateway/point_mapper.hpp"
#include "gateway/sparkplug_node.hpp"
#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::gateway {
namespace {

// At most this many messages of a kind are printed; the rest are counted.
constexpr std::size_t shown = 3;

// What the simulator serves first for a simulated point; else 0 (within
// min/max), false or "text".
modbus::value stand_in(const config::point& p) {
    if (p.simulate) return modbus::simulated_value(p, 0.0);
    if (p.type == config::data_type::boolean) return false;
    if (p.type == config::data_type::string) return std::string("text");
    double v = 0.0;
    if (p.minimum && v < *p.minimum) v = *p.minimum;
    if (p.maximum && v > *p.maximum) v = *p.maximum;
    return v;
}

// Registers that decode to the stand-in, or zeros when it cannot be encoded
// (a value off the type's range after scale and offset).
std::vector<std::uint16_t> words_of(const config::point& p) {
    auto encoded = modbus::encode(p, stand_in(p));
    if (encoded) return std::move(*encoded);
    return std::vector<std::uint16_t>(config::register_count(p), 0);
}

void print(std::ostringstream& out, const std::vector<mqtt::message>& messages) {
    for (std::size_t k = 0; k < messages.size() && k < shown; ++k) {
        const auto& m = messages[k];
        out << "  " << m.topic << "  (qos " << static_cast<int>(m.qos) << (m.retain ? ", retained" : "") << ")\n";
        if (m.payload.empty()) {
            out << "    (an empty payload)\n";
            continue;
        }
        std::string indented = "    ";
        for (const char c : m.payload) {
            indented += c;
            if (c == '\n') indented += "    ";
        }
        while (!indented.empty() && (indented.back() == ' ' || indented.back() == '\n')) indented.pop_back();
        out << indented << "\n";
    }
    if (messages.size() > shown) out << "  ... and " << messages.size() - shown << " more like these\n";
}

std::string_view type_name(sparkplug::data_type t) {
    using sparkplug::data_type;
    switch (t) {
        case data_type::int8: return "Int8";
        case data_type::int16: return "Int16";
        case data_type::int32: return "Int32";
        case data_type::int64: return "Int64";
        case data_type::uint8: return "UInt8";
        case data_type::uint16: return "UInt16";
        case data_type::uint32: return "UInt32";
        case data_type::uint64: return "UInt64";
        case data_type::float32: return "Float";
        case data_type::float64: return "Double";
        case data_type::boolean: return "Boolean";
        case data_type::string: return "String";
        case data_type::datetime: return "DateTime";
        case data_type::text: return "Text";
        case data_type::unknown: break;
    }
    return "Unknown";
}

// A Sparkplug payload as text: its seq and each metric (name or alias,
// datatype in births, value, is_historical, properties).
std::string sparkplug_text(const std::string& bytes) {
    auto decoded = sparkplug::decode(bytes);
    if (const auto* e = std::get_if<sparkplug::decode_error>(&decoded)) return "(undecodable: " + e->why + ")";
    const auto& p = std::get<sparkplug::payload>(decoded);
    std::ostringstream out;
    out << "seq " << (p.seq ? std::to_string(*p.seq) : std::string("none")) << ":";
    const auto value_text = [](const sparkplug::wire_value& v) {
        return std::visit(
            [](const auto& x) -> std::string {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, sparkplug::null_value>) {
                    return "null";
                } else if constexpr (std::is_same_v<T, bool>) {
                    return x ? "true" : "false";
                } else if constexpr (std::is_same_v<T, std::string>) {
                    return "\"" + x + "\"";
                } else {
                    std::ostringstream o;
                    o << x;
                    return o.str();
                }
            },
            v);
    };
    for (const auto& m : p.metrics) {
        out << "\n" << (m.name ? *m.name : "alias " + std::to_string(m.alias.value_or(0)));
        if (m.name && m.alias) out << " (alias " << *m.alias << ")";
        if (m.datatype) out << " " << type_name(*m.datatype);
        out << " = " << value_text(m.value);
        for (const auto& prop : m.properties) out << ", " << prop.key << " " << value_text(prop.value);
        if (m.is_historical) out << ", historical";
    }
    return out.str();
}

// With format: sparkplug: the births, then DDATA as it leaves, as text.
std::vector<mqtt::message> as_text(std::vector<mqtt::message> messages) {
    for (auto& m : messages) m.payload = sparkplug_text(m.payload);
    return messages;
}

}  // namespace

std::string example_messages(const config::gateway& cfg, std::chrono::system_clock::time_point time) {
    if (cfg.devices.empty()) return {};
    const auto shared = std::make_shared<config::gateway>(cfg);
    shared->devices.resize(1);  // the first device alone: no work for the others
    const auto& device = shared->devices.front();
    point_mapper mapper{std::shared_ptr<const config::gateway>(shared)};
    const bool spb = cfg.publish.format == config::payload_format::sparkplug;
    sparkplug_node node(*shared, 0);
    mapper.set_sparkplug(&node);
    modbus::poll_result poll;
    poll.device = device.name;
    poll.time = time;
    for (std::size_t k = 0; k < device.points.size(); ++k) {
        poll.samples.push_back(modbus::sample{k, words_of(device.points[k]), modbus::quality{true, {}}});
    }
    const auto now = std::chrono::steady_clock::time_point{};
    std::ostringstream out;
    out << "\nExample messages of device " << device.name << " (publish.format: "
        << config::to_string(cfg.publish.format)
        << "; stand-in values: each point's simulate value, else 0, false or \"text\"):\n";
    if (spb) {
        out << "Births when the link is up and the device online:\n";
        node.device_state(0, modbus::device_state::online, time);
        print(out, as_text(node.births(time)));
        out << "A poll's data as it leaves the store:\n";
    }
    auto good = mapper.map(poll, now);
    if (spb) {
        for (auto& m : good) m = node.hand_over(std::move(m), time);
        good = as_text(std::move(good));
    }
    if (good.empty()) {
        out << (device.points.empty() ? "  (none: the device has no points)\n"
                                      : "  (none: no point publishes for these values)\n");
    }
    print(out, good);
    if (!device.points.empty()) {
        out << "A poll in which " << device.points.front().name << " does not answer:\n";
        modbus::poll_result bad = poll;
        bad.samples.resize(1);
        bad.samples.front() = modbus::sample{0, {}, modbus::quality{false, make_error_code(modbus::modbus_errc::timeout)}};
        auto failed = mapper.map(bad, now);
        if (spb) {
            for (auto& m : failed) m = node.hand_over(std::move(m), time);
            failed = as_text(std::move(failed));
        }
        if (failed.empty()) out << "  (nothing: format raw does not publish a bad reading)\n";
        print(out, failed);
    }
    if (spb) {
        out << "When it goes offline:\n";
        if (auto m = node.device_state(0, modbus::device_state::offline, time)) print(out, as_text({*m}));
        out << "The Will of the connection, and what the gateway says when it stops:\n";
        print(out, as_text({node.death(time)}));
        return out.str();
    }
    out << "Its availability:\n";
    print(out, {availability_message(*shared, device.name, modbus::device_state::online, time)});
    return out.str();
}

}  // namespace fieldbridge::gateway
