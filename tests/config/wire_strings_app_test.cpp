// The second line of defence in the running gateway: a configuration that
// reaches the app without `check` (built in code here, with a point topic
// that is not UTF-8) costs that point's command topic only. The other
// command topics are subscribed and answered, against a real mosquitto.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "gateway/app.hpp"
#include "tests/support/child_process.hpp"
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

TEST(wire_strings_app, a_command_filter_that_cannot_be_encoded_does_not_take_the_others_with_it) {
    mosquitto_broker broker;
    temp_dir dir;
    const auto silent_port = testing::free_tcp_port();  // no device answers there
    std::ostringstream yaml;
    yaml << "mqtt: { host: " << broker.host() << ", port: " << broker.port() << ", client_id: wire-app }\n"
         << "publish: { prefix: plant }\n"
         << "store: { path: " << (dir.path() / "queue.db").string() << " }\n"
         << "control: { socket: " << (dir.path() / "control.sock").string() << " }\n"
         << "buses:\n  line: { type: tcp, host: 127.0.0.1, port: " << silent_port << " }\n"
         << "devices:\n  m1:\n    bus: line\n    unit_id: 1\n    timeout: 200ms\n    retries: 0\n    points:\n"
         << "      - { name: a, register: holding, address: 0, writable: true }\n"
         << "      - { name: b, register: holding, address: 1, writable: true, topic: \"{prefix}/{device}/{point}/own\" }\n";
    auto cfg = config::load_string(yaml.str(), "app.yaml");
    // What `check` refuses, put in after it: point b's topic is not UTF-8, so
    // its command filter (an exact topic, beside plant/+/+/set) cannot be encoded.
    cfg.devices.at(0).points.edit().at(1).topic = "{prefix}/{device}/\xFF/{point}";

    child_process sub({"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "1", "-v",
                       "-t", "plant/m1/a/reply", "-t", "plant/status"});
    gateway::app a(cfg);
    int exit_code = -1;
    std::thread core([&] { exit_code = a.run(); });

    const bool online = testing::wait_until([&] { return sub.output().find("\"state\":\"online\"") != std::string::npos; }, 20s);
    // The SUBSCRIBE goes out right after the CONNACK, before or after the
    // birth message: the command is sent again until an answer comes.
    bool answered = false;
    for (int attempt = 0; online && attempt < 20 && !answered; ++attempt) {
        const std::string id = "w" + std::to_string(attempt);
        child_process pub({"mosquitto_pub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-q", "1", "-t",
                           "plant/m1/a/set", "-m", "{\"value\": 5, \"id\": \"" + id + "\"}"});
        EXPECT_EQ(pub.wait(10s), 0) << pub.output();
        answered = testing::wait_until(
            [&] { return sub.output().find("\"id\":\"" + id + "\"") != std::string::npos; }, 1s);
    }
    a.stop();
    core.join();

    EXPECT_TRUE(online) << sub.output();
    EXPECT_TRUE(answered) << "no reply on plant/m1/a/reply; seen:\n" << sub.output();
    EXPECT_EQ(exit_code, 0);
}

}  // namespace
}  // namespace fieldbridge
