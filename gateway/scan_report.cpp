#include "gateway/scan_report.hpp"

#include <algorithm>
#include <cstdio>

#include "drivers/modbus/device_identification.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::gateway {
namespace {

using modbus::function_code;

// A device's text, safe to print on a terminal and inside a YAML comment.
std::string printable(const std::string& text) {
    std::string out;
    for (const char c : text)
        out += c >= 0x20 && c < 0x7F ? c : '?';
    return out;
}

// "VendorName / ProductCode / MajorMinorRevision", objects beyond those as
// "name=value".
std::string identity_text(const std::vector<modbus::identification_object>& objects) {
    std::string out;
    for (const auto& o : objects) {
        if (!out.empty())
            out += o.id <= 2 ? " / " : ", ";
        if (o.id > 2) {
            const auto name = modbus::object_name(o.id);
            out.append(name.empty() ? "object " + std::to_string(o.id) : std::string(name)).append("=");
        }
        out += printable(o.value);
    }
    return out.empty() ? "answered, no objects" : out;
}

std::string describe(const modbus::probe_result& r) {
    if (!r.error && r.function == function_code::read_device_identification)
        return identity_text(r.identity);
    if (!r.error) {
        char text[32];
        std::snprintf(text, sizeof text, "%u (0x%04X)", static_cast<unsigned>(r.value),
                      static_cast<unsigned>(r.value));
        return text;
    }
    if (modbus::is_exception(r.error))
        return "exception " + std::to_string(r.error.value());
    if (r.error == make_error_code(modbus::modbus_errc::timeout))
        return "no answer";
    return r.error.message();
}

const char* register_word(function_code f) {
    return f == function_code::read_input_registers ? "input" : "holding";
}

std::string padded(std::string text, std::size_t width) {
    if (text.size() < width)
        text.append(width - text.size(), ' ');
    return text;
}

}  // namespace

std::string scan_header() {
    return "UNIT  " + padded("FC3 @0 (holding)", 24) + padded("FC4 @0 (input)", 24) +
           "FC43/14 identification";
}

std::string scan_row(const modbus::unit_result& u) {
    char unit[8];
    std::snprintf(unit, sizeof unit, "%4u  ", static_cast<unsigned>(u.unit));
    std::string row = unit;
    const auto probes = modbus::scan_probes(u.unit, {});
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const auto text = i < u.probes.size() ? describe(u.probes[i]) : std::string("-");
        row += i + 1 < probes.size() ? padded(text, 24) : text;
    }
    return row;
}

std::string starter_config(const std::string& bus_name, const std::optional<std::string>& bus_yaml,
                           const std::vector<modbus::unit_result>& units) {
    std::string out = "# A starting point: names, types, scales and word orders come from the datasheet.\n";
    if (bus_yaml)
        out += "buses:\n  " + bus_name + ": " + *bus_yaml + "\n";
    std::string devices;
    std::string skipped;
    for (const auto& u : units) {
        if (!modbus::answered(u))
            continue;
        const auto name = "unit_" + std::to_string(u.unit);
        std::string points;
        std::string identity;
        for (const auto& p : u.probes) {
            if (!p.error && p.function == function_code::read_device_identification)
                identity = identity_text(p.identity);
            if (p.error || p.function == function_code::read_device_identification)
                continue;
            const std::string kind = register_word(p.function);
            const std::string address = std::to_string(p.address);
            points.append("      - { name: ").append(kind).append("_").append(address);
            points.append(", register: ").append(kind).append(", address: ").append(address);
            points.append(", type: uint16 }  # read ").append(std::to_string(p.value)).append("\n");
        }
        if (points.empty()) {
            skipped.append("# ").append(name).append(" (unit ").append(std::to_string(u.unit));
            skipped.append(") answered ")
                .append(identity.empty() ? "with exceptions only" : "no register probe");
            skipped.append(": it is there, its registers are elsewhere (datasheet).\n");
            if (!identity.empty())
                skipped.append("#   it identifies as ").append(identity).append("\n");
            continue;
        }
        devices.append("  ").append(name).append(":\n");
        if (!identity.empty())
            devices.append("    # identifies as ").append(identity).append("\n");
        devices.append("    bus: ").append(bus_name);
        devices.append("\n    unit_id: ")
            .append(std::to_string(u.unit))
            .append("\n    points:\n")
            .append(points);
    }
    if (!devices.empty())
        out += "devices:\n" + devices;
    return out + skipped;
}

}  // namespace fieldbridge::gateway
