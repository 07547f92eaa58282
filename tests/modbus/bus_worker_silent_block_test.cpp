// A block that gets no answer while the device answers its others
// (silent_blocks): held back after offline_after polls, its points reported
// as not asked, asked again every offline_poll_interval, and every poll once
// it answers. Through the scripted fake link: a device that answers some
// registers and lets reads of others time out, on demand.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "tests/support/captured_log.hpp"
#include "tests/modbus/fake_link_rig.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using fc = function_code;

// Two holding registers too far apart to share a read: two blocks, 0 and 100.
config::device two_blocks(std::chrono::milliseconds offline_poll_interval) {
    config::device d;
    d.name = "meter";
    d.bus = "line";
    d.unit_id = 4;
    d.poll_interval = 1ms;
    d.retries = 1;
    d.offline_after = 2;
    d.offline_poll_interval = offline_poll_interval;
    for (const auto address : {std::uint16_t{0}, std::uint16_t{100}}) {
        config::point p;
        p.name = "r" + std::to_string(address);
        p.kind = config::register_kind::holding_register;
        p.address = address;
        p.type = config::data_type::uint16;
        d.points.push_back(p);
    }
    return d;
}

// Answers reads below `silent_from`; lets the others time out (or get the
// answer `none`) while `silent` holds.
void answer_below(fake_peer& peer, std::uint16_t silent_from,
                  const std::shared_ptr<std::atomic<bool>>& silent, modbus_errc none = modbus_errc::timeout) {
    peer.respond_with([=](const request& q, reply& answer) {
        if (q.address >= silent_from && silent->load())
            return make_error_code(none);
        answer.registers.assign(q.count, 7);
        return std::error_code{};
    });
}

std::error_code error_of(const poll_result& r, std::size_t point) {
    const auto s = std::find_if(r.samples.begin(), r.samples.end(), [&](const sample& x) { return x.point == point; });
    return s == r.samples.end() ? make_error_code(modbus_errc::not_sent) : s->quality.error;
}

// The first poll handed over so far in which `point` read good.
std::optional<poll_result> first_good(results& got, std::size_t point) {
    for (const auto& p : got.all()) {
        if (!error_of(p, point)) return p;
    }
    return std::nullopt;
}

// A block answered garbled every time (a bad length or CRC) is held back as well.
TEST(bus_worker_silent_block, a_block_without_answer_is_held_back_after_offline_after_polls_and_the_device_stays_online) {
    for (const auto none : {modbus_errc::timeout, modbus_errc::invalid_response}) {
        SCOPED_TRACE(make_error_code(none).message());
        const testing::captured_log log;
        rig r(two_blocks(1h));
        answer_below(*r.peer, 100, std::make_shared<std::atomic<bool>>(true), none);
        r.worker.start();
        ASSERT_TRUE(r.got.wait_for(12));
        r.worker.stop();
        const auto polls = r.got.all();
        const auto asked = r.peer->requests();
        const auto of_second =
            std::count_if(asked.begin(), asked.end(), [](const request& q) { return q.address == 100; });
        EXPECT_EQ(of_second, 2 * (1 + 1)) << "two polls, one retry each; then not asked within the hour";
        for (std::size_t n = 0; n < polls.size(); ++n) {
            EXPECT_FALSE(error_of(polls[n], 0)) << "poll " << n << ": the answered block's point stays good";
            EXPECT_EQ(error_of(polls[n], 1), make_error_code(n < 2 ? none : modbus_errc::block_silent))
                << "poll " << n;
        }
        EXPECT_EQ(log.count("did not answer the read of holding 100-100 in its last 2 polls"), 1u);
        EXPECT_EQ(log.count("is offline"), 0u);
        EXPECT_EQ(r.worker.counters(0).held_reads,
                  (std::vector<block_id>{{config::register_kind::holding_register, 100, 1}}))
            << "what status shows";
    }
}

TEST(bus_worker_silent_block, a_held_block_is_asked_again_after_the_interval_and_every_poll_once_it_answers) {
    const testing::captured_log log;
    rig r(two_blocks(30ms));
    const auto silent = std::make_shared<std::atomic<bool>>(true);
    answer_below(*r.peer, 100, silent);
    r.worker.start();
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return log.count("did not answer the read") == 1; }, 10s));
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return r.worker.counters(0).held_reads.size() == 1; }, 10s));
    silent->store(false);
    const auto all_good_now = [&] {
        const auto polls = r.got.all();
        return !polls.empty() && all_good(polls.back());
    };
    ASSERT_TRUE(fieldbridge::testing::wait_until(all_good_now, 10s));
    const auto seen = r.got.all().size();
    ASSERT_TRUE(r.got.wait_for(seen + 5));
    r.worker.stop();
    const auto polls = r.got.all();
    for (auto n = seen; n < polls.size(); ++n) EXPECT_TRUE(all_good(polls[n])) << "poll " << n;
    EXPECT_EQ(log.count("answers the read of holding 100-100 again"), 1u);
    EXPECT_TRUE(r.worker.counters(0).held_reads.empty()) << "no longer shown once it answers";
}

TEST(bus_worker_silent_block, a_device_back_from_an_outage_has_none_of_its_blocks_held_back) {
    // Every block went unanswered while the device was away: those polls
    // are the device's offline count, not the blocks'.
    const testing::captured_log log;
    rig r(two_blocks(20ms));
    const auto away = std::make_shared<std::atomic<bool>>(true);
    answer_below(*r.peer, 0, away);
    r.worker.start();
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return log.count("is offline") == 1; }, 10s));
    ASSERT_TRUE(r.got.wait_for(r.got.all().size() + 3));
    away->store(false);
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return first_good(r.got, 0).has_value(); }, 10s));
    r.worker.stop();
    const auto back = *first_good(r.got, 0);
    EXPECT_TRUE(all_good(back)) << "the first poll after the outage reads both blocks: " << error_of(back, 1).message();
    EXPECT_EQ(log.count("did not answer the read"), 0u);
}

// Three holding registers far apart: blocks 0, 100 and 200.
config::device three_blocks() {
    auto d = two_blocks(20ms);
    config::point p = d.points.back();
    p.name = "r200";
    p.address = 200;
    d.points.push_back(p);
    return d;
}

// An offline device is probed one block a poll, each poll the block after
// the one that last got no answer: a block that never answers, first in the
// plan, cannot keep a device that is back offline for good.
TEST(bus_worker_silent_block, a_block_that_never_answers_cannot_keep_a_device_offline_once_it_is_back) {
    const testing::captured_log log;
    rig r(two_blocks(20ms));
    const auto away = std::make_shared<std::atomic<bool>>(true);
    r.peer->respond_with([away](const request& q, reply& answer) {
        if (q.address == 0 || away->load()) return make_error_code(modbus_errc::timeout);  // 0: never
        answer.registers.assign(q.count, 7);
        return std::error_code{};
    });
    r.worker.start();
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return log.count("is offline") == 1; }, 10s));
    away->store(false);
    EXPECT_TRUE(fieldbridge::testing::wait_until([&] { return first_good(r.got, 1).has_value(); }, 10s))
        << "the device stayed offline";
    r.worker.stop();
    EXPECT_EQ(log.count("answers again"), 1u);
}

// The poll in which an offline device answers again reads the rest of its
// blocks, whatever the blocks after the answered one do.
TEST(bus_worker_silent_block, the_poll_in_which_an_offline_device_answers_reads_its_other_blocks) {
    const testing::captured_log log;
    rig r(three_blocks());
    const auto offline = std::make_shared<std::atomic<bool>>(false);
    const auto away = std::make_shared<std::atomic<bool>>(true);
    r.peer->respond_with([offline, away](const request& q, reply& answer) {
        if (q.address == 100) return make_error_code(modbus_errc::timeout);  // never answers
        if (away->load()) {
            // Back once offline, right after the last block got no answer
            // (its retry too): the next poll starts at the first block.
            if (q.address == 200 && q.retry && offline->load()) away->store(false);
            return make_error_code(modbus_errc::timeout);
        }
        answer.registers.assign(q.count, 7);
        return std::error_code{};
    });
    r.worker.start();
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return log.count("is offline") == 1; }, 10s));
    offline->store(true);
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return first_good(r.got, 0).has_value(); }, 10s));
    r.worker.stop();
    const auto p = *first_good(r.got, 0);
    EXPECT_EQ(error_of(p, 1), make_error_code(modbus_errc::timeout));
    EXPECT_FALSE(error_of(p, 2)) << "the block after the silent one: " << error_of(p, 2).message();
}

}  // namespace
}  // namespace fieldbridge::modbus
