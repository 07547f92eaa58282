// `fieldbridge scan` against the simulator: on a TCP bus and on an RTU line
// (a socat pty pair with the line's timing at 9600 baud), units that answer
// with values, one that answers with exceptions only and silent ids, with
// Read Device Identification answered and refused; the
// starter configuration it prints passes `fieldbridge check`; the exit
// status says whether anything answered or the bus could not be opened.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "config/schema_keys.hpp"
#include "tests/support/gateway_rig.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::cli_answer;
using testing::gateway_rig;
using testing::point_spec;
using testing::run_fieldbridge;
using testing::wait_until;

// Units 1 and 5 have holding and input register 0; unit 2 lacks registers
// 0..10, so both register probes get exception 2. Units 1 and 2 answer Read
// Device Identification (the simulator's vendor, their device name), unit 5
// refuses it with exception 1.
void configure_units(gateway_rig& rig) {
    rig.config.client_id("scan").prefix("scan");
    rig.config.profile("probe", {point_spec("v", "holding", 0, "uint16").simulate_constant(229),
                                 point_spec("t", "input", 0, "uint16").simulate_constant(21)});
    rig.config.device("a").bus("line").unit_id(1).profile("probe");
    rig.config.device("b")
        .bus("line")
        .unit_id(2)
        .point(point_spec("far", "holding", 20, "uint16"))
        .fault("unmapped", std::vector<std::string>{"0-10"});
    rig.config.device("c").bus("line").unit_id(5).profile("probe").fault("refuse_fc43", true);
}

// What follows the summary line: the starter configuration.
std::string starter_of(const std::string& output) {
    const auto at = output.find("\n\n");
    return at == std::string::npos ? std::string() : output.substr(at + 2);
}

double seconds_taken(const std::string& output) {
    const auto at = output.find(" answered, in ");
    return at == std::string::npos ? -1 : std::strtod(output.c_str() + at + 14, nullptr);
}

// The rows of configure_units' units, and the starter's comment.
void expect_identified_units(const std::string& output) {
    EXPECT_NE(output.find("   1  229 (0x00E5)            21 (0x0015)             fieldbridge / a / "), std::string::npos)
        << output;
    EXPECT_NE(output.find("   2  exception 2             exception 2             fieldbridge / b / "), std::string::npos)
        << output;
    EXPECT_NE(output.find("   5  229 (0x00E5)            21 (0x0015)             exception 1"), std::string::npos)
        << output;
    EXPECT_NE(output.find("    # identifies as fieldbridge / a / "), std::string::npos) << output;
    EXPECT_NE(output.find("#   it identifies as fieldbridge / b / "), std::string::npos) << output;
}

TEST(scan, finds_the_units_on_a_tcp_bus_and_prints_a_configuration_check_accepts) {
    gateway_rig rig;
    configure_units(rig);
    rig.config.tcp_bus("line", rig.modbus_port());
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    const auto port = std::to_string(rig.modbus_port());

    const auto a = run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + port, "--to", "8", "--timeout", "100ms"});
    ASSERT_EQ(a.exit_code, 0) << a.output;
    expect_identified_units(a.output);
    EXPECT_EQ(a.output.find("   3  "), std::string::npos) << a.output;
    EXPECT_NE(a.output.find("3 of 8 unit(s) answered"), std::string::npos) << a.output;

    const auto starter = starter_of(a.output);
    const auto file = rig.dir() / "starter.yaml";
    std::ofstream(file) << "mqtt: { host: 127.0.0.1, client_id: scanned }\n" << starter;
    const auto check = run_fieldbridge({"check", file.string()});
    EXPECT_EQ(check.exit_code, 0) << starter << check.output;
    EXPECT_NE(check.output.find("unit_1"), std::string::npos) << check.output;
    EXPECT_NE(check.output.find("unit_5"), std::string::npos) << check.output;

    // The bus of a configuration file: the starter names it and adds no bus.
    const auto from_file = run_fieldbridge({"scan", "-c", rig.write_config(), "--to", "2"});
    ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
    EXPECT_NE(from_file.output.find("bus: line"), std::string::npos) << from_file.output;
    EXPECT_EQ(from_file.output.find("buses:"), std::string::npos) << from_file.output;

    EXPECT_EQ(run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + port, "--from", "10", "--to", "12"}).exit_code,
              1);
    const auto closed = std::to_string(testing::free_tcp_port());
    EXPECT_EQ(run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + closed}).exit_code, 69);
    EXPECT_EQ(run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + port, "--from", "0"}).exit_code, 64);
    EXPECT_EQ(run_fieldbridge({"scan", "--tcp", "nowhere"}).exit_code, 64);
    // Numbers are decimal: 010 is ten (not octal eight), 0x10 no number.
    const auto leading_zero = run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + port, "--from", "010", "--to", "012"});
    EXPECT_NE(leading_zero.output.find("scanning units 10..12"), std::string::npos) << leading_zero.output;
    const auto hex = run_fieldbridge({"scan", "--tcp", "127.0.0.1:" + port, "--from", "0x10"});
    EXPECT_EQ(hex.exit_code, 64) << hex.output;
    EXPECT_NE(hex.output.find("expected a decimal number"), std::string::npos) << hex.output;
    EXPECT_EQ(run_fieldbridge({"scan"}).exit_code, 64);
}

// The bus of a configuration file whose service is running is not scanned:
// the scan's probes would mix with the service's polls on the same line
// (a TCP bus is not locked as a serial port is).
TEST(scan, refuses_the_bus_of_a_configuration_whose_service_is_running) {
    gateway_rig rig;
    configure_units(rig);
    rig.config.tcp_bus("line", rig.modbus_port());
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    auto& gw = rig.start_gateway();
    const auto cfg = rig.config_path();
    ASSERT_TRUE(wait_until([&] { return run_fieldbridge({"status", "-c", cfg}).exit_code != 69; }, 20s))
        << gw.output();
    const auto refused = run_fieldbridge({"scan", "-c", cfg, "--to", "2"});
    EXPECT_EQ(refused.exit_code, 69) << refused.output;
    EXPECT_NE(refused.output.find("the service is running"), std::string::npos) << refused.output;
    EXPECT_EQ(refused.output.find("UNIT"), std::string::npos) << "nothing was asked: " << refused.output;
    // Another file (its socket the same) is not the running service's.
    const auto other = rig.dir() / "other.yaml";
    std::filesystem::copy_file(cfg, other);
    const auto another = run_fieldbridge({"scan", "-c", other.string(), "--to", "2"});
    EXPECT_EQ(another.exit_code, 0) << another.output;
    gw.stop();
    const auto scanned = run_fieldbridge({"scan", "-c", cfg, "--to", "2"});
    EXPECT_EQ(scanned.exit_code, 0) << scanned.output;
}

// --baud takes the rates a bus's `baud` takes, and no other: the port would
// run at another rate than the banner says, and the starter fail `check`.
TEST(scan, takes_every_baud_rate_a_bus_takes_and_refuses_any_other) {
    const std::string missing = (std::filesystem::temp_directory_path() / "fieldbridge-no-such-tty").string();
    for (const auto rate : config::find_key(config::section::bus, "baud")->integers) {
        const auto r = run_fieldbridge({"scan", "--rtu", missing, "--baud", std::to_string(rate)});
        EXPECT_EQ(r.exit_code, 69) << rate << ": " << r.output;  // taken: the port is opened, and is not there
    }
    for (const char* rate : {"0", "14400", "9601", "250000"}) {
        const auto r = run_fieldbridge({"scan", "--rtu", missing, "--baud", rate});
        EXPECT_EQ(r.exit_code, 64) << rate << ": " << r.output;
        EXPECT_NE(r.output.find("is not a standard rate; one of 110, 300, "), std::string::npos) << r.output;
    }
}

TEST(scan, finds_the_units_on_an_rtu_line_within_ids_times_timeout) {
    gateway_rig rig;
    configure_units(rig);
    ASSERT_TRUE(rig.open_serial_line());
    rig.config.rtu_bus("line", rig.gateway_tty(), 9600).bus("line").set("simulator_wire_timing", true);
    rig.start_serial_simulator();
    ASSERT_TRUE(
        wait_until([&] { return rig.simulator().output().find("simulating bus") != std::string::npos; }, 10s))
        << rig.simulator().output();

    const auto a = run_fieldbridge(
        {"scan", "--rtu", rig.gateway_tty(), "--baud", "9600", "--to", "20", "--timeout", "100ms"});
    ASSERT_EQ(a.exit_code, 0) << a.output;
    expect_identified_units(a.output);
    EXPECT_NE(a.output.find("3 of 20 unit(s) answered"), std::string::npos) << a.output;
    // 17 silent ids at 100 ms each, 6 register exchanges of ~20 ms on the
    // wire, 3 identification exchanges of ~25 to 45 ms, and a 4 ms silence
    // before each of the 26 requests: 2.2 s; 0.8 s of slack.
    const auto took = seconds_taken(a.output);
    EXPECT_GT(took, 1.7) << a.output;
    EXPECT_LT(took, 3.0) << a.output;
    EXPECT_NE(starter_of(a.output).find("type: rtu"), std::string::npos) << a.output;
}

}  // namespace
}  // namespace fieldbridge
