// fieldbridge command line: run the service, check a configuration, serve a
// simulated device. Exit codes follow sysexits.h.
#include <sysexits.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.hpp"
#include "config/point_map.hpp"
#include "drivers/modbus/simulator.hpp"
#include "gateway/app.hpp"
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
        gateway::app service(std::move(*cfg));
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
    if (*sim) return simulate(sim_config, sim_bus.empty() ? std::nullopt : std::optional(sim_bus), listen, serial);
    return EX_USAGE;
}
