// keeps_polling: what a reload leaves polling. A bus keeps its worker when
// the bus and every device on it are the same, whatever else changed (other
// buses, publishing, layout of the file); anything about the bus or its
// devices restarts it. And what bus_set::build reports of a bus whose worker
// cannot be made.
#include <string>

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "gateway/bus_set.hpp"
#include "tests/support/descriptors_used_up.hpp"

namespace fieldbridge::gateway {
namespace {

const std::string base = R"(
publish: { prefix: plant }
buses:
  line1: { type: tcp, host: 127.0.0.1, port: 5020 }
  line2: { type: tcp, host: 127.0.0.1, port: 5021 }
devices:
  m1: { bus: line1, unit_id: 1, poll_interval: 1s, points: [ { name: v, register: holding, address: 0 } ] }
  m2: { bus: line2, unit_id: 2, poll_interval: 1s, points: [ { name: v, register: holding, address: 0 } ] }
)";

config::gateway edited(const std::string& from, const std::string& to) {
    auto text = base;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return config::load_string(text);
}

TEST(keeps_polling, an_unchanged_bus_keeps_polling_whatever_else_changed) {
    const auto before = config::load_string(base);
    EXPECT_TRUE(keeps_polling(before, before, "line1"));
    // Another bus's device, the publish settings, and the layout of the file.
    const auto other = edited("m2: { bus: line2, unit_id: 2, poll_interval: 1s", "m2: { bus: line2, unit_id: 2, poll_interval: 5s");
    EXPECT_TRUE(keeps_polling(before, other, "line1"));
    EXPECT_FALSE(keeps_polling(before, other, "line2"));
    EXPECT_TRUE(keeps_polling(before, edited("prefix: plant", "prefix: hall"), "line1"));
    EXPECT_TRUE(keeps_polling(before, edited("\nbuses:", "\n# a comment moves every line\n\nbuses:"), "line1"));
}

TEST(keeps_polling, a_change_to_the_bus_or_any_of_its_devices_restarts_it) {
    const auto before = config::load_string(base);
    EXPECT_FALSE(keeps_polling(before, edited("port: 5020", "port: 5030"), "line1"));
    EXPECT_FALSE(keeps_polling(before, edited("m1: { bus: line1, unit_id: 1", "m1: { bus: line1, unit_id: 9"), "line1"));
    EXPECT_FALSE(keeps_polling(before, edited("name: v, register: holding, address: 0 } ] }\n  m2",
                                              "name: v, register: holding, address: 4 } ] }\n  m2"),
                               "line1"));
    // A device moved onto the bus, or away from it.
    const auto moved = edited("m2: { bus: line2", "m2: { bus: line1");
    EXPECT_FALSE(keeps_polling(before, moved, "line1"));
    // A bus that is gone, or new, is not kept.
    EXPECT_FALSE(keeps_polling(before, before, "line3"));
}

// No descriptor to be had (the shared poll thread's event queue needs one):
// each bus is reported, for a reload to say so, and its devices have no
// route; once descriptors are back, a build makes the workers.
TEST(bus_set, a_bus_whose_worker_cannot_be_made_is_reported) {
#if defined(FIELDBRIDGE_ASAN)
    GTEST_SKIP() << "not under AddressSanitizer: the test exhausts the file descriptors its runtime needs";
#endif
    const auto cfg = config::load_string(base);
    bus_set buses([](const std::string&, std::uint64_t, modbus::poll_result) {}, [](const std::string&) {});
    std::vector<std::string> not_started;
    {
        testing::descriptors_used_up no_fds;
        ASSERT_TRUE(no_fds.ok());
        not_started = buses.build(cfg, {}, false);
    }
    ASSERT_EQ(not_started.size(), 2u);
    EXPECT_EQ(not_started[0].rfind("bus line1: cannot start its worker (", 0), 0u) << not_started[0];
    EXPECT_NE(not_started[0].find("its devices are not polled"), std::string::npos) << not_started[0];
    EXPECT_EQ(not_started[1].rfind("bus line2: ", 0), 0u) << not_started[1];
    EXPECT_EQ(buses.route(0).first, nullptr);
    // The same buses, each with why, for its devices' health.
    ASSERT_EQ(buses.not_started().size(), 2u);
    EXPECT_EQ(not_started[0].rfind(buses.not_started().at("line1") + "; ", 0), 0u) << buses.not_started().at("line1");
    EXPECT_EQ(buses.not_started().at("line2").rfind("bus line2: cannot start its worker (", 0), 0u);
    EXPECT_TRUE(buses.build(cfg, {}, false).empty());
    EXPECT_TRUE(buses.not_started().empty());
    EXPECT_NE(buses.route(0).first, nullptr);
    EXPECT_NE(buses.route(1).first, nullptr);
}

}  // namespace
}  // namespace fieldbridge::gateway
