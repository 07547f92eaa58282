// fieldbridge command line: run the service, check a configuration, serve a
// simulated device. Exit codes follow sysexits.h.
#include <sysexits.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <future>
#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "common/utf8.hpp"
#include "config/duration.hpp"
#include "config/json_schema.hpp"
#include "config/loader.hpp"
#include "config/point_map.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/serial_port_lock.hpp"
#include "drivers/modbus/simulator.hpp"
#include "gateway/app.hpp"
#include "gateway/client_options.hpp"
#include "gateway/commands.hpp"
#include "gateway/control_server.hpp"
#include "gateway/logging.hpp"
#include "gateway/payload_examples.hpp"
#include "gateway/scan_command.hpp"
#include "gateway/status_report.hpp"
#include "gateway/status_text.hpp"
#include "gateway/status_watch.hpp"
#include "gateway/version.hpp"

namespace {

using namespace fieldbridge;
using gateway::format_age;
using gateway::text;

// Where a command says why a configuration was refused, one diagnostic a
// line: a one-shot command prints them (its output), the service logs each
// as an error (under systemd a journal entry of priority "err", which
// `journalctl -p warning` shows).
using diagnostic_sink = std::function<void(const std::string& lines)>;

void print_diagnostics(const std::string& lines) { std::cerr << lines << '\n'; }

void log_diagnostics(const std::string& lines) {
    if (!spdlog::should_log(spdlog::level::err)) return print_diagnostics(lines);  // --log-level critical or off
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) spdlog::error("{}", line);
    }
}

// Loads a config or reports every diagnostic and returns nullopt.
std::optional<config::gateway> load(const std::string& path, const diagnostic_sink& report = print_diagnostics) {
    try {
        return config::load_file(path);
    } catch (const config::config_error& e) {
        report(e.what());
    } catch (const std::exception& e) {
        report(path + ": " + e.what());
    }
    return std::nullopt;
}

// load(), and for the service and `check`: the files the configuration
// names that it needs to connect (TLS) can be used. The other commands
// (status, simulate, ...) do not need them, and may run as a user that
// cannot read a private key.
std::optional<config::gateway> load_for_service(const std::string& path) {
    auto cfg = load(path);
    if (!cfg) return std::nullopt;
    const auto problems = gateway::tls_file_problems(*cfg);
    for (const auto& d : problems) print_diagnostics(config::to_string(d));
    if (!problems.empty()) return std::nullopt;
    return cfg;
}

// Exit 78 for a configuration refused (the unit does not restart the service
// for it: the same file would be refused again), 66 for a TLS file it names
// that cannot be used (restarted: a certificate may be provisioned later).
int run_service(const std::string& path) {
    auto cfg = load(path, log_diagnostics);
    if (!cfg) return EX_CONFIG;
    const auto problems = gateway::tls_file_problems(*cfg);
    for (const auto& d : problems) log_diagnostics(config::to_string(d));
    if (!problems.empty()) return EX_NOINPUT;
    try {
        gateway::app service(std::move(*cfg), path);
        return service.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return EX_SOFTWARE;
    }
}

int check(const std::string& path) {
    auto cfg = load_for_service(path);
    if (!cfg) return EX_DATAERR;
    std::cout << config::format_point_map(*cfg);
    try {
        std::cout << gateway::example_messages(*cfg, std::chrono::system_clock::now());
    } catch (const std::exception& e) {  // the configuration is valid; only the examples could not be made
        std::cout << "\n(no example messages: " << e.what() << ")\n";
    }
    return EX_OK;
}

// The control socket to talk to: --socket, else control.socket of the
// configuration given with -c, else the default. nullopt: the configuration
// could not be loaded (already reported).
std::optional<std::string> resolve_socket(const std::string& config_path, const std::string& socket) {
    if (!socket.empty()) return socket;
    config::control_settings control;
    if (!config_path.empty()) {
        auto cfg = load(config_path);
        if (!cfg) return std::nullopt;
        control = cfg->control;
    }
    return gateway::control_client_socket_path(control).string();
}

// status --watch: 64 (EX_USAGE) for a bad interval or with --json.
int watch(const std::string& config_path, const std::string& socket, bool json, const std::string& interval) {
    const auto every = config::parse_duration(interval);
    if (!every || *every < std::chrono::milliseconds(100) || *every > std::chrono::hours(1)) {
        std::cerr << "status: --interval " << interval << ": expected a duration from 100ms to 1h (250ms, 2s, 1m)\n";
        return EX_USAGE;
    }
    if (json) {
        std::cerr << "status: --watch shows the view; for JSON, run status --json as often as needed\n";
        return EX_USAGE;
    }
    const auto resolved = resolve_socket(config_path, socket);
    if (!resolved) return EX_CONFIG;
    return gateway::watch_status(*resolved, *every);
}

// Exit codes: 0 healthy, 1 running but unhealthy (broker not connected or a
// device offline), 69 (EX_UNAVAILABLE) when the service cannot be reached.
int status(const std::string& config_path, const std::string& socket, bool json) {
    const auto resolved = resolve_socket(config_path, socket);
    if (!resolved) return EX_CONFIG;
    const auto fetched = gateway::fetch_status(*resolved);
    if (!fetched.status) {
        std::cerr << "status: " << fetched.why << "\n";
        return fetched.unreachable ? EX_UNAVAILABLE : EX_PROTOCOL;
    }
    const auto& s = *fetched.status;
    try {
        if (json) {
            std::cout << s.dump(2) << "\n";
        } else {
            std::cout << gateway::status_text(s);
        }
    } catch (const nlohmann::json::exception& e) {
        std::cerr << "status: unexpected answer from the service: " << e.what() << "\n";
        return EX_PROTOCOL;
    }
    return s.value("healthy", false) ? EX_OK : 1;
}

// Names and values go to the service as JSON text, and the configuration's
// names are UTF-8: an argument that is not UTF-8 names nothing.
bool utf8_arguments(const char* verb, std::initializer_list<std::pair<const char*, std::string_view>> args) {
    for (const auto& [what, text] : args) {
        if (const auto problem = find_utf8_problem(text)) {
            std::cerr << verb << ": the " << what << " is not UTF-8 text (byte " << problem.offset << ")\n";
            return false;
        }
    }
    return true;
}

// The latest value, quality and age of each point (of one device), asked
// for a page at a time: the service holds no more than a page, and with
// --json the rows are printed as they come.
int points(const std::string& config_path, std::string socket, const std::string& device, bool json) {
    if (!utf8_arguments("points", {{"device name", device}})) return EX_USAGE;
    const auto resolved = resolve_socket(config_path, socket);
    if (!resolved) return EX_CONFIG;
    socket = *resolved;
    std::vector<std::vector<std::string>> table{
        {"DEVICE", "POINT", "VALUE", "UNIT", "QUALITY", "AGE", "ERROR"}};
    bool printed = false;
    for (std::size_t from = 0;;) {
        nlohmann::json request = {{"version", gateway::control_protocol_version},
                                  {"command", "points"},
                                  {"from", from},
                                  {"limit", gateway::points_page_rows}};
        if (!device.empty())
            request["device"] = device;
        auto reply = gateway::control_request(socket, request, std::chrono::seconds(5));
        if (!reply) {
            std::cerr << "points: cannot reach the service at " << socket << ": " << reply.error().message()
                      << "\n";
            return EX_UNAVAILABLE;
        }
        if (!reply->value("ok", false) || !reply->contains("points") || !reply->at("points").is_array()) {
            std::cerr << "points: " << reply->value("error", reply->dump()) << "\n";
            return EX_DATAERR;
        }
        const auto& rows = reply->at("points");
        for (const auto& r : rows) {
            if (json) {
                // As the whole array's dump(2) would print it: each row indented one step.
                std::string row = r.dump(2);
                for (std::size_t nl = row.find('\n'); nl != std::string::npos; nl = row.find('\n', nl + 3)) {
                    row.insert(nl + 1, "  ");
                }
                std::cout << (printed ? ",\n  " : "[\n  ") << row;
                printed = true;
                continue;
            }
            table.push_back({text(r.at("device")), text(r.at("point")), text(r.at("value")),
                             r.at("unit").get<std::string>().empty() ? "-" : text(r.at("unit")),
                             text(r.at("quality")), format_age(r.at("age_s")),
                             r.at("error").get<std::string>().empty() ? "-" : text(r.at("error"))});
        }
        if (rows.size() < gateway::points_page_rows)
            break;
        from += rows.size();
    }
    if (json) {
        std::cout << (printed ? "\n]\n" : "[]\n");
    } else {
        std::cout << gateway::table_text(table);
    }
    return EX_OK;
}

// Asks the running service to re-read its configuration.
int reload(const std::string& config_path, std::string socket) {
    const auto resolved = resolve_socket(config_path, socket);
    if (!resolved) return EX_DATAERR;
    socket = *resolved;
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
    if (r.contains("error") && r["error"].is_string()) {
        // Applied, but a bus is not polled.
        std::cerr << "reload: " << r["error"].get<std::string>() << "\n";
        return EX_SOFTWARE;
    }
    return EX_OK;
}

// One-shot commissioning: `fieldbridge read` and `fieldbridge write`.
struct access_request {
    std::string config_path;
    std::string socket;
    std::string device;
    std::string point;
    std::string value;  // write only: JSON (42, 21.5, true, "text") or bare text
    bool write = false;
    bool direct = false;
    bool json = false;
    int wait_seconds = 60;  // for the service's answer
};

// Directly on the bus, with the same driver the service uses, but only when
// the service is not running (two masters on one line garble each other).
nlohmann::json access_directly(const config::gateway& cfg, const access_request& a, const std::string& socket) {
    const auto refused = [](const std::string& why) { return nlohmann::json{{"ok", false}, {"refused", true}, {"error", why}}; };
    if (gateway::control_request(socket, {{"version", gateway::control_protocol_version}, {"command", "ping"}},
                                 std::chrono::milliseconds(500))) {
        return refused("the service is running (" + socket + "); leave out --direct so the request takes its turn there");
    }
    std::string why;
    const auto where = gateway::find_point(cfg, a.device, a.point, why);
    if (!where) return refused(why);
    const auto& device = cfg.devices[where->first];
    const auto& point = device.points[where->second];
    std::optional<modbus::value> value;
    if (a.write) {
        value = gateway::write_value_of_text(device, point, a.value, why);
        if (!value) return refused(why);
    }
    const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& b) { return b.name == device.bus; });
    if (bus == cfg.buses.end()) return refused("device " + device.name + " names an unknown bus");
    if (const auto* line = std::get_if<config::rtu_link>(&bus->link)) {
        // Said now: the worker would retry the open until the time limit.
        if (auto in_use = modbus::serial_port_lock::why_not_usable(line->device); !in_use.empty()) {
            return nlohmann::json{{"ok", false}, {"error", in_use}};
        }
    }
    modbus::bus_worker worker(*bus, {device}, [](const modbus::poll_result&) {}, false);
    worker.start();
    std::promise<modbus::point_result> promise;
    auto future = promise.get_future();
    auto done = [&promise](modbus::point_result r) { promise.set_value(std::move(r)); };
    if (value) {
        worker.write(0, where->second, std::move(*value), done);
    } else {
        worker.read(0, where->second, done);
    }
    // Connect, a read-modify-write and the read-back, each with its retries.
    const auto limit = std::chrono::seconds(5) + 3 * device.timeout * (1 + std::max(device.retries, 0));
    if (future.wait_for(limit) != std::future_status::ready) {
        worker.stop();
        return nlohmann::json{{"ok", false}, {"error", "no answer within the time limit"}};
    }
    worker.stop();
    return gateway::access_answer(point, future.get());
}

int access(const access_request& a) {
    const char* verb = a.write ? "write" : "read";
    if (!utf8_arguments(verb, {{"device name", a.device}, {"point name", a.point}, {"value", a.value}})) {
        return EX_USAGE;
    }
    const auto socket = resolve_socket(a.config_path, a.socket);
    if (!socket) return EX_CONFIG;
    nlohmann::json answer;
    if (a.direct) {
        if (a.config_path.empty()) {
            std::cerr << verb << ": --direct needs the configuration (-c FILE) to know the bus\n";
            return EX_USAGE;
        }
        auto cfg = load(a.config_path);
        if (!cfg) return EX_CONFIG;
        try {
            answer = access_directly(*cfg, a, *socket);
        } catch (const std::exception& e) {
            std::cerr << verb << ": " << e.what() << "\n";
            return EX_SOFTWARE;
        }
    } else {
        nlohmann::json request = {{"version", gateway::control_protocol_version},
                                  {"command", verb},
                                  {"device", a.device},
                                  {"point", a.point}};
        if (a.write) request["text"] = a.value;  // read by the service as a command to the point would be
        auto reply = gateway::control_request(*socket, request, std::chrono::seconds(a.wait_seconds));
        if (!reply && reply.error() == std::errc::timed_out) {
            // The service has the request: a write queued behind others on
            // its bus, or held for an offline device (commands.max_age), is
            // carried out after this gives up.
            std::cerr << verb << ": no answer from the service within " << a.wait_seconds << " s; the " << verb
                      << " may still be carried out (see `fieldbridge status` and the journal; --wait sets the "
                         "time)\n";
            return EX_TEMPFAIL;
        }
        if (!reply) {
            std::cerr << verb << ": cannot reach the service at " << *socket << ": " << reply.error().message()
                      << " (use --direct -c FILE on a bus the service does not poll)\n";
            return EX_UNAVAILABLE;
        }
        if (!reply->value("ok", false) || !reply->contains(verb)) {
            std::cerr << verb << ": the service answered: " << reply->value("error", reply->dump()) << "\n";
            return EX_PROTOCOL;
        }
        answer = reply->at(verb);
    }
    if (a.json) std::cout << answer.dump(2) << "\n";
    if (!answer.value("ok", false)) {
        if (!a.json) {
            std::cerr << verb << " " << a.device << "/" << a.point << ": " << answer.value("error", std::string("failed"));
            if (answer.contains("modbus_exception")) std::cerr << " (Modbus exception " << answer["modbus_exception"] << ")";
            std::cerr << "\n";
        }
        return answer.value("refused", false) ? EX_DATAERR : EX_UNAVAILABLE;
    }
    if (!a.json) {
        std::string registers;
        for (const auto& w : answer.at("registers")) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%04x", w.get<unsigned>());
            registers += (registers.empty() ? "" : " ") + std::string(buf);
        }
        const auto unit = answer.value("unit", std::string());
        std::cout << a.device << "/" << a.point << " = " << text(answer.at("value")) << (unit.empty() ? "" : " " + unit)
                  << "  [" << registers << "]\n";
    }
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
    if (std::none_of(cfg->buses.begin(), cfg->buses.end(), [&](const auto& b) { return b.name == *bus; })) {
        std::string names;
        for (const auto& b : cfg->buses) names += (names.empty() ? "" : ", ") + b.name;
        std::cerr << "simulate: the configuration has no bus " << *bus << " (it has " << names << ")\n";
        return EX_USAGE;
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

// Numbers as operators write them, in decimal: CLI11 alone reads 010 as
// octal (8) and 0x10 as hexadecimal.
const CLI::Validator decimal(
    [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
            return "expected a decimal number, got '" + text + "'";
        text.erase(0, std::min(text.find_first_not_of('0'), text.size() - 1));  // 010 is 10
        return {};
    },
    "DECIMAL");

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
    run->footer("Runs until SIGTERM or SIGINT (clean stop: polling stops, the queue is flushed, DISCONNECT); SIGHUP "
                "re-reads the configuration. Exit status: 0 clean stop, 66 a TLS file cannot be used, 70 internal "
                "error, 73 the queue cannot be opened, 78 bad configuration.\n");

    std::string check_path;
    auto* check_cmd = cli.add_subcommand("check", "Validate a configuration and print the effective point map");
    check_cmd->add_option("file", check_path, "Configuration file")->required();
    check_cmd->footer("Exit status: 0 valid (the point map and example messages of the first device are printed), "
                      "65 invalid (every error as file:line:col).\n");

    std::string status_config;
    std::string status_socket;
    bool status_json = false;
    auto* status_cmd = cli.add_subcommand("status", "Show the running service's broker link, queue, buses and devices");
    status_cmd->add_option("-c,--config", status_config, "Configuration file (for control.socket)");
    status_cmd->add_option("--socket", status_socket, "Control socket of the service");
    status_cmd->add_flag("--json", status_json, "Print the status as JSON");
    bool status_watch = false;
    std::string status_interval = "1s";
    status_cmd->add_flag("--watch", status_watch,
                         "Refresh the view every --interval until q or Ctrl-C (plain repeated output when not a terminal)");
    status_cmd->add_option("--interval", status_interval, "Refresh interval of --watch: 100ms..1h (default 1s)");
    status_cmd->footer("Exit status: 0 healthy, 1 unhealthy (broker not connected or a device offline), "
                       "64 bad option, 69 service unreachable; --watch: 0 when quit.\n");

    std::string points_config;
    std::string points_socket;
    std::string points_device;
    bool points_json = false;
    auto* points_cmd = cli.add_subcommand("points", "Show the latest value, quality and age of each point");
    points_cmd->add_option("device", points_device, "Only this device");
    points_cmd->add_option("-c,--config", points_config, "Configuration file (for control.socket)");
    points_cmd->add_option("--socket", points_socket, "Control socket of the service");
    points_cmd->add_flag("--json", points_json, "Print JSON");
    points_cmd->footer("Exit status: 0 done, 65 no such device, 69 service unreachable, 78 bad configuration.\n");

    std::string reload_config;
    std::string reload_socket;
    auto* reload_cmd = cli.add_subcommand("reload", "Make the running service re-read its configuration (as SIGHUP)");
    reload_cmd->add_option("-c,--config", reload_config, "Configuration file (checked first; for control.socket)");
    reload_cmd->add_option("--socket", reload_socket, "Control socket of the service");
    reload_cmd->footer("Exit status: 0 reloaded, 65 refused (the running configuration stays; the reason is printed), "
                       "70 reloaded but a bus could not start (printed), "
                       "69 service unreachable.\n");

    access_request read_request;
    auto* read_cmd = cli.add_subcommand("read", "Read one point now and print its value and registers");
    access_request write_request;
    write_request.write = true;
    auto* write_cmd = cli.add_subcommand("write", "Write one point now and print the value read back");
    for (auto [cmd, r] : {std::pair{read_cmd, &read_request}, std::pair{write_cmd, &write_request}}) {
        cmd->add_option("device", r->device, "Device name")->required();
        cmd->add_option("point", r->point, "Point name")->required();
        if (r->write) {
            cmd->add_option("value", r->value, "Value: 42, 21.5, true, text (a JSON value or bare text)")->required();
        }
        cmd->add_option("-c,--config", r->config_path, "Configuration file (control.socket; the bus with --direct)");
        cmd->add_option("--socket", r->socket, "Control socket of the service");
        cmd->add_flag("--direct", r->direct,
                      "Open the device's bus here instead of asking the service (refused while the service runs)");
        cmd->add_flag("--json", r->json, "Print the answer as JSON");
        cmd->add_option("--wait", r->wait_seconds, "Seconds to wait for the service's answer (default 60)")
            ->transform(decimal)
            ->check(CLI::Range(1, 86400));
        cmd->footer("Through the running service by default, so that the request takes its turn on the bus. "
                    "Exit status: 0 done, 65 refused (unknown point, not writable, bad value), 69 service or device "
                    "unreachable or the device answered with an error, 75 no answer from the service within "
                    "--wait (the request may still be carried out), 78 bad configuration.\n");
    }

    auto* schema_cmd = cli.add_subcommand("schema", "Print the JSON Schema (draft 2020-12) of the configuration");
    schema_cmd->footer("For editors: save it and point the yaml-language-server modeline at it "
                       "(docs/configuration.md). Exit status: 0.\n");

    gateway::scan_request scan_request;
    auto* scan_cmd = cli.add_subcommand("scan", "Find the unit ids that answer on a bus and print a starter configuration");
    scan_cmd->add_option("-c,--config", scan_request.config_path, "Configuration file whose bus is scanned");
    scan_cmd->add_option("--bus", scan_request.bus, "Bus of the configuration (default: its only bus)");
    scan_cmd->add_option("--tcp", scan_request.tcp, "HOST:PORT of a Modbus TCP device or gateway");
    scan_cmd->add_option("--framing", scan_request.framing, "With --tcp: mbap (default) or rtu (a serial device server)");
    scan_cmd->add_option("--rtu", scan_request.rtu, "Serial device of an RTU line");
    scan_cmd->add_option("--baud", scan_request.baud, "With --rtu (default 9600)")->transform(decimal);
    scan_cmd->add_option("--parity", scan_request.parity, "With --rtu: none (default), even or odd");
    scan_cmd->add_option("--stop-bits", scan_request.stop_bits, "With --rtu: 1 (default) or 2")->transform(decimal);
    scan_cmd->add_option("--from", scan_request.first, "First unit id (default 1)")->transform(decimal);
    scan_cmd->add_option("--to", scan_request.last, "Last unit id (default 247)")->transform(decimal);
    scan_cmd->add_option("--timeout", scan_request.timeout, "Wait per probe: 10ms..10s (default 100ms)");
    scan_cmd->footer("Probes every unit id with FC3 and FC4 at register 0; a unit silent to the first probe is not "
                     "asked again, so a scan takes at most (ids x timeout) plus the answering units' exchanges. Stop "
                     "the service first: the bus is opened here. Exit status: 0 a unit answered, 1 none did, 64 bad "
                     "option, 69 the bus cannot be opened, 78 bad configuration.\n");

    std::string sim_config;
    std::string sim_bus;
    std::string listen;
    std::string serial;
    auto* sim = cli.add_subcommand("simulate", "Serve the devices of one bus as a simulated Modbus server");
    sim->add_option("-c,--config", sim_config, "Configuration file")->required();
    sim->add_option("--bus", sim_bus, "Bus whose devices are simulated (default: the only bus)");
    sim->add_option("--listen", listen, "HOST:PORT to listen on instead of the bus's TCP address");
    sim->add_option("--serial", serial, "Serial device to serve on instead of the bus's device");
    sim->footer("Runs until SIGTERM or SIGINT. Exit status: 0 stopped, 64 bad option, 69 cannot serve (port in use, "
                "no such device), 78 bad configuration.\n");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = cli.exit(e);
        return code == 0 ? EX_OK : EX_USAGE;
    }
    // One-shot commands keep quiet unless asked: their answer is the output.
    if ((*read_cmd || *write_cmd || *scan_cmd) && cli.get_option("--log-level")->count() == 0) log_level = "warn";
    gateway::setup_logging(log_level);

    if (*run) return run_service(config_path);
    if (*check_cmd) return check(check_path);
    // The commands that read the service's answers: an answer of another
    // shape than this version knows (another version of the service, or
    // something else on the socket) is a protocol error, never an abort.
    try {
        if (*status_cmd && status_watch) return watch(status_config, status_socket, status_json, status_interval);
        if (*status_cmd) return status(status_config, status_socket, status_json);
        if (*reload_cmd) return reload(reload_config, reload_socket);
        if (*read_cmd) return access(read_request);
        if (*write_cmd) return access(write_request);
        if (*points_cmd) return points(points_config, points_socket, points_device, points_json);
    } catch (const nlohmann::json::exception& e) {
        std::cout.flush();
        std::cerr << "\nunexpected answer from the service: " << e.what() << "\n";
        return EX_PROTOCOL;
    }
    if (*scan_cmd) return gateway::run_scan(scan_request);
    if (*schema_cmd) {
        std::cout << config::json_schema().dump(2) << '\n';
        return EX_OK;
    }
    if (*sim) return simulate(sim_config, sim_bus.empty() ? std::nullopt : std::optional(sim_bus), listen, serial);
    return EX_USAGE;
}
