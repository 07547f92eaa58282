// The second line of defence in the running gateway, against a real
// mosquitto, for a configuration that reaches the app without `check` (built
// in code here, with a point topic `check` refuses): a command filter that
// cannot be encoded costs that point's command topic only, and a point topic
// no server takes costs that point's messages only; the link stays up.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "drivers/modbus/simulator.hpp"
#include "gateway/app.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::child_process;
using testing::mosquitto_broker;

using testing::temp_dir;

// The gateway's configuration, loaded as `check` would, before the test
// puts in what `check` refuses.
std::string app_yaml(const mosquitto_broker& broker, const temp_dir& dir, std::uint16_t modbus_port) {
    std::ostringstream yaml;
    yaml << "mqtt: { host: " << broker.host() << ", port: " << broker.port() << ", client_id: wire-app }\n"
         << "publish: { prefix: plant }\n"
         << "store: { path: " << (dir.path() / "queue.db").string() << " }\n"
         << "control: { socket: " << (dir.path() / "control.sock").string() << " }\n"
         << "buses:\n  line: { type: tcp, host: 127.0.0.1, port: " << modbus_port << " }\n"
         << "devices:\n  m1:\n    bus: line\n    unit_id: 1\n    timeout: 200ms\n    retries: 0\n"
         << "    poll_interval: 100ms\n    points:\n"
         << "      - { name: a, register: holding, address: 0, writable: true, simulate: { wave: counter, step: 50 } }\n"
         << "      - { name: b, register: holding, address: 1, writable: true, topic: \"{prefix}/{device}/{point}/own\", "
            "simulate: { wave: counter, step: 50 } }\n";
    return yaml.str();
}

// The app on a thread of its own while the test runs; stopped and joined
// when it goes.
class running_app {
public:
    explicit running_app(const config::gateway& cfg) : app_(cfg), core_([this] { exit_code_ = app_.run(); }) {}
    ~running_app() { stop(); }
    running_app(const running_app&) = delete;
    running_app& operator=(const running_app&) = delete;
    int stop() {
        if (core_.joinable()) {
            app_.stop();
            core_.join();
        }
        return exit_code_;
    }

private:
    gateway::app app_;
    int exit_code_ = -1;
    std::thread core_;
};

bool online(const child_process& sub) { return sub.output().find("\"state\":\"online\"") != std::string::npos; }

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

TEST(wire_strings_app, a_command_filter_that_cannot_be_encoded_does_not_take_the_others_with_it) {
    mosquitto_broker broker;
    temp_dir dir;
    const auto silent_port = testing::free_tcp_port();  // no device answers there
    auto cfg = config::load_string(app_yaml(broker, dir, silent_port), "app.yaml");
    // What `check` refuses, put in after it: point b's topic is not UTF-8, so
    // its command filter (an exact topic, beside plant/+/+/set) cannot be encoded.
    cfg.devices.at(0).points.edit().at(1).topic = "{prefix}/{device}/\xFF/{point}";

    child_process sub({"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "1", "-v",
                       "-t", "plant/m1/a/reply", "-t", "plant/status"});
    running_app a(cfg);
    const bool up = testing::wait_until([&] { return online(sub); }, 20s);
    // The SUBSCRIBE goes out right after the CONNACK, before or after the
    // birth message: the command is sent again until an answer comes.
    bool answered = false;
    for (int attempt = 0; up && attempt < 20 && !answered; ++attempt) {
        const std::string id = "w" + std::to_string(attempt);
        child_process pub({"mosquitto_pub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "1", "-t",
                           "plant/m1/a/set", "-m", "{\"value\": 5, \"id\": \"" + id + "\"}"});
        EXPECT_EQ(pub.wait(10s), 0) << pub.output();
        answered = testing::wait_until(
            [&] { return sub.output().find("\"id\":\"" + id + "\"") != std::string::npos; }, 1s);
    }
    EXPECT_EQ(a.stop(), 0);

    EXPECT_TRUE(up) << sub.output();
    EXPECT_TRUE(answered) << "no reply on plant/m1/a/reply; seen:\n" << sub.output();
}

// mosquitto closes the connection over a topic holding a control character
// (tests/mqtt/broker_code_points_test.cpp). Sent, such a message would come
// back on every new link and close it again, holding up everything queued
// behind it for as long as it is stored. It is dropped unsent and counted
// as refused instead; the other point's values keep coming on one link.
TEST(wire_strings_app, a_point_topic_no_server_takes_is_dropped_unsent_and_the_link_stays_up) {
    mosquitto_broker broker;
    temp_dir dir;
    auto cfg = config::load_string(app_yaml(broker, dir, testing::free_tcp_port()), "app.yaml");
    modbus::simulator device(cfg, "line");
    device.start();
    cfg.buses.at(0).link = config::tcp_link{"127.0.0.1", device.port()};
    cfg.devices.at(0).points.edit().at(1).topic = std::string("{prefix}/{device}/\x01/{point}");

    child_process sub({"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "1", "-v",
                       "-t", "plant/m1/a", "-t", "plant/status"});
    running_app a(cfg);
    // Ten values of point a, each poll also producing one of point b.
    const bool flowing = testing::wait_until([&] { return count_of(sub.output(), "plant/m1/a ") >= 10; }, 30s);
    testing::cli_answer status;
    const bool counted = testing::wait_until([&] {
        status = testing::run_fieldbridge({"status", "--json", "--socket", (dir.path() / "control.sock").string()});
        return status.json.is_object() && status.json["queue"].value("unsendable", 0) >= 5;
    }, 10s);
    const auto births = count_of(sub.output(), "\"state\":\"online\"");
    EXPECT_EQ(a.stop(), 0);

    EXPECT_TRUE(flowing) << sub.output();
    EXPECT_TRUE(counted) << status.output;
    EXPECT_EQ(births, 1u) << "the link went down and came back:\n" << sub.output();
    if (status.json.is_object()) {
        EXPECT_EQ(status.json["broker"].value("connects", 0), 1) << status.output;
        EXPECT_EQ(status.json["queue"].value("refused_by_broker", -1), 0) << status.output;
    }
}

}  // namespace
}  // namespace fieldbridge
