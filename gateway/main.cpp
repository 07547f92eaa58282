// fieldbridge command line: run the service, check a configuration, serve a
// simulated device. Exit codes follow sysexits.h.
#include <sysexits.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.hpp"
#include "config/point_map.hpp"
#include "drivers/modbus/simulator.hpp"
#include "gateway/app.hpp"
#include "gateway/control_server.hpp"
#include "gateway/logging.hpp"
#include "gateway/version.hpp"

namespace {

using namespace fieldbridge;

// Loads a config or prints every diagnostic and returns nullopt.
std::optional<config::gateway> load(const std::string& path) {
    try {
        return config::load_file(path);
    } catch (const config::config_error& e) {
        std::cerr << e.what() << '\n';
    } catch (const std::exception& e) {
        std::cerr << path << ": " << e.what() << '\n';
    }
    return std::nullopt;
}

int run_service(const std::string& path) {
    auto cfg = load(path);
    if (!cfg) return EX_CONFIG;
    try {
        gateway::app service(std::move(*cfg), path);
        return service.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return EX_SOFTWARE;
    }
}

int check(const std::string& path) {
    auto cfg = load(path);
    if (!cfg) return EX_DATAERR;
    std::cout << config::format_point_map(*cfg);
    return EX_OK;
}

std::string format_age(const nlohmann::json& seconds) {
    if (!seconds.is_number()) return "-";
    const double s = seconds.get<double>();
    char buf[32];
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%d m %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%d h %02d m", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
    }
    return buf;
}

// Columns padded to their widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& r : rows) {
        width.resize(std::max(width.size(), r.size()), 0);
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
}

std::string text(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_null()) return "-";
    return j.dump();
}

void print_status(const nlohmann::json& s) {
    const auto& b = s.at("broker");
    const auto& q = s.at("queue");
    std::cout << "fieldbridge " << text(s.at("version")) << ", up " << format_age(s.at("uptime_s")) << ", "
              << (s.at("healthy").get<bool>() ? "healthy" : "UNHEALTHY") << "\n\n";
    std::cout << "broker  " << text(b.at("host")) << ":" << text(b.at("port")) << (b.at("tls").get<bool>() ? " tls" : "")
              << "  " << text(b.at("state")) << "  connects " << text(b.at("connects")) << ", disconnects "
              << text(b.at("disconnects")) << ", in flight " << text(b.at("inflight"));
    if (!b.at("last_error").get<std::string>().empty()) std::cout << "  last error: " << text(b.at("last_error"));
    std::cout << "\n";
    const auto& d = q.at("dropped");
    std::cout << "queue   " << text(q.at("messages")) << " message(s), " << text(q.at("bytes")) << " bytes, oldest "
              << format_age(q.at("oldest_age_s")) << "; stored " << text(q.at("stored")) << ", delivered "
              << text(q.at("delivered")) << ", refused " << text(q.at("refused")) << ", dropped "
              << d.at("by_messages").get<std::uint64_t>() + d.at("by_bytes").get<std::uint64_t>() +
                     d.at("by_age").get<std::uint64_t>()
              << "\n\n";
    std::vector<std::vector<std::string>> buses{{"BUS", "POLLS", "REQUESTS", "FAILURES", "TIMEOUTS", "EXCEPTIONS", "RECONNECTS"}};
    for (const auto& x : s.at("buses")) {
        buses.push_back({text(x.at("name")), text(x.at("polls")), text(x.at("requests")), text(x.at("failures")),
                         text(x.at("timeouts")), text(x.at("exceptions")), text(x.at("reconnects"))});
    }
    print_table(buses);
    std::cout << "\n";
    std::vector<std::vector<std::string>> devices{{"DEVICE", "BUS", "UNIT", "STATE", "LAST GOOD", "POLLS", "FAILED", "LAST ERROR"}};
    for (const auto& x : s.at("devices")) {
        devices.push_back({text(x.at("name")), text(x.at("bus")), text(x.at("unit_id")), text(x.at("state")),
                           format_age(x.at("last_good_age_s")), text(x.at("polls")), text(x.at("failed_polls")),
                           x.at("last_error").get<std::string>().empty() ? "-" : text(x.at("last_error"))});
    }
    print_table(devices);
}

// Exit codes: 0 healthy, 1 running but unhealthy (broker not connected or a
// device offline), 69 (EX_UNAVAILABLE) when the service cannot be reached.
int status(const std::string& config_path, std::string socket, bool json) {
    if (socket.empty()) {
        config::control_settings control;
        if (!config_path.empty()) {
            auto cfg = load(config_path);
            if (!cfg) return EX_CONFIG;
            control = cfg->control;
        }
        socket = gateway::control_socket_path(control).string();
    }
    auto reply = gateway::control_request(socket, {{"version", gateway::control_protocol_version}, {"command", "status"}},
                                          std::chrono::seconds(5));
    if (!reply) {
        std::cerr << "status: cannot reach the service at " << socket << ": " << reply.error().message() << "\n";
        return EX_UNAVAILABLE;
    }
    if (!reply->value("ok", false) || !reply->contains("status")) {
        std::cerr << "status: the service answered: " << reply->value("error", reply->dump()) << "\n";
        return EX_PROTOCOL;
    }
    const auto& s = reply->at("status");
    try {
        if (json) {
            std::cout << s.dump(2) << "\n";
        } else {
            print_status(s);
        }
    } catch (const nlohmann::json::exception& e) {
        std::cerr << "status: unexpected answer from the service: " << e.what() << "\n";
        return EX_PROTOCOL;
    }
    return s.value("healthy", false) ? EX_OK : 1;
}

// The latest value, quality and age of each point (of one device).
int points(const std::string& config_path, std::string socket, const std::string& device, bool json) {
    if (socket.empty()) {
        config::control_settings control;
        if (!config_path.empty()) {
            auto cfg = load(config_path);
            if (!cfg) return EX_CONFIG;
            control = cfg->control;
        }
        socket = gateway::control_socket_path(control).string();
    }
    nlohmann::json request = {{"version", gateway::control_protocol_version}, {"command", "points"}};
    if (!device.empty()) request["device"] = device;
    auto reply = gateway::control_request(socket, request, std::chrono::seconds(5));
    if (!reply) {
        std::cerr << "points: cannot reach the service at " << socket << ": " << reply.error().message() << "\n";
        return EX_UNAVAILABLE;
    }
    if (!reply->value("ok", false) || !reply->contains("points")) {
        std::cerr << "points: " << reply->value("error", reply->dump()) << "\n";
        return EX_DATAERR;
    }
    const auto& rows = reply->at("points");
    if (json) {
        std::cout << rows.dump(2) << "\n";
        return EX_OK;
    }
    std::vector<std::vector<std::string>> table{{"DEVICE", "POINT", "VALUE", "UNIT", "QUALITY", "AGE", "ERROR"}};
    for (const auto& r : rows) {
        table.push_back({text(r.at("device")), text(r.at("point")), text(r.at("value")),
                         r.at("unit").get<std::string>().empty() ? "-" : text(r.at("unit")), text(r.at("quality")),
                         format_age(r.at("age_s")),
                         r.at("error").get<std::string>().empty() ? "-" : text(r.at("error"))});
    }
    print_table(table);
    return EX_OK;
}

// Asks the running service to re-read its configuration.
int reload(const std::string& config_path, std::string socket) {
    if (socket.empty()) {
        config::control_settings control;
        if (!config_path.empty()) {
            auto cfg = load(config_path);
            if (!cfg) return EX_DATAERR;  // the service would refuse it too
            control = cfg->control;
        }
        socket = gateway::control_socket_path(control).string();
    }
    auto reply = gateway::control_request(
        socket, {{"version", gateway::control_protocol_version}, {"command", "reload"}}, std::chrono::seconds(30));
    if (!reply) {
        std::cerr << "reload: cannot reach the service at " << socket << ": " << reply.error().message() << "\n";
        return EX_UNAVAILABLE;
    }
    const auto r = reply->value("reload", nlohmann::json::object());
    if (!reply->value("ok", false) || !r.value("reloaded", false)) {
        std::cerr << "reload refused; the running configuration stays: "
                  << (r.contains("error") ? r["error"].get<std::string>() : reply->value("error", reply->dump())) << "\n";
        return EX_DATAERR;
    }
    std::cout << "reloaded: " << r.value("devices", 0) << " device(s), " << r.value("buses_kept", 0)
              << " bus(es) kept polling\n";
    return EX_OK;
}

int simulate(const std::string& path, std::optional<std::string> bus, const std::string& listen,
             const std::string& serial) {
    auto cfg = load(path);
    if (!cfg) return EX_CONFIG;
    if (!bus) {
        if (cfg->buses.size() != 1) {
            std::cerr << "simulate: the configuration has " << cfg->buses.size()
                      << " buses; choose one with --bus NAME\n";
            return EX_USAGE;
        }
        bus = cfg->buses.front().name;
    }
    modbus::simulator_options options;
    if (!listen.empty()) {
        const auto colon = listen.rfind(':');
        if (colon == std::string::npos) {
            std::cerr << "simulate: --listen takes HOST:PORT, got '" << listen << "'\n";
            return EX_USAGE;
        }
        options.listen_host = listen.substr(0, colon);
        try {
            const auto port = std::stoul(listen.substr(colon + 1));
            if (port > 65535) throw std::out_of_range("port");
            options.listen_port = static_cast<std::uint16_t>(port);
        } catch (const std::exception&) {
            std::cerr << "simulate: --listen port must be 0..65535, got '" << listen.substr(colon + 1) << "'\n";
            return EX_USAGE;
        }
    }
    if (!serial.empty()) options.serial_device = serial;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the simulator thread starts
    try {
        modbus::simulator sim(*cfg, *bus, options);
        sim.start();
        spdlog::info("simulating bus {} (port {})", *bus, sim.port());
        int sig = 0;
        sigwait(&signals, &sig);
        spdlog::info("signal {} received, stopping", sig);
        sim.stop();
    } catch (const std::exception& e) {
        spdlog::critical("simulate: {}", e.what());
        return EX_UNAVAILABLE;
    }
    return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"fieldbridge: Modbus RTU/TCP to MQTT gateway"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string(fieldbridge::version));
    std::string log_level = "info";
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

    std::string config_path = "/etc/fieldbridge/fieldbridge.yaml";
    auto* run = cli.add_subcommand("run", "Run the gateway service");
    run->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

    std::string check_path;
    auto* check_cmd = cli.add_subcommand("check", "Validate a configuration and print the effective point map");
    check_cmd->add_option("file", check_path, "Configuration file")->required();

    std::string status_config;
    std::string status_socket;
    bool status_json = false;
    auto* status_cmd = cli.add_subcommand("status", "Show the running service's broker link, queue, buses and devices");
    status_cmd->add_option("-c,--config", status_config, "Configuration file (for control.socket)");
    status_cmd->add_option("--socket", status_socket, "Control socket of the service");
    status_cmd->add_flag("--json", status_json, "Print the status as JSON");
    status_cmd->footer("Exit status: 0 healthy, 1 unhealthy (broker not connected or a device offline), "
                       "69 service unreachable.");

    std::string points_config;
    std::string points_socket;
    std::string points_device;
    bool points_json = false;
    auto* points_cmd = cli.add_subcommand("points", "Show the latest value, quality and age of each point");
    points_cmd->add_option("device", points_device, "Only this device");
    points_cmd->add_option("-c,--config", points_config, "Configuration file (for control.socket)");
    points_cmd->add_option("--socket", points_socket, "Control socket of the service");
    points_cmd->add_flag("--json", points_json, "Print JSON");

    std::string reload_config;
    std::string reload_socket;
    auto* reload_cmd = cli.add_subcommand("reload", "Make the running service re-read its configuration (as SIGHUP)");
    reload_cmd->add_option("-c,--config", reload_config, "Configuration file (checked first; for control.socket)");
    reload_cmd->add_option("--socket", reload_socket, "Control socket of the service");

    std::string sim_config;
    std::string sim_bus;
    std::string listen;
    std::string serial;
    auto* sim = cli.add_subcommand("simulate", "Serve the devices of one bus as a simulated Modbus server");
    sim->add_option("-c,--config", sim_config, "Configuration file")->required();
    sim->add_option("--bus", sim_bus, "Bus whose devices are simulated (default: the only bus)");
    sim->add_option("--listen", listen, "HOST:PORT to listen on instead of the bus's TCP address");
    sim->add_option("--serial", serial, "Serial device to serve on instead of the bus's device");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = cli.exit(e);
        return code == 0 ? EX_OK : EX_USAGE;
    }
    gateway::setup_logging(log_level);

    if (*run) return run_service(config_path);
    if (*check_cmd) return check(check_path);
    if (*status_cmd) return status(status_config, status_socket, status_json);
    if (*reload_cmd) return reload(reload_config, reload_socket);
    if (*points_cmd) return points(points_config, points_socket, points_device, points_json);
    if (*sim) return simulate(sim_config, sim_bus.empty() ? std::nullopt : std::optional(sim_bus), listen, serial);
    return EX_USAGE;
}
