#include "tests/support/gateway_rig.hpp"

#include <signal.h>

#include <cstdlib>
#include <stdexcept>

#include "gateway/store/flow.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string fieldbridge_binary() {
    const char* other = std::getenv("FIELDBRIDGE_TEST_BINARY");
    return other != nullptr && *other != '\0' ? other : FIELDBRIDGE_BINARY;
}

cli_answer run_fieldbridge(std::vector<std::string> args) {
    args.insert(args.begin(), fieldbridge_binary());
    child_process p(std::move(args));
    cli_answer r;
    r.exit_code = p.wait(30s);
    r.output = p.output();
    const auto brace = r.output.find('{');
    r.json = brace == std::string::npos ? nlohmann::json(nlohmann::json::value_t::discarded)
                                        : nlohmann::json::parse(r.output.substr(brace), nullptr, false);
    return r;
}

gateway_rig::gateway_rig() : gateway_rig(options{}) {}

gateway_rig::gateway_rig(const options& o)
    : dir_("fieldbridge-rig"), broker_(o.broker), modbus_port_(free_tcp_port()) {
    if (dir_.path().empty()) throw std::runtime_error("gateway_rig: no temporary directory");
    if (o.through_proxy) proxy_ = std::make_unique<tcp_proxy>(broker_.port());
    config.broker("127.0.0.1", proxy_ ? proxy_->port() : broker_.port());
    config.store_path("queue.db").control_socket("control.sock");
}

gateway_rig::~gateway_rig() = default;

tcp_proxy& gateway_rig::proxy() {
    if (!proxy_) throw std::logic_error("gateway_rig: made without options::through_proxy");
    return *proxy_;
}

std::string gateway_rig::write_config() { return config.write(config_path()); }

bool gateway_rig::open_serial_line() {
    serial_line_ = std::make_unique<child_process>(std::vector<std::string>{
        "socat", "pty,raw,echo=0,link=" + gateway_tty(), "pty,raw,echo=0,link=" + device_tty()});
    return wait_until([&] { return fs::exists(gateway_tty()) && fs::exists(device_tty()); }, 10s);
}

bool gateway_rig::start_simulator(const std::string& bus) {
    start_simulator_with(write_config(), bus);
    return wait_until([&] { return tcp_port_open(modbus_port_); }, 10s);
}

void gateway_rig::start_serial_simulator(const std::string& bus) {
    simulator_.reset();
    simulator_ = std::make_unique<child_process>(std::vector<std::string>{
        fieldbridge_binary(), "simulate", "-c", write_config(), "--bus", bus, "--serial", device_tty()});
}

void gateway_rig::start_simulator_with(const std::string& config_file, const std::string& bus) {
    simulator_.reset();
    simulator_ = std::make_unique<child_process>(
        std::vector<std::string>{fieldbridge_binary(), "simulate", "-c", config_file, "--bus", bus});
}

void gateway_rig::kill_simulator() {
    if (!simulator_) return;
    simulator_->signal(SIGKILL);
    simulator_->wait(10s);
}

child_process& gateway_rig::start_gateway(const std::vector<std::string>& global_args) {
    gateway_.reset();
    std::vector<std::string> argv{fieldbridge_binary()};
    argv.insert(argv.end(), global_args.begin(), global_args.end());
    argv.insert(argv.end(), {"run", "-c", write_config()});
    gateway_ = std::make_unique<child_process>(std::move(argv));
    return *gateway_;
}

void gateway_rig::kill_gateway() {
    if (!gateway_) return;
    gateway_->signal(SIGKILL);
    gateway_->wait(10s);
}

cli_answer gateway_rig::status(const std::vector<std::string>& extra) const {
    std::vector<std::string> args{"status", "-c", config_path()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_fieldbridge(std::move(args));
    // The whole output is the document (a table when not --json).
    r.json = nlohmann::json::parse(r.output, nullptr, false);
    return r;
}

long long gateway_rig::status_number(const std::string& section, const std::string& key) const {
    const auto j = status().json;
    if (j.is_discarded() || !j.contains(section) || !j[section].contains(key)) return -1;
    return j[section][key].get<long long>();
}

namespace {

long count_rows(const std::filesystem::path& db, const std::string& query) {
    child_process q({"sqlite3", db.string(), query});
    if (q.wait(10s) != 0) return -1;
    try {
        return std::stol(q.output());
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace

long gateway_rig::queued_rows() const { return count_rows(queue_path(), "SELECT count(*) FROM messages"); }

long gateway_rig::unreleased_rows() const {
    return count_rows(queue_path(), "SELECT count(*) FROM messages WHERE state <> " +
                                        std::to_string(static_cast<int>(store::flow_state::pubrec)));
}

bool gateway_rig::publish(const std::string& topic, const std::string& payload, bool retain) {
    std::vector<std::string> argv{"mosquitto_pub", "-h", broker_.host(), "-p", std::to_string(broker_.port()),
                                  "-q", "1", "-t", topic, "-m", payload};
    if (retain) argv.push_back("-r");
    child_process pub(std::move(argv));
    return pub.wait(10s) == 0;
}

}  // namespace fieldbridge::testing
