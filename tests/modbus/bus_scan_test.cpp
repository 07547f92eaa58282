// scan_link through a scripted fake link: a silent unit costs one request,
// a unit that answers (a value or an exception of its own) gets every probe,
// and each unit is reported as soon as it is probed.
#include "drivers/modbus/bus_scan.hpp"

#include <algorithm>

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
    EXPECT_EQ((*units)[0].probes.size(), 3u);
    EXPECT_TRUE(answered((*units)[1]));
    EXPECT_EQ((*units)[1].probes.size(), 3u);
    for (std::size_t i = 2; i < 5; ++i) {
        EXPECT_FALSE(answered((*units)[i])) << i;
        EXPECT_EQ((*units)[i].probes.size(), 1u) << i;
    }
    EXPECT_EQ(peer->requests().size(), 3u + 3u + 1u + 1u + 1u);
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

// A device whose objects take three answers; another that keeps saying
// "more follows" from the same object is asked once more, not forever.
TEST(bus_scan, identification_is_gathered_over_follow_up_answers) {
    auto peer = std::make_shared<fake_peer>();
    peer->respond_with([](const request& q, reply& answer) {
        if (q.function != function_code::read_device_identification) {
            answer.registers.assign(q.count, 1);
            return std::error_code{};
        }
        auto& page = answer.identification;
        page.objects = {{static_cast<std::uint8_t>(q.address), "object " + std::to_string(q.address)}};
        page.more_follows = q.unit == 2 || q.address < 2;
        page.next_object = static_cast<std::uint8_t>(q.unit == 2 ? q.address : q.address + 1);
        return std::error_code{};
    });
    fake_link line(peer);
    const auto units = scan_link(line, {1, 2, std::chrono::milliseconds(100)}, {});
    ASSERT_TRUE(units);
    const auto& one = (*units)[0].probes.at(2).identity;
    ASSERT_EQ(one.size(), 3u);
    EXPECT_EQ(one[2].id, 2);
    EXPECT_EQ(one[2].value, "object 2");
    EXPECT_EQ((*units)[1].probes.at(2).identity.size(), 1u);
    const auto asked = peer->requests();
    EXPECT_EQ(std::count_if(asked.begin(), asked.end(),
                            [](const request& q) { return q.function == function_code::read_device_identification; }),
              3 + 1);
}

}  // namespace
}  // namespace fieldbridge::modbus
