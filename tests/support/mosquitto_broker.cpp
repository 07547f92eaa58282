#include "tests/support/mosquitto_broker.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait.hpp"

namespace fieldbridge::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "fieldbridge-broker-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mosquitto_broker: mkdtemp failed");
    return pattern;
}

void run(const std::vector<std::string>& argv) {
    child_process p(argv);
    const auto code = p.wait(60s);
    if (code != 0) throw std::runtime_error("mosquitto_broker: '" + argv.front() + "' failed: " + p.output());
}

// A P-256 key and a certificate for it, signed by the CA in dir (or
// self-signed when name is "ca").
void make_certificate(const fs::path& dir, const std::string& name, const std::string& subject,
                      const std::string& extensions) {
    const auto key = (dir / (name + ".key")).string();
    const auto crt = (dir / (name + ".crt")).string();
    if (name == "ca") {
        run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", crt, "-days", "2", "-subj", subject});
        return;
    }
    const auto csr = (dir / (name + ".csr")).string();
    const auto ext = (dir / (name + ".ext")).string();
    std::ofstream(ext) << extensions << "\n";
    run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         key, "-out", csr, "-subj", subject});
    run({"openssl", "x509", "-req", "-in", csr, "-CA", (dir / "ca.crt").string(), "-CAkey", (dir / "ca.key").string(),
         "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext});
}

}  // namespace

mosquitto_broker::mosquitto_broker() : mosquitto_broker(options{}) {}

mosquitto_broker::mosquitto_broker(options o) : options_(std::move(o)), dir_(make_temp_dir()) {
    if (options_.tls) make_certificates();
    // The port can be taken between free_tcp_port() and mosquitto's bind: try a few.
    for (int attempt = 0;; ++attempt) {
        port_ = free_tcp_port();
        write_config();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 4) throw;
        }
    }
}

mosquitto_broker::~mosquitto_broker() {
    process_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

void mosquitto_broker::make_certificates() const {
    make_certificate(dir_, "ca", "/CN=fieldbridge test CA", "");
    make_certificate(dir_, "server", "/CN=localhost", "subjectAltName=DNS:localhost");
    make_certificate(dir_, "client", "/CN=fieldbridge-test-client", "extendedKeyUsage=clientAuth");
}

void mosquitto_broker::write_config() const {
    std::ofstream c(dir_ / "mosquitto.conf");
    // Started as root, mosquitto would drop to user "mosquitto" and lose
    // access to this directory.
    if (geteuid() == 0) c << "user root\n";
    c << "listener " << port_ << " 127.0.0.1\n"
      << "allow_anonymous true\n"
      << "max_queued_messages 1000000\n"
      << "max_inflight_messages 0\n"
      << "log_dest file " << (dir_ / "mosquitto.log").string() << "\n"
      << "connection_messages true\n";
    if (options_.log_packets) {
        c << "log_type all\n";
    } else {
        c << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    }
    if (options_.tls) {
        c << "cafile " << (dir_ / "ca.crt").string() << "\n"
          << "certfile " << (dir_ / "server.crt").string() << "\n"
          << "keyfile " << (dir_ / "server.key").string() << "\n";
    }
    if (options_.persistence) {
        c << "persistence true\n"
          << "persistence_location " << dir_.string() << "/\n"
          << "autosave_interval 1\n";
    }
    c << options_.extra_config << "\n";
}

bool mosquitto_broker::running() const { return process_ && process_->running(); }

pid_t mosquitto_broker::pid() const noexcept { return process_ ? process_->pid() : -1; }

void mosquitto_broker::start() {
    if (running()) return;
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{"mosquitto", "-c", (dir_ / "mosquitto.conf").string()});
    if (!wait_until([&] { return tcp_port_open(port_) || !process_->running(); }, 10s) || !process_->running()) {
        const auto out = process_->output();
        process_.reset();
        throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) + ": " + out + log());
    }
}

void mosquitto_broker::stop() {
    if (process_) process_->stop(10s);
    process_.reset();
}

void mosquitto_broker::kill9() {
    if (process_) {
        process_->signal(SIGKILL);
        process_->wait(10s);
    }
    process_.reset();
}

std::string mosquitto_broker::log() const {
    std::ifstream in(dir_ / "mosquitto.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace fieldbridge::testing
