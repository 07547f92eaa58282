// The test helpers themselves: a test that relies on them must be able to
// trust that a broker really runs and that exit codes are real.
#include <signal.h>

#include <gtest/gtest.h>

#include "tests/support/child_process.hpp"
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

}  // namespace
}  // namespace fieldbridge::testing
