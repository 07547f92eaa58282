#include "config/point_map.hpp"

#include <algorithm>
#include <sstream>
#include <vector>

#include "config/names.hpp"
#include "config/topic.hpp"

namespace fieldbridge::config {
namespace {

std::string short_kind(register_kind k) {
    switch (k) {
        case register_kind::coil:
            return "coil";
        case register_kind::discrete_input:
            return "discrete";
        case register_kind::holding_register:
            return "holding";
        case register_kind::input_register:
            return "input";
    }
    return "?";
}

std::string format_number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

std::string registers(const point& p) {
    std::ostringstream s;
    s << short_kind(p.kind) << ' ' << p.address;
    const auto n = register_count(p);
    if (n > 1) s << '-' << (p.address + n - 1);
    if (p.bit) s << '.' << static_cast<int>(*p.bit);
    return s.str();
}

std::string type_column(const point& p) {
    std::string t(to_string(p.type));
    const bool multi_register = register_count(p) > 1 && p.type != data_type::string;
    if (multi_register || p.order != word_order::abcd) t += ' ' + std::string(to_string(p.order));
    if (p.type == data_type::string) t += '[' + std::to_string(p.length) + ']';
    return t;
}

std::string scaling(const point& p) {
    std::string s;
    if (p.scale != 1.0) s += "x" + format_number(p.scale);
    if (p.offset != 0.0) s += (p.offset > 0 ? "+" : "") + format_number(p.offset);
    if (!p.unit.empty()) s += (s.empty() ? "" : " ") + p.unit;
    return s.empty() ? "-" : s;
}

std::string flags(const point& p) {
    std::string f = "q" + std::to_string(static_cast<int>(p.qos));
    if (p.retain) f += " retain";
    if (p.writable) f += " writable";
    return f;
}

std::string link_text(const bus& b) {
    std::ostringstream s;
    if (const auto* tcp = std::get_if<tcp_link>(&b.link)) {
        s << "tcp " << tcp->host << ':' << tcp->port;
    } else {
        const auto& rtu = std::get<rtu_link>(b.link);
        s << "rtu " << rtu.device << ' ' << rtu.baud << ' ' << static_cast<int>(rtu.data_bits)
          << static_cast<char>(std::toupper(std::string(to_string(rtu.parity)).front()))
          << static_cast<int>(rtu.stop_bits);
    }
    return s.str();
}

}  // namespace

std::string format_point_map(const gateway& cfg) {
    std::ostringstream out;
    out << "broker " << cfg.mqtt.host << ':' << cfg.mqtt.port << (cfg.mqtt.tls.enabled ? " (tls)" : "")
        << ", client id " << cfg.mqtt.client_id << "\n";
    std::size_t points = 0;
    for (const auto& b : cfg.buses) {
        out << "\nbus " << b.name << " (" << link_text(b) << ")\n";
        for (const auto& d : cfg.devices) {
            if (d.bus != b.name) continue;
            out << "  device " << d.name << ": unit " << static_cast<int>(d.unit_id) << ", every "
                << d.poll_interval.count() << " ms, timeout " << d.timeout.count() << " ms";
            if (d.profile) out << ", profile " << *d.profile;
            out << "\n";
            std::vector<std::vector<std::string>> rows;
            for (const auto& p : d.points) {
                rows.push_back({p.name, registers(p), type_column(p), scaling(p), flags(p),
                                point_topic(cfg.publish, d, p, b)});
            }
            std::vector<std::size_t> width(6, 0);
            for (const auto& r : rows) {
                for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
            }
            for (const auto& r : rows) {
                out << "    ";
                for (std::size_t i = 0; i < r.size(); ++i) {
                    out << r[i];
                    if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 2, ' ');
                }
                out << "\n";
            }
            points += rows.size();
        }
    }
    out << "\n" << cfg.devices.size() << " device(s), " << points << " point(s)\n";
    for (const auto& w : cfg.warnings) out << "warning: " << w << "\n";
    return out.str();
}

}  // namespace fieldbridge::config
