#include "gateway/scan_command.hpp"

#include <sysexits.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "config/duration.hpp"
#include "config/host_port.hpp"
#include "config/loader.hpp"
#include "config/names.hpp"
#include "config/schema_keys.hpp"
#include "drivers/modbus/bus_scan.hpp"
#include "gateway/control_protocol.hpp"
#include "gateway/control_server.hpp"
#include "gateway/scan_report.hpp"

namespace fieldbridge::gateway {
namespace {

// The bus to scan and, when it came from the command line, its YAML for the
// starter configuration; or the exit status after saying why not.
struct chosen_bus {
    config::bus bus;
    std::optional<std::string> yaml;
    int refused = EX_OK;
};

// Whether the service of this file runs, and so polls the bus: its control
// socket answers, with this file as its configuration. Two masters on one
// line garble each other's frames (a serial port is also locked; a TCP bus,
// a serial line behind a gateway, is not). nullopt: scan; else why not.
std::optional<std::string> service_polling(const std::string& file, const config::gateway& cfg,
                                           const std::string& bus) {
    const auto socket = control_client_socket_path(cfg.control);
    const auto reply = control_request(socket, {{"version", control_protocol_version}, {"command", "status"}},
                                       std::chrono::seconds(5));
    if (!reply) {
        const auto e = reply.error();
        if (e == std::errc::no_such_file_or_directory || e == std::errc::connection_refused) return std::nullopt;
        return "cannot tell whether a service polls bus " + bus + " (" + socket.string() + ": " + e.message() +
               "); stop it first, or scan as a member of group fieldbridge";
    }
    std::string running;  // the file the service runs, when it says
    if (const auto s = reply->find("status"); s != reply->end() && s->is_object()) {
        const auto c = s->find("config");
        if (c != s->end() && c->is_object() && c->contains("path") && (*c)["path"].is_string())
            running = (*c)["path"].get<std::string>();
    }
    if (!running.empty()) {
        std::error_code ec;
        const bool same = std::filesystem::equivalent(running, file, ec);
        if (!ec && !same) return std::nullopt;  // the service of another file
    }
    return "the service is running (" + socket.string() + ") and polls bus " + bus +
           "; stop it first (systemctl stop fieldbridge)";
}

chosen_bus bus_from_file(const scan_request& r) {
    chosen_bus c;
    config::gateway cfg;
    try {
        cfg = config::load_file(r.config_path);
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        c.refused = EX_CONFIG;
        return c;
    }
    if (r.bus.empty() && cfg.buses.size() != 1) {
        std::cerr << "scan: " << r.config_path << " has " << cfg.buses.size()
                  << " buses; name one with --bus\n";
        c.refused = EX_USAGE;
        return c;
    }
    for (const auto& b : cfg.buses) {
        if (r.bus.empty() || b.name == r.bus) {
            if (const auto why = service_polling(r.config_path, cfg, b.name)) {
                std::cerr << "scan: " << *why << "\n";
                c.refused = EX_UNAVAILABLE;
                return c;
            }
            c.bus = b;
            return c;
        }
    }
    std::cerr << "scan: " << r.config_path << " has no bus " << r.bus << '\n';
    c.refused = EX_USAGE;
    return c;
}

chosen_bus bus_from_options(const scan_request& r) {
    chosen_bus c;
    c.bus.name = "scanned";
    if (!r.tcp.empty()) {
        const auto parsed = config::split_host_port(r.tcp, config::port_rule::needed);
        if (!std::holds_alternative<config::host_port>(parsed)) {
            std::cerr << "scan: --tcp " << r.tcp << " is not HOST:PORT\n";
            c.refused = EX_USAGE;
            return c;
        }
        const auto& host = std::get<config::host_port>(parsed).host;
        const auto port = *std::get<config::host_port>(parsed).port;
        config::tcp_link link{host, port, config::tcp_framing::mbap};
        if (r.framing == "rtu") {
            link.framing = config::tcp_framing::rtu;
        } else if (r.framing != "mbap") {
            std::cerr << "scan: --framing " << r.framing << ": expected mbap or rtu\n";
            c.refused = EX_USAGE;
            return c;
        }
        c.bus.link = link;
        c.yaml = "{ type: tcp, host: \"" + host + "\", port: " + std::to_string(port) +
                 (link.framing == config::tcp_framing::rtu ? ", framing: rtu" : "") + " }";
        return c;
    }
    config::rtu_link link;
    link.device = r.rtu;
    link.baud = r.baud;
    bool parity_ok = false;
    for (const auto& [word, p] : config::parity_names()) {
        if (word == r.parity) {
            link.parity = p;
            parity_ok = true;
        }
    }
    if (!parity_ok || (r.stop_bits != 1 && r.stop_bits != 2)) {
        std::cerr << "scan: expected --parity none|even|odd and --stop-bits 1|2\n";
        c.refused = EX_USAGE;
        return c;
    }
    // The rates a bus may have (the port would be opened at another rate
    // than the one asked for, and the starter would not pass `check`).
    const auto& rates = config::find_key(config::section::bus, "baud")->integers;
    if (std::find(rates.begin(), rates.end(), static_cast<std::int64_t>(r.baud)) == rates.end()) {
        std::string listed;
        for (const auto rate : rates) listed += (listed.empty() ? "" : ", ") + std::to_string(rate);
        std::cerr << "scan: --baud " << r.baud << " is not a standard rate; one of " << listed << "\n";
        c.refused = EX_USAGE;
        return c;
    }
    link.stop_bits = static_cast<std::uint8_t>(r.stop_bits);
    c.bus.link = link;
    c.yaml = "{ type: rtu, device: \"" + r.rtu + "\", baud: " + std::to_string(r.baud) +
             ", parity: " + r.parity + ", stop_bits: " + std::to_string(r.stop_bits) + " }";
    return c;
}

std::string describe(const config::bus& b) {
    if (const auto* t = std::get_if<config::tcp_link>(&b.link)) {
        return "tcp " + t->host + ":" + std::to_string(t->port) +
               (t->framing == config::tcp_framing::rtu ? " (RTU framing)" : "");
    }
    const auto& s = std::get<config::rtu_link>(b.link);
    return "rtu " + s.device + " " + std::to_string(s.baud) + " baud";
}

}  // namespace

int run_scan(const scan_request& r) {
    const int sources = (r.config_path.empty() ? 0 : 1) + (r.tcp.empty() ? 0 : 1) + (r.rtu.empty() ? 0 : 1);
    if (sources != 1) {
        std::cerr << "scan: give one bus: -c FILE [--bus NAME], --tcp HOST:PORT or --rtu DEVICE\n";
        return EX_USAGE;
    }
    const auto timeout = config::parse_duration(r.timeout);
    if (!timeout || *timeout < std::chrono::milliseconds(10) || *timeout > std::chrono::seconds(10)) {
        std::cerr << "scan: --timeout " << r.timeout << ": expected 10ms..10s\n";
        return EX_USAGE;
    }
    if (r.first < 1 || r.last > 247 || r.first > r.last) {
        std::cerr << "scan: --from " << r.first << " --to " << r.last
                  << ": expected 1 <= from <= to <= 247\n";
        return EX_USAGE;
    }
    const auto chosen = r.config_path.empty() ? bus_from_options(r) : bus_from_file(r);
    if (chosen.refused != EX_OK)
        return chosen.refused;

    const unsigned ids = r.last - r.first + 1;
    std::printf("scanning units %u..%u on %s; a silent unit costs %lld ms (all silent: %.1f s)\n", r.first,
                r.last, describe(chosen.bus).c_str(), static_cast<long long>(timeout->count()),
                static_cast<double>(ids) * std::chrono::duration<double>(*timeout).count());
    std::fflush(stdout);
    bool header = false;  // printed once the bus is open
    const auto print_header = [&] {
        if (!header)
            std::printf("%s\n", scan_header().c_str());
        header = true;
    };
    const auto started = std::chrono::steady_clock::now();
    std::size_t found = 0;
    const modbus::scan_options options{static_cast<std::uint8_t>(r.first), static_cast<std::uint8_t>(r.last),
                                       *timeout};
    const auto units = modbus::scan_bus(chosen.bus, options, [&](const modbus::unit_result& u) {
        print_header();
        if (!modbus::answered(u))
            return;
        ++found;
        std::printf("%s\n", scan_row(u).c_str());
        std::fflush(stdout);
    });
    if (!units) {
        std::cerr << "scan: cannot open " << describe(chosen.bus) << ": " << units.error().message() << '\n';
        return EX_UNAVAILABLE;
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("%zu of %u unit(s) answered, in %.1f s\n", found, ids, took);
    if (found == 0)
        return 1;
    std::printf("\n%s", starter_config(chosen.bus.name, chosen.yaml, *units).c_str());
    return EX_OK;
}

}  // namespace fieldbridge::gateway
