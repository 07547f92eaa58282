// The core thread never waits for a bus: a device that takes its whole
// response timeout (20 s here) to not answer does not hold up a reload or
// the shutdown. The bus is RTU over TCP (a serial device server), whose
// link blocks its worker's thread for the whole request; a Modbus TCP
// bus's request is cut short when its worker stops. `fieldbridge run` polls `fieldbridge simulate` (a
// gateway_rig); the test talks to the control socket itself, with short
// deadlines, and stands in for systemd's NOTIFY_SOCKET to see the watchdog
// pings.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using testing::child_process;
using testing::config_builder;
using testing::gateway_rig;
using testing::point_spec;
using testing::wait_until;

// Unit 3 never answers (the simulator drops every request to it); unit 4 answers.
config_builder simulator_config(std::uint16_t modbus_port) {
    config_builder c;
    c.broker("127.0.0.1", 1883);
    c.tcp_bus("line", modbus_port);
    c.bus("line").set("framing", "rtu");
    c.device("slow").bus("line").unit_id(3).fault("miss_every", 1).point(
        point_spec("level", "holding", 0, "uint16").simulate_constant(7));
    c.device("quick").bus("line").unit_id(4).point(point_spec("level", "holding", 0, "uint16").simulate_constant(9));
    return c;
}

// The gateway polls one of them on the bus `line`.
void poll_only(config_builder& c, const std::string& device) {
    const bool slow = device == "slow";
    c.remove_device(slow ? "quick" : "slow");
    c.device(device)
        .bus("line")
        .unit_id(slow ? 3 : 4)
        .poll_interval("200ms")
        .timeout(slow ? "20s" : "300ms")
        .retries(0)
        .point(point_spec("level", "holding", 0, "uint16"));
}

// One request on the control socket: its answer, or nullopt when it was not
// answered well within `deadline`.
std::optional<nlohmann::json> ask(const fs::path& socket_path, const std::string& command,
                                  std::chrono::milliseconds deadline) {
    const auto until = steady::now() + deadline;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto path = socket_path.string();
    std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
    std::string reply;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        const auto request = nlohmann::json{{"version", 1}, {"command", command}}.dump() + "\n";
        if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
            while (reply.find('\n') == std::string::npos) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
                pollfd p{fd, POLLIN, 0};
                if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
                char buf[65536];
                const ssize_t n = ::read(fd, buf, sizeof buf);
                if (n <= 0) break;
                reply.append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    ::close(fd);
    if (reply.find('\n') == std::string::npos) return std::nullopt;
    // {"ok":true,"<command>":{...},"version":1}
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.value("ok", false) || !j.contains(command)) return std::nullopt;
    return j.at(command);
}

// Stands in for systemd's NOTIFY_SOCKET: receives what the service sends on
// a thread of its own (a datagram queue left full would block the sender,
// as a hung service manager would), and counts it.
class notify_socket {
public:
    explicit notify_socket(const fs::path& path) : path_(path.string()) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
        bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        if (bound_) receiver_ = std::thread([this] { receive(); });
    }
    ~notify_socket() {
        stopping_ = true;
        if (receiver_.joinable()) receiver_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;
    bool bound() const { return bound_; }
    const std::string& path() const { return path_; }
    std::size_t count(const std::string& what) const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(), [&](const auto& m) {
            return m.find(what) != std::string::npos;
        }));
    }

private:
    void receive() {
        char buf[4096];
        while (!stopping_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) != 1) continue;
            for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) {
                std::lock_guard lock(mutex_);
                received_.emplace_back(buf, static_cast<std::size_t>(n));
            }
        }
    }

    std::string path_;
    int fd_ = -1;
    bool bound_ = false;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> received_;  // guarded by mutex_
    std::thread receiver_;
};

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

struct slow_rig {
    slow_rig() : notify(rig.dir() / "notify.sock") {
        rig.config.client_id("slow-gw").mqtt().set("keepalive", "5s");
        rig.config.prefix("slow");
        rig.config.tcp_bus("line", rig.modbus_port());
        rig.config.bus("line").set("framing", "rtu");
        rig.start_simulator_with(simulator_config(rig.modbus_port()).write(rig.dir() / "sim.yaml"), "line");
    }
    // Starts the gateway on the slow device; returns once its worker has
    // connected, when its first request (20 s without an answer) is going out.
    child_process& start_gateway() {
        poll_only(rig.config, "slow");
        ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
        ::setenv("WATCHDOG_USEC", "1000000", 1);  // pinged every 0.5 s
        auto& gw = rig.start_gateway();
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        return gw;
    }
    gateway_rig rig;
    notify_socket notify;
    std::uint16_t modbus_port = rig.modbus_port();
    child_process& sim() { return rig.simulator(); }
    fs::path control = rig.control_path();
};

// The worker's link opened (the pty its RTU frames go through; the relay's
// own connection is logged as "connected to host:port"): its first request
// goes out next.
const std::string link_opened = "bus line: connected\n";

bool stopping_is(const nlohmann::json& status, const std::vector<std::string>& buses) {
    return status.contains("buses_stopping") && status.at("buses_stopping") == nlohmann::json(buses);
}

// A reload that replaces the bus's devices while the old worker waits 20 s
// for an answer: the reload is answered at once, status stays answered and
// the watchdog fed while the old worker is still inside its request; the new
// worker connects only once the old one is gone (one master at a time on the
// link), and then polls the new configuration.
TEST(slow_bus, a_reload_during_a_request_that_takes_the_whole_timeout_keeps_the_core_responsive) {
    slow_rig rig;
    ASSERT_TRUE(rig.notify.bound());
    ASSERT_TRUE(wait_until([&] { return testing::tcp_port_open(rig.modbus_port); }, 10s)) << rig.sim().output();
    auto& gw = rig.start_gateway();
    ASSERT_TRUE(wait_until([&] { return gw.output().find(link_opened) != std::string::npos; }, 20s))
        << gw.output();
    const auto request_started = steady::now();

    poll_only(rig.rig.config, "quick");
    rig.rig.write_config();
    const auto reload_started = steady::now();
    const auto reloaded = ask(rig.control, "reload", 3s);
    ASSERT_TRUE(reloaded.has_value()) << "reload not answered within 3 s\n" << gw.output();
    EXPECT_EQ(reloaded->value("reloaded", false), true) << reloaded->dump();
    EXPECT_LT(steady::now() - reload_started, 3s);

    // The old worker is still inside its request; the core answers and pings.
    const auto pings = rig.notify.count("WATCHDOG=1");
    for (int i = 0; i < 4; ++i) {
        const auto asked = steady::now();
        const auto status = ask(rig.control, "status", 2s);
        ASSERT_TRUE(status.has_value()) << "status not answered within 2 s\n" << gw.output();
        EXPECT_LT(steady::now() - asked, 2s);
        EXPECT_TRUE(stopping_is(*status, {"line"})) << status->dump();
        ASSERT_EQ(status->at("buses").size(), 1u) << status->dump();
        EXPECT_EQ(status->at("buses")[0].at("started"), false) << status->dump();
        ASSERT_TRUE(wait_until([&] { return rig.notify.count("WATCHDOG=1") > pings + static_cast<std::size_t>(i); }, 2s));
    }
    ASSERT_LT(steady::now() - request_started, 15s) << "too slow to observe the old worker inside its request";
    EXPECT_GE(rig.notify.count("WATCHDOG=1"), pings + 4);
    EXPECT_NE(gw.output().find("bus line: waiting for its previous worker to finish the request in flight"),
              std::string::npos)
        << gw.output();
    EXPECT_EQ(occurrences(gw.output(), link_opened), 1u) << gw.output();

    // Once the old request has timed out, the new worker connects and polls
    // the new device.
    std::optional<nlohmann::json> status;
    ASSERT_TRUE(wait_until(
        [&] {
            status = ask(rig.control, "status", 2s);
            if (!status || !stopping_is(*status, {})) return false;
            for (const auto& d : status->at("devices")) {
                if (d.at("name") == "quick" && d.at("state") == "online") return true;
            }
            return false;
        },
        40s))
        << (status ? status->dump() : "no status") << "\n"
        << gw.output();
    EXPECT_GE(steady::now() - request_started, 15s) << "the old request ended before its timeout";
    // The relay's connection comes first, the link through it right after.
    EXPECT_TRUE(wait_until([&] { return occurrences(gw.output(), link_opened) >= 2; }, 10s)) << gw.output();
    const auto out = gw.output();
    const auto gone = out.find("bus line: its previous worker has stopped");
    ASSERT_NE(gone, std::string::npos) << out;
    EXPECT_EQ(occurrences(out, link_opened), 2u) << out;
    EXPECT_GT(out.rfind(link_opened), gone) << out;
    EXPECT_EQ(status->at("devices").size(), 1u) << status->dump();
    EXPECT_EQ(gw.stop(10s), 0) << gw.output();
}

// SIGTERM while the worker waits 20 s for an answer: the service says
// goodbye and exits within its bound, naming the bus it did not wait for.
TEST(slow_bus, shutdown_during_a_request_that_takes_the_whole_timeout_exits_within_its_bound) {
    slow_rig rig;
    ASSERT_TRUE(wait_until([&] { return testing::tcp_port_open(rig.modbus_port); }, 10s)) << rig.sim().output();
    auto& gw = rig.start_gateway();
    ASSERT_TRUE(wait_until([&] { return gw.output().find(link_opened) != std::string::npos; }, 20s))
        << gw.output();
    const auto request_started = steady::now();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(12s), 0) << gw.output();
    EXPECT_LT(steady::now() - request_started, 12s);
    EXPECT_NE(gw.output().find("bus line: still inside a request; exiting without waiting for it"), std::string::npos)
        << gw.output();
    EXPECT_NE(gw.output().find("fieldbridge stopped"), std::string::npos) << gw.output();
}

}  // namespace
}  // namespace fieldbridge
