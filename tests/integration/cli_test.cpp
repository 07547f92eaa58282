// The CLI against a running gateway or a stopped one, where what it does is
// not covered by the end-to-end tests: `points` over more points than one
// answer of the service carries, `read --direct` on a serial port it cannot
// use, `check` and `run` with TLS files that cannot be used, `write`'s
// VALUE read as a command would be and arguments that are not UTF-8.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/status_report.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::gateway_rig;
using testing::run_fieldbridge;
using testing::wait_until;

constexpr int points_per_device = 60;
constexpr int devices = 20;
static_assert(points_per_device * devices > 2 * gateway::points_page_rows, "two full pages and a part");

// `fieldbridge points` over more points than a page (gateway::points_page_rows):
// the CLI asks page after page and prints every point once, in the
// configuration's order, as JSON and as a table.
TEST(points_cli, lists_more_points_than_a_page_holds_each_once_in_order) {
    gateway_rig rig;
    rig.config.client_id("points").prefix("p");
    rig.config.tcp_bus("line", rig.modbus_port());
    std::vector<testing::point_spec> block;
    for (int i = 0; i < points_per_device; ++i) {
        block.push_back(
            testing::point_spec("r" + std::to_string(i), "holding", i, "uint16").simulate_constant(i));
    }
    rig.config.profile("block", block);
    for (int d = 1; d <= devices; ++d) {
        rig.config.device("d" + std::to_string(d))
            .bus("line")
            .unit_id(d)
            .profile("block")
            .poll_interval("500ms");
    }
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();
    const auto cfg = rig.config_path();

    testing::cli_answer all;
    const auto every_point_good = [&] {
        all = run_fieldbridge({"points", "-c", cfg, "--json"});
        all.json = nlohmann::json::parse(all.output, nullptr,
                                         false);  // an array: run_fieldbridge looks for an object
        if (all.exit_code != 0 || !all.json.is_array())
            return false;
        for (const auto& r : all.json) {
            if (r.at("quality") != "good")
                return false;
        }
        return true;
    };
    ASSERT_TRUE(wait_until(every_point_good, 30s)) << [&] {
        std::string not_good = all.output.substr(0, 300);
        if (all.json.is_array()) {
            not_good = std::to_string(all.json.size()) + " rows; not good:";
            for (const auto& r : all.json) {
                if (r.at("quality") != "good")
                    not_good += " " + r.dump();
            }
        }
        return not_good.substr(0, 3000) + "\n--- gateway:\n" + gw.output().substr(0, 3000);
    }();
    ASSERT_EQ(all.json.size(), static_cast<std::size_t>(points_per_device * devices));
    for (std::size_t i = 0; i < all.json.size(); ++i) {
        const auto& r = all.json[i];
        const auto device = "d" + std::to_string(i / points_per_device + 1);
        const auto point = "r" + std::to_string(i % points_per_device);
        ASSERT_EQ(r.at("device"), device) << "row " << i;
        ASSERT_EQ(r.at("point"), point) << "row " << i;
        ASSERT_EQ(r.at("topic"), "p/" + device + "/" + point) << "row " << i;
        ASSERT_EQ(r.at("value"), i % points_per_device) << "row " << i;
    }

    auto one = run_fieldbridge({"points", "d20", "-c", cfg, "--json"});
    ASSERT_EQ(one.exit_code, 0) << one.output;
    one.json = nlohmann::json::parse(one.output, nullptr, false);
    ASSERT_EQ(one.json.size(), static_cast<std::size_t>(points_per_device)) << one.output;
    EXPECT_EQ(one.json.back().at("point"), "r59");

    // The table: a header line and a line per point.
    const auto table = run_fieldbridge({"points", "-c", cfg});
    ASSERT_EQ(table.exit_code, 0) << table.output;
    std::size_t lines = 0;
    for (const char c : table.output)
        lines += c == '\n';
    EXPECT_EQ(lines, static_cast<std::size_t>(points_per_device * devices) + 1)
        << table.output.substr(0, 2000);
    EXPECT_NE(table.output.find("d20"), std::string::npos);

    const auto none = run_fieldbridge({"points", "d21", "-c", cfg});
    EXPECT_EQ(none.exit_code, 65) << none.output;
    EXPECT_NE(none.output.find("no device named d21"), std::string::npos) << none.output;
}

// `fieldbridge read m1 v` until the service answers it (m1 polled), into r.
bool read_until_answered(const std::string& cfg, testing::cli_answer& r, std::chrono::seconds timeout) {
    return wait_until([&] {
        r = run_fieldbridge({"read", "m1", "v", "-c", cfg, "--json"});
        return r.exit_code == 0;
    }, timeout);
}

// `fieldbridge write` through the service reads VALUE as a command to the
// point's topic would be read (any text for a string point, `42` too), and
// an argument that is not UTF-8 (it can name no device or point, and JSON
// cannot carry it) is a usage error, not a crash of the command.
TEST(point_access_cli, a_write_reads_its_value_as_a_command_would_and_arguments_not_utf8_are_refused) {
    gateway_rig rig;
    rig.config.client_id("access").prefix("a");
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).poll_interval("200ms")
        .point(testing::point_spec("v", "holding", 0, "uint16").writable().simulate_constant(7))
        .point(testing::point_spec("label", "holding", 10, "string").length(4).writable());
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();
    const auto cfg = rig.config_path();
    testing::cli_answer r;
    ASSERT_TRUE(read_until_answered(cfg, r, 20s)) << r.output << "\n--- gateway:\n" << gw.output();
    EXPECT_EQ(r.json.at("value"), 7) << r.output;

    r = run_fieldbridge({"write", "m1", "label", "42", "-c", cfg, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.json.at("value"), "42") << r.output;
    r = run_fieldbridge({"write", "m1", "label", "{\"value\": \"AB\"}", "-c", cfg, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.json.at("value"), "AB") << r.output;
    r = run_fieldbridge({"write", "m1", "v", "42", "-c", cfg, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.json.at("value"), 42) << r.output;
    r = run_fieldbridge({"write", "m1", "v", "forty", "-c", cfg});
    EXPECT_EQ(r.exit_code, 65) << r.output;

    const std::vector<std::vector<std::string>> not_utf8 = {
        {"read", "K\xfchler", "v", "-c", cfg},
        {"read", "m1", "\xff", "-c", cfg, "--json"},
        {"write", "m1", "label", "caf\xe9", "-c", cfg},
        {"write", "K\xfchler", "v", "1", "-c", cfg, "--direct", "--json"},
        {"points", "\xff", "-c", cfg},
    };
    for (const auto& args : not_utf8) {
        r = run_fieldbridge(args);
        EXPECT_EQ(r.exit_code, 64) << args[0] << " " << args[1] << ": " << r.output;
        EXPECT_NE(r.output.find("is not UTF-8 text"), std::string::npos) << r.output;
    }
    EXPECT_TRUE(gw.running()) << gw.output();
}

// A write that outlasts the CLI's wait (its device slow to answer, or the
// writes queued before it on the bus): the CLI says it had no answer in
// time and that the write may still be carried out (exit 75), not that the
// service cannot be reached; and the service does carry it out.
TEST(point_access_cli, a_write_that_outlasts_the_wait_is_said_to_be_still_pending_and_is_carried_out) {
    gateway_rig rig;
    rig.config.client_id("slow").prefix("s");
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).poll_interval("1s").timeout("5s").retries(0)
        .fault("response_delay", "1500ms")
        .point(testing::point_spec("v", "holding", 0, "uint16").writable().simulate_constant(7));
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();
    const auto cfg = rig.config_path();
    testing::cli_answer r;
    ASSERT_TRUE(read_until_answered(cfg, r, 30s)) << r.output << "\n--- gateway:\n" << gw.output();

    // The write and its read-back: two answers of 1.5 s each.
    r = run_fieldbridge({"write", "m1", "v", "5", "-c", cfg, "--wait", "1"});
    EXPECT_EQ(r.exit_code, 75) << r.output;
    EXPECT_NE(r.output.find("write: no answer from the service within 1 s; the write may still be carried out"),
              std::string::npos)
        << r.output;
    ASSERT_TRUE(wait_until([&] {
        r = run_fieldbridge({"read", "m1", "v", "-c", cfg, "--json"});
        return r.exit_code == 0 && r.json.at("value") == 5;
    }, 30s)) << r.output << "\n--- gateway:\n" << gw.output();
    r = run_fieldbridge({"write", "m1", "v", "6", "-c", cfg, "--wait", "0"});
    EXPECT_EQ(r.exit_code, 64) << r.output;  // out of range: a usage error
    EXPECT_TRUE(gw.running()) << gw.output();
}

// `fieldbridge read --direct` on a serial bus whose port another program
// holds locked, or that is not there: the answer names the reason (exit
// 69), not only "connection to the bus failed" after a log line.
TEST(direct_access_cli, a_serial_port_in_use_or_missing_is_named_as_the_reason) {
    gateway_rig rig;
    ASSERT_TRUE(rig.open_serial_line());
    rig.config.rtu_bus("line", rig.gateway_tty(), 115200);
    rig.config.device("m1").bus("line").unit_id(1).point(
        testing::point_spec("v", "holding", 0, "uint16").writable().simulate_constant(7));
    rig.start_serial_simulator();
    auto cfg = rig.write_config();
    auto r = run_fieldbridge({"read", "m1", "v", "-c", cfg, "--direct", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.json.at("value"), 7) << r.output;

    // Another master holds the port's lock, as a bus of a running gateway does.
    const int held = ::open(rig.gateway_tty().c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(held, 0);
    ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
    r = run_fieldbridge({"read", "m1", "v", "-c", cfg, "--direct", "--json"});
    EXPECT_EQ(r.exit_code, 69) << r.output;
    ASSERT_TRUE(r.json.is_object()) << r.output;
    EXPECT_EQ(r.json.value("error", ""),
              "the serial device " + rig.gateway_tty() +
                  " is in use by another bus or program (it holds the port's lock)")
        << r.output;
    r = run_fieldbridge({"write", "m1", "v", "3", "-c", cfg, "--direct"});
    EXPECT_EQ(r.exit_code, 69) << r.output;
    EXPECT_NE(r.output.find("is in use by another bus or program"), std::string::npos) << r.output;
    ::close(held);

    rig.config.bus("line").set("device", (rig.dir() / "ttyNONE").string());
    cfg = rig.write_config();
    r = run_fieldbridge({"read", "m1", "v", "-c", cfg, "--direct"});
    EXPECT_EQ(r.exit_code, 69) << r.output;
    EXPECT_NE(r.output.find("cannot open the serial device " + (rig.dir() / "ttyNONE").string() +
                            ": No such file or directory"),
              std::string::npos)
        << r.output;
}

// A TLS file the service could not use fails every connection: `check`
// and `run` refuse it before anything starts, naming the key at the mqtt
// section's line; `status` does not need the files.
TEST(tls_files_cli, check_and_run_refuse_a_tls_file_that_cannot_be_used_and_status_does_not_read_them) {
    testing::gateway_rig::options o;
    o.broker.tls = true;
    gateway_rig rig(o);
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).point(testing::point_spec("v", "holding", 0, "uint16"));
    rig.config.mqtt().set("host", "localhost").set(
        "tls", testing::yaml_map().set("enabled", true).set("ca_file", (rig.dir() / "missing-ca.crt").string()));
    const auto cfg = rig.write_config();
    auto r = run_fieldbridge({"check", cfg});
    EXPECT_EQ(r.exit_code, 65) << r.output;
    EXPECT_NE(r.output.find("gw.yaml:1:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("mqtt.tls.ca_file: \"" + (rig.dir() / "missing-ca.crt").string() + "\" cannot be used: "),
              std::string::npos)
        << r.output;
    r = run_fieldbridge({"run", "-c", cfg});
    EXPECT_EQ(r.exit_code, 66) << r.output;  // restarted under systemd (78, a refused file, is not)
    // The service logs why at level error (under systemd: a journal entry
    // of priority err, which `journalctl -p warning` shows).
    const auto why = r.output.find("mqtt.tls.ca_file");
    ASSERT_NE(why, std::string::npos) << r.output;
    const auto line_start = r.output.rfind('\n', why);
    const auto line = r.output.substr(line_start == std::string::npos ? 0 : line_start + 1,
                                      r.output.find('\n', why) - (line_start == std::string::npos ? 0 : line_start + 1));
    EXPECT_NE(line.find(" error "), std::string::npos) << line;
    // With the log off, why is printed all the same.
    r = run_fieldbridge({"--log-level", "off", "run", "-c", cfg});
    EXPECT_EQ(r.exit_code, 66) << r.output;
    EXPECT_NE(r.output.find("mqtt.tls.ca_file"), std::string::npos) << r.output;
    // status reads the configuration for its socket only.
    r = run_fieldbridge({"status", "-c", cfg});
    EXPECT_EQ(r.exit_code, 69) << r.output;  // no service there
    EXPECT_EQ(r.output.find("mqtt.tls"), std::string::npos) << r.output;

    rig.config.mqtt().set("tls", testing::yaml_map().set("enabled", true).set("ca_file", rig.broker().ca_file().string()));
    r = run_fieldbridge({"check", rig.write_config()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

// `simulate --bus` naming no bus of the file is a bad option (64, as
// docs/cli.md says), with the buses it has; not a simulator that failed.
TEST(simulate_cli, a_bus_the_configuration_does_not_have_is_a_bad_option) {
    gateway_rig rig;
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1").bus("line").unit_id(1).point(testing::point_spec("v", "holding", 0, "uint16"));
    const auto r = run_fieldbridge({"simulate", "-c", rig.write_config(), "--bus", "nosuch"});
    EXPECT_EQ(r.exit_code, 64) << r.output;
    EXPECT_NE(r.output.find("the configuration has no bus nosuch (it has line)"), std::string::npos) << r.output;
}

// Something on the control socket answering in a shape this CLI does not
// know (another version of the service, another program): every command
// that reads an answer says so, and none aborts. The fake service answers
// each connection with the next of its lines.
class fake_service {
public:
    explicit fake_service(std::filesystem::path path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd_, 8) == 0;
        thread_ = std::thread([this] { serve(); });
    }
    ~fake_service() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
        std::filesystem::remove(path_);
    }
    fake_service(const fake_service&) = delete;
    fake_service& operator=(const fake_service&) = delete;
    bool bound() const { return bound_; }
    void answer(std::string line) {
        const std::lock_guard lock(mutex_);
        answer_ = std::move(line);
    }

private:
    void serve() {
        for (;;) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;  // the listener was shut down
            const timeval tv{5, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            char byte = 0;
            while (::recv(c, &byte, 1, 0) == 1 && byte != '\n') {
            }
            std::string line;
            {
                const std::lock_guard lock(mutex_);
                line = answer_ + "\n";
            }
            (void)::send(c, line.data(), line.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }

    std::filesystem::path path_;
    int fd_ = -1;
    bool bound_ = false;
    std::mutex mutex_;
    std::string answer_;
    std::thread thread_;
};

TEST(control_cli, an_answer_of_a_shape_it_does_not_know_is_a_protocol_error_never_an_abort) {
    gateway_rig rig;
    const auto socket = (rig.dir() / "fake.sock").string();
    fake_service service(socket);
    ASSERT_TRUE(service.bound());
    const std::vector<std::string> answers = {
        R"({"ok": true})",
        R"({"ok": false, "error": 5})",
        R"({"ok": false, "error": {"why": "x"}, "refused": true})",
        R"({"ok": true, "healthy": "yes", "version": 1})",
        R"({"ok": true, "reload": {"reloaded": true, "devices": "x", "error": 7}})",
        R"({"ok": true, "reload": {"reloaded": false, "error": [1]}})",
        R"({"ok": true, "value": {"a": 1}, "quality": 3})",
        R"({"ok": true, "points": "none", "next": {}})",
        R"({"ok": true, "points": [{"device": 1}], "total": "x"})",
        R"([1, 2])",
        R"("text")",
        R"(null)",
    };
    const std::vector<std::vector<std::string>> commands = {
        {"status", "--socket", socket},
        {"status", "--socket", socket, "--json"},
        {"reload", "--socket", socket},
        {"read", "m1", "v", "--socket", socket},
        {"read", "m1", "v", "--socket", socket, "--json"},
        {"write", "m1", "v", "1", "--socket", socket},
        {"points", "--socket", socket},
        {"points", "--socket", socket, "--json"},
    };
    for (const auto& a : answers) {
        service.answer(a);
        for (const auto& args : commands) {
            const auto r = run_fieldbridge(args);
            EXPECT_LT(r.exit_code, 128) << args[0] << " on " << a << ": " << r.output;  // no signal: no abort
            EXPECT_NE(r.exit_code, 70) << args[0] << " on " << a << ": " << r.output;
            EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << args[0] << " on " << a;
        }
    }
}

}  // namespace
}  // namespace fieldbridge
