// late_answers: after a unit failed to answer, the next request to it waits
// for the late answer to go by (until one timeout after the answer was
// due); a retry of the same question goes at once; other units go at once,
// unless the unit was seen answering late: then they wait for it too.
#include "drivers/modbus/late_answers.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using clock = late_answers::clock;

const clock::time_point t0 = clock::time_point{} + 1h;
const std::error_code timeout = make_error_code(modbus_errc::timeout);

request read_of(std::uint8_t unit, std::uint16_t address, bool retry = false) {
    request r;
    r.unit = unit;
    r.timeout = 200ms;
    r.function = function_code::read_holding_registers;
    r.address = address;
    r.count = 1;
    r.retry = retry;
    return r;
}

// `r`, sent at `sent`, got no answer within its timeout.
void timed_out(late_answers& l, const request& r, clock::time_point sent) {
    l.exchanged(r, timeout, sent, sent + r.timeout);
}

TEST(late_answers, the_next_request_to_a_unit_that_did_not_answer_waits_one_timeout_others_go_at_once) {
    late_answers l;
    const auto a = read_of(1, 40);
    EXPECT_LE(l.wait_before(a), t0) << "nothing failed yet";
    timed_out(l, a, t0 - 200ms);
    EXPECT_EQ(l.wait_before(a), t0 + 200ms) << "the same request asked anew waits";
    EXPECT_EQ(l.wait_before(read_of(1, 41)), t0 + 200ms);
    EXPECT_LE(l.wait_before(read_of(2, 40)), t0) << "another unit's request goes at once";
    // Another unit's exchange leaves unit 1's wait as it is.
    l.exchanged(read_of(2, 40), {}, t0, t0 + 10ms);
    EXPECT_EQ(l.wait_before(a), t0 + 200ms);
    // Once unit 1 answers, nothing of it is awaited any more.
    l.exchanged(a, {}, t0 + 400ms, t0 + 450ms);
    EXPECT_LE(l.wait_before(a), t0);
}

TEST(late_answers, a_broken_answer_known_early_waits_from_when_the_answer_was_due) {
    late_answers l;
    const auto a = read_of(1, 40);
    // Another unit's late frame broke the exchange 5 ms after the request
    // went: the request's own answer may come until two timeouts after it.
    l.exchanged(a, make_error_code(modbus_errc::invalid_response), t0, t0 + 5ms);
    EXPECT_EQ(l.wait_before(a), t0 + 400ms);
}

TEST(late_answers, a_retry_of_the_request_that_failed_goes_at_once_and_the_next_request_waits_for_its_answer) {
    late_answers l;
    const auto a = read_of(1, 40);
    const auto again = read_of(1, 40, true);
    timed_out(l, a, t0 - 200ms);
    EXPECT_LE(l.wait_before(again), t0) << "a retry may take the late answer: it asks the same";
    EXPECT_EQ(l.wait_before(read_of(1, 41, true)), t0 + 200ms) << "a retry of another question waits";
    auto other_values = read_of(1, 40, true);
    other_values.values = {7};
    EXPECT_EQ(l.wait_before(other_values), t0 + 200ms) << "so does one that writes other values";
    // The retry fails too: the next retry goes at once again, the next
    // request waits for the retry's answer.
    timed_out(l, again, t0);
    EXPECT_LE(l.wait_before(again), t0);
    EXPECT_EQ(l.wait_before(a), t0 + 400ms);
    // The retry is answered (also with an exception): maybe by the late
    // answer, and its own may still come; the next request (the same
    // question too) waits for two timeouts.
    for (const auto answer : {std::error_code{}, make_error_code(modbus_errc::server_device_busy)}) {
        late_answers m = l;
        m.exchanged(again, answer, t0 + 400ms, t0 + 450ms);
        EXPECT_EQ(m.wait_before(a), t0 + 850ms) << answer.message();
        EXPECT_EQ(m.wait_before(read_of(1, 41)), t0 + 850ms);
        EXPECT_EQ(m.wait_before(again), t0 + 850ms) << "no failure since: a retry is a request like any";
        // Once a request goes after the wait and is answered, nothing is awaited.
        m.exchanged(a, {}, t0 + 850ms, t0 + 900ms);
        EXPECT_LE(m.wait_before(a), t0);
    }
}

TEST(late_answers, an_exception_or_a_lost_link_ends_the_wait_a_broken_answer_is_awaited_like_none) {
    const auto a = read_of(7, 0);
    {
        late_answers l;
        l.exchanged(a, make_error_code(modbus_errc::invalid_response), t0 - 200ms, t0);
        EXPECT_EQ(l.wait_before(a), t0 + 200ms);
    }
    for (const auto error : {make_error_code(modbus_errc::illegal_data_address),
                             make_error_code(modbus_errc::server_device_busy),
                             make_error_code(modbus_errc::connection_failed), std::error_code{}}) {
        late_answers l;
        timed_out(l, a, t0 - 200ms);
        l.exchanged(a, error, t0 + 200ms, t0 + 300ms);
        EXPECT_LE(l.wait_before(a), t0) << error.message();
    }
}

TEST(late_answers, every_unit_id_keeps_its_own_wait) {
    late_answers l;
    for (int u = 0; u < 256; ++u) {
        timed_out(l, read_of(static_cast<std::uint8_t>(u), 0), t0 + std::chrono::milliseconds(u));
    }
    for (int u = 0; u < 256; ++u) {
        EXPECT_EQ(l.wait_before(read_of(static_cast<std::uint8_t>(u), 5)), t0 + std::chrono::milliseconds(u) + 400ms) << u;
    }
}

// A late frame of unit 1 breaks unit 2's next exchange (it does not fit):
// from then on unit 1 is known to answer late, and after its failures
// every unit's request waits for its late answer. A unit that was never
// seen late keeps the others waiting for nothing.
TEST(late_answers, a_unit_whose_late_frame_broke_another_exchange_makes_every_request_wait_for_it) {
    late_answers l;
    const auto a = read_of(1, 40);
    const auto b = read_of(2, 40);
    timed_out(l, a, t0 - 200ms);  // a's late answer may come until t0 + 200 ms
    EXPECT_LE(l.wait_before(b), t0);
    l.exchanged(b, make_error_code(modbus_errc::invalid_response), t0 + 10ms, t0 + 60ms);
    EXPECT_TRUE(l.answers_late(1));
    EXPECT_FALSE(l.answers_late(2)) << "the unit whose exchange broke is not blamed for it";
    // Unit 1 fails again: now unit 2 (and any other unit) waits for its late answer.
    timed_out(l, a, t0 + 1s);
    EXPECT_EQ(l.wait_before(b), t0 + 1s + 400ms);
    EXPECT_EQ(l.wait_before(read_of(9, 0)), t0 + 1s + 400ms);
    // Once unit 1 answers, nobody waits for it.
    l.exchanged(a, {}, t0 + 2s, t0 + 2s + 10ms);
    EXPECT_LE(l.wait_before(b), t0 + 2s);
    // A silent unit (3) whose window had ended when the frame came is not blamed.
    late_answers m;
    timed_out(m, read_of(3, 0), t0 - 1s);  // its late answer was due by t0 - 600 ms
    m.exchanged(b, make_error_code(modbus_errc::invalid_response), t0, t0 + 5ms);
    EXPECT_FALSE(m.answers_late(3));
    timed_out(m, read_of(3, 0), t0 + 1s);
    EXPECT_LE(m.wait_before(b), t0 + 1s);
}

// Bytes dropped before a request, that came while a unit's late answer
// could still come: that unit answers late.
TEST(late_answers, stray_bytes_while_a_late_answer_could_come_mark_its_unit) {
    late_answers l;
    const auto a = read_of(1, 40);
    timed_out(l, a, t0 - 200ms);                   // window until t0 + 200 ms
    timed_out(l, read_of(5, 0), t0 - 2s);           // window until t0 - 1600 ms
    l.stray_came(t0 + 100ms);
    EXPECT_TRUE(l.answers_late(1));
    EXPECT_FALSE(l.answers_late(5));
    l.stray_came(t0 + 300ms);  // after every window: nobody more
    EXPECT_FALSE(l.answers_late(5));
    // A retry of unit 1's failed question still goes at once.
    timed_out(l, a, t0 + 1s);
    EXPECT_LE(l.wait_before(read_of(1, 40, true)), t0);
    EXPECT_EQ(l.wait_before(read_of(2, 0)), t0 + 1s + 400ms);
}

// Stray bytes while a unit that never answers had its window open (another
// master's frame, noise) mark it; the next time its window passes with the
// line quiet, it is forgotten: it cost the others one wait, not one per poll.
TEST(late_answers, a_unit_marked_by_a_stray_frame_is_forgotten_when_its_window_passes_quietly) {
    late_answers l;
    const auto dead = read_of(3, 0);
    const auto b = read_of(2, 40);
    timed_out(l, dead, t0 - 200ms);  // window until t0 + 200 ms
    l.stray_came(t0);                // another master's frame
    ASSERT_TRUE(l.answers_late(3));
    timed_out(l, dead, t0 + 1s);     // window until t0 + 1400 ms
    EXPECT_EQ(l.wait_before(b), t0 + 1400ms) << "b waits for the marked unit once";
    // The wait before b's request dropped nothing: the window passed quietly.
    l.quiet_between(t0 + 1200ms, t0 + 1400ms);
    EXPECT_FALSE(l.answers_late(3));
    timed_out(l, dead, t0 + 2s);
    EXPECT_LE(l.wait_before(b), t0 + 2s) << "and not again";
    // A unit whose window is still open, or had ended before, is kept.
    late_answers m;
    timed_out(m, read_of(4, 0), t0 - 200ms);  // until t0 + 200 ms
    m.stray_came(t0);
    m.quiet_between(t0, t0 + 100ms);
    EXPECT_TRUE(m.answers_late(4)) << "its late answer may still come";
    m.quiet_between(t0 + 300ms, t0 + 500ms);
    EXPECT_TRUE(m.answers_late(4)) << "its window had passed before the quiet began";
}

}  // namespace
}  // namespace fieldbridge::modbus
