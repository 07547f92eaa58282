// The metrics endpoint of a running gateway (metrics.listen), scraped over
// HTTP as Prometheus would: Debian's promtool accepts what it serves, and
// the figures follow known events (a device going silent: its failures
// rise, its state goes to 0, its neighbour stays up).
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/child_process.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::child_process;
using testing::gateway_rig;
using testing::http_request;
using testing::point_spec;
using testing::sample_value;
using testing::wait_until;

// `promtool check metrics` on the text: its exit code and what it said.
std::pair<int, std::string> promtool_check(const gateway_rig& rig, const std::string& text) {
    const auto file = rig.dir() / "scrape.txt";
    std::ofstream(file) << text;
    child_process promtool({"sh", "-c", "promtool check metrics < " + file.string()});
    const auto code = promtool.wait(30s);
    return {code.value_or(-1), promtool.output()};
}

TEST(metrics_endpoint, a_scrape_passes_promtool_and_follows_a_device_going_silent) {
    gateway_rig rig;
    const auto port = testing::free_tcp_port();
    rig.config.client_id("metrics-gw").prefix("e2e").heartbeat("60s");
    rig.config.profile("meter",
                       {point_spec("voltage", "input", 0, "float32").qos(1).simulate_ramp(220, 20, "10s"),
                        point_spec("energy", "holding", 10, "uint32").qos(1).simulate_constant(5)});
    rig.config.tcp_bus("line", rig.modbus_port());
    rig.config.device("m1")
        .bus("line")
        .unit_id(3)
        .profile("meter")
        .poll_interval("200ms")
        .timeout("100ms")
        .retries(0)
        .fault("vanish_after", "4s")
        .fault("vanish_for", "120s");
    rig.config.device("m2").bus("line").unit_id(4).profile("meter").poll_interval("200ms").timeout("300ms");
    rig.config.metrics().set("listen", "127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();

    const auto scrape = [&] { return http_request(port, "GET", "/metrics").body; };
    const std::string m1 = R"({device="m1",bus="line"})";
    const std::string m2 = R"({device="m2",bus="line"})";
    const auto value = [](const std::string& text, const std::string& series) {
        return sample_value(text, series).value_or(-1);
    };
    std::string text;
    ASSERT_TRUE(wait_until(
        [&] {
            text = scrape();
            return value(text, "fieldbridge_device_up" + m1) == 1 &&
                   value(text, "fieldbridge_device_up" + m2) == 1 &&
                   value(text, "fieldbridge_queue_delivered_total") > 0 &&
                   value(text, "fieldbridge_broker_up") == 1;
        },
        20s))
        << text << gw.output();
    const auto [code, said] = promtool_check(rig, text);
    EXPECT_EQ(code, 0) << said;
    EXPECT_GT(value(text, "fieldbridge_device_poll_duration_seconds_count" + m1), 0);
    EXPECT_GT(value(text, R"(fieldbridge_bus_polls_total{bus="line"})"), 0);
    EXPECT_GT(value(text, "process_resident_memory_bytes"), 1e6);
    EXPECT_GT(value(text, "process_open_fds"), 3);
    EXPECT_TRUE(
        wait_until([&] { return value(scrape(), "fieldbridge_publish_ack_seconds_count") > 0; }, 10s));

    // m1 goes silent: its timeouts rise and it goes down; m2 stays up.
    const auto timeouts = [&](const std::string& t) {
        return value(t,
                     R"(fieldbridge_device_request_failures_total{device="m1",bus="line",reason="timeout"})");
    };
    const auto before = timeouts(text);
    ASSERT_TRUE(wait_until(
        [&] {
            text = scrape();
            return value(text, "fieldbridge_device_up" + m1) == 0;
        },
        20s))
        << text;
    EXPECT_GT(timeouts(text), before);
    EXPECT_EQ(value(text, R"(fieldbridge_device_state{device="m1",bus="line",state="offline"})"), 1);
    EXPECT_EQ(value(text, "fieldbridge_device_up" + m2), 1);
    EXPECT_GT(value(text, R"(fieldbridge_bus_request_failures_total{bus="line"})"), 0);
    const auto [later_code, later_said] = promtool_check(rig, text);
    EXPECT_EQ(later_code, 0) << later_said;
    EXPECT_TRUE(gw.running());
}

}  // namespace
}  // namespace fieldbridge
