// A write's every exchange paced as a poll's requests are: against the real
// simulator on loopback TCP, serving a device that misses a request sent
// sooner than its minimum gap after its last answer (simulator_faults
// min_request_gap), with a request_delay larger than that gap.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/simulator.hpp"
#include "tests/modbus/worker_fixture.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using testing_fixture::tcp_config;
using testing_fixture::write_and_wait;

// A setpoint register and an alarm flag in bit 3 of register 30.
config::device slow_listener() {
    config::device d;
    d.name = "slow";
    d.bus = "line";
    d.unit_id = 1;
    d.poll_interval = 100ms;
    d.timeout = 100ms;
    d.retries = 0;
    config::point setpoint;
    setpoint.name = "setpoint";
    setpoint.kind = config::register_kind::holding_register;
    setpoint.address = 40;
    setpoint.type = config::data_type::uint16;
    auto alarm = setpoint;
    alarm.name = "alarm";
    alarm.address = 30;
    alarm.type = config::data_type::boolean;
    alarm.bit = 3;
    d.points = {setpoint, alarm};
    return d;
}

// The read-back after the write, and the FC6 after the FC3 of a
// read-modify-write, wait request_delay as a poll's next block does: a
// device that needs the gap answers them, and a write it took is reported
// as written (without the pause the read-back timed out).
TEST(bus_worker_write_pacing, every_request_of_a_write_waits_the_device_request_delay) {
    const auto port = testing::free_tcp_port();
    auto served = slow_listener();
    served.faults.min_request_gap = 60ms;
    simulator sim(tcp_config(port, {served}), "line");
    sim.start();
    auto d = slow_listener();
    d.request_delay = 80ms;
    const auto cfg = tcp_config(port, {d});
    bus_worker worker(cfg.buses[0], cfg.devices, [](const poll_result&) {}, false);
    worker.start();
    const auto setpoint = write_and_wait(worker, 0, value{std::uint64_t{77}});  // FC6, FC3
    EXPECT_FALSE(setpoint.error) << setpoint.error.message();
    EXPECT_EQ(setpoint.readback, std::vector<std::uint16_t>{77});
    const auto alarm = write_and_wait(worker, 1, value{true});  // FC3, FC6, FC3
    EXPECT_FALSE(alarm.error) << alarm.error.message();
    EXPECT_EQ(alarm.readback, std::vector<std::uint16_t>{8});
    worker.stop();
    EXPECT_EQ(worker.counters(0).timeouts, 0u);
    EXPECT_EQ(worker.counters(0).requests, 5u);
}

// Polls and writes together: the write's first request keeps the gap after
// the poll's last answer, and the poll after the write keeps it after the
// read-back; nothing times out.
TEST(bus_worker_write_pacing, writes_between_polls_keep_the_gap_on_both_sides) {
    const auto port = testing::free_tcp_port();
    auto served = slow_listener();
    served.faults.min_request_gap = 60ms;
    simulator sim(tcp_config(port, {served}), "line");
    sim.start();
    auto d = slow_listener();
    d.request_delay = 80ms;
    d.poll_interval = 10ms;
    d.max_gap = 0;  // two blocks per poll: 30 and 40
    const auto cfg = tcp_config(port, {d});
    std::mutex m;
    std::size_t polls = 0;
    bus_worker worker(cfg.buses[0], cfg.devices, [&](const poll_result&) {
        std::lock_guard lock(m);
        ++polls;
    });
    worker.start();
    const auto polled = [&](std::size_t n) {
        return testing::wait_until([&] { std::lock_guard lock(m); return polls >= n; }, 10s);
    };
    ASSERT_TRUE(polled(1));
    for (std::uint64_t v : {5u, 6u}) {
        const auto w = write_and_wait(worker, 0, value{v});
        EXPECT_FALSE(w.error) << w.error.message();
        const auto a = write_and_wait(worker, 1, value{v == 5u});
        EXPECT_FALSE(a.error) << a.error.message();
    }
    ASSERT_TRUE(polled(4));
    worker.stop();
    EXPECT_EQ(worker.counters(0).timeouts, 0u);
}

}  // namespace
}  // namespace fieldbridge::modbus
