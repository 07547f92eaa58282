// scan_link through a scripted fake link: a silent unit costs one request,
// a unit that answers (a value or an exception of its own) gets every probe,
// and each unit is reported as soon as it is probed.
#include "drivers/modbus/bus_scan.hpp"

#include <gtest/gtest.h>

#include "drivers/modbus/modbus_error.hpp"
#include "tests/modbus/fake_link.hpp"

namespace fieldbridge::modbus {
namespace {

TEST(bus_scan, silent_units_cost_one_request_and_answering_ones_every_probe) {
    auto peer = std::make_shared<fake_peer>();
    peer->respond_with([](const request& q, reply& answer) {
        if (q.unit == 1) {
            answer.registers.assign(q.count, 229);
            return std::error_code{};
        }
        if (q.unit == 2)
            return make_error_code(modbus_errc::illegal_data_address);
        if (q.unit == 3)
            return make_error_code(modbus_errc::gateway_target_failed);
        return make_error_code(modbus_errc::timeout);
    });
    fake_link line(peer);
    std::vector<std::uint8_t> reported;
    const auto units = scan_link(line, {1, 5, std::chrono::milliseconds(100)},
                                 [&](const unit_result& u) { reported.push_back(u.unit); });
    ASSERT_TRUE(units);
    EXPECT_EQ(reported, (std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
    ASSERT_EQ(units->size(), 5u);
    EXPECT_TRUE(answered((*units)[0]));
    EXPECT_EQ((*units)[0].probes.at(0).value, 229);
    EXPECT_EQ((*units)[0].probes.size(), 2u);
    EXPECT_TRUE(answered((*units)[1]));
    EXPECT_EQ((*units)[1].probes.size(), 2u);
    for (std::size_t i = 2; i < 5; ++i) {
        EXPECT_FALSE(answered((*units)[i])) << i;
        EXPECT_EQ((*units)[i].probes.size(), 1u) << i;
    }
    EXPECT_EQ(peer->requests().size(), 2u + 2u + 1u + 1u + 1u);
    EXPECT_FALSE(line.connected()) << "closed after the scan";
}

TEST(bus_scan, a_link_that_drops_mid_scan_is_reopened_for_the_next_unit) {
    auto peer = std::make_shared<fake_peer>();
    peer->respond_with([](const request& q, reply& answer) {
        if (q.unit == 2)
            return make_error_code(modbus_errc::connection_failed);
        answer.registers.assign(q.count, q.unit);
        return std::error_code{};
    });
    fake_link line(peer);
    const auto units = scan_link(line, {1, 3, std::chrono::milliseconds(100)}, {});
    ASSERT_TRUE(units);
    EXPECT_TRUE(answered((*units)[0]));
    EXPECT_FALSE(answered((*units)[1]));
    EXPECT_TRUE(answered((*units)[2]));
    EXPECT_EQ(peer->opened(), 2);
}

}  // namespace
}  // namespace fieldbridge::modbus
