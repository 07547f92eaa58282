// The test helpers themselves: a test that relies on them must be able to
// trust that a broker really runs and that exit codes are real.
#include <signal.h>

#include <gtest/gtest.h>

#include "tests/support/child_process.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/emulator.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::testing {
namespace {

using namespace std::chrono_literals;

TEST(child_process, reports_exit_code_and_output) {
    child_process p({"sh", "-c", "echo hello; echo oops >&2; exit 3"});
    EXPECT_EQ(p.wait(10s), 3);
    EXPECT_EQ(p.output(), "hello\noops\n");
}

TEST(child_process, signal_ends_a_running_child) {
    child_process p({"sleep", "30"});
    EXPECT_TRUE(p.running());
    EXPECT_FALSE(p.wait(10ms).has_value());
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(10s), 128 + SIGTERM);
}

TEST(child_process, missing_program_exits_127) {
    child_process p({"fieldbridge-no-such-program"});
    EXPECT_EQ(p.wait(10s), 127);
}

TEST(with_emulator, puts_the_emulator_before_programs_of_the_target_only_in_a_cross_build) {
    using fieldbridge::testing::emulated;
    using fieldbridge::testing::with_emulator;
    // A name looked up on PATH and a program of the build machine are
    // started as they are.
    EXPECT_EQ(with_emulator({"mosquitto", "-v"}), (std::vector<std::string>{"mosquitto", "-v"}));
    EXPECT_EQ(with_emulator({"/bin/sh", "-c", "true"}).front(), "/bin/sh");
    // This test's own program is built for the target.
    const auto own = std::filesystem::read_symlink("/proc/self/exe").string();
    const auto argv = with_emulator({own, "--gtest_list_tests"});
    EXPECT_EQ(argv.size(), emulated() ? 3u : 2u);
    EXPECT_EQ(argv.back(), "--gtest_list_tests");
    // And runs: the emulator in front when it needs one.
    fieldbridge::testing::child_process p({own, "--gtest_list_tests"});
    EXPECT_EQ(p.wait(std::chrono::seconds(30)), 0) << p.output();
}

TEST(mosquitto_broker, listens_and_stops_and_restarts_on_the_same_port) {
    mosquitto_broker broker;
    const auto port = broker.port();
    EXPECT_TRUE(tcp_port_open(port));
    broker.stop();
    EXPECT_FALSE(tcp_port_open(port));
    broker.start();
    EXPECT_EQ(broker.port(), port);
    EXPECT_TRUE(tcp_port_open(port));
    broker.kill9();
    EXPECT_FALSE(broker.running());
}

TEST(mosquitto_broker, round_trips_a_message_through_the_clients) {
    mosquitto_broker broker;
    child_process sub({"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-t", "t/#", "-v",
                       "-C", "1", "-W", "20"});
    // The subscription is in place once the broker has logged it.
    ASSERT_TRUE(wait_until([&] { return broker.log().find("SUBSCRIBE") != std::string::npos; }, 10s))
        << broker.log();
    child_process pub({"mosquitto_pub", "-h", broker.host(), "-p", std::to_string(broker.port()), "-t", "t/x", "-m",
                       "42", "-q", "1"});
    EXPECT_EQ(pub.wait(10s), 0) << pub.output();
    EXPECT_EQ(sub.wait(20s), 0) << sub.output();
    EXPECT_EQ(sub.output(), "t/x 42\n");
}

TEST(mosquitto_broker, tls_listener_takes_a_client_that_trusts_its_ca) {
    mosquitto_broker::options tls;
    tls.tls = true;
    mosquitto_broker broker(tls);
    child_process pub({"mosquitto_pub", "-h", "localhost", "-p", std::to_string(broker.port()), "--cafile",
                       broker.ca_file().string(), "-t", "t/x", "-m", "1"});
    EXPECT_EQ(pub.wait(10s), 0) << pub.output() << broker.log();
    child_process untrusting({"mosquitto_pub", "-h", "localhost", "-p", std::to_string(broker.port()), "--cafile",
                              "/etc/ssl/certs/ca-certificates.crt", "-t", "t/x", "-m", "1"});
    EXPECT_NE(untrusting.wait(10s), 0) << untrusting.output();
}

TEST(config_builder, writes_sections_profiles_buses_and_devices_as_the_loader_reads_them) {
    config_builder c;
    c.broker("127.0.0.1", 1883).client_id("gw").prefix("e2e").heartbeat("1s").store_path("queue.db");
    c.profile("meter", {point_spec("voltage", "input", 0, "float32").order("cdab").qos(2).simulate_constant(229.01)});
    c.tcp_bus("line", 1502);
    c.device("m1").bus("line").unit_id(3).profile("meter").fault("vanish_after", "2s");
    c.device("m2").bus("line").unit_id(4).point(point_spec("level", "holding", 7, "uint16").scale(0.1));
    EXPECT_EQ(c.yaml(),
              "mqtt: { host: 127.0.0.1, port: 1883, client_id: gw }\n"
              "publish: { prefix: e2e, heartbeat: 1s }\n"
              "store: { path: queue.db }\n"
              "profiles:\n"
              "  meter:\n"
              "    points:\n"
              "      - { name: voltage, register: input, address: 0, type: float32, order: cdab, qos: 2, "
              "simulate: { wave: constant, value: 229.01 } }\n"
              "buses:\n"
              "  line: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
              "devices:\n"
              "  m1:\n"
              "    bus: line\n"
              "    unit_id: 3\n"
              "    profile: meter\n"
              "    simulator_faults: { vanish_after: 2s }\n"
              "  m2:\n"
              "    bus: line\n"
              "    unit_id: 4\n"
              "    points:\n"
              "      - { name: level, register: holding, address: 7, type: uint16, scale: 0.1 }\n");
}

TEST(config_builder, a_setting_made_again_replaces_the_first_where_it_stands) {
    config_builder c;
    c.prefix("e2e").heartbeat("1s");
    c.prefix("e2f");
    c.device("m1").bus("line").unit_id(3);
    c.device("m1").bus("nowhere");
    c.device("gone").bus("line");
    c.remove_device("gone");
    EXPECT_EQ(c.yaml(), "publish: { prefix: e2f, heartbeat: 1s }\ndevices:\n  m1:\n    bus: nowhere\n    unit_id: 3\n");
}

TEST(config_builder, text_yaml_would_read_as_something_else_is_quoted) {
    yaml_map m;
    m.set("topic", "{prefix}/{device}").set("protocol", "5").set("flag", "true").set("empty", "");
    m.set("plain", "e2e/m1-x_y.z").set("list", std::vector<std::string>{"1-4"}).set("on", false).set("n", -40);
    EXPECT_EQ(m.flow(),
              "{ topic: \"{prefix}/{device}\", protocol: \"5\", flag: \"true\", empty: \"\", plain: e2e/m1-x_y.z, "
              "list: [ \"1-4\" ], on: false, n: -40 }");
}

}  // namespace
}  // namespace fieldbridge::testing
