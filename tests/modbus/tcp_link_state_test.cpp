// tcp_link_state: what both Modbus TCP backends count and decide as their
// connection opens, is closed by the peer, closed by this side, and answers.
#include "drivers/modbus/tcp_link_state.hpp"

#include <gtest/gtest.h>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using clock = tcp_link_state::clock;

const clock::time_point t0 = clock::time_point{} + 1000s;
const auto answered = std::error_code{};
const auto timeout = make_error_code(modbus_errc::timeout);
const auto broken = make_error_code(modbus_errc::connection_failed);

TEST(tcp_link_state, an_idle_close_after_answers_reopens_at_once_and_is_no_reconnect) {
    tcp_link_state s("b");
    s.connected(t0);
    EXPECT_FALSE(s.must_close_after(1, answered, t0));
    EXPECT_TRUE(s.answered_before());
    s.closed_by_peer(t0 + 1s);
    EXPECT_TRUE(s.may_connect(t0 + 1s));
    s.connected(t0 + 1s);
    EXPECT_EQ(s.reconnects(), 0u);
    EXPECT_FALSE(s.answered_before());  // a new connection proves itself again
}

TEST(tcp_link_state, a_close_by_a_peer_that_never_answered_backs_off_and_counts_as_a_reconnect) {
    tcp_link_state s("b");
    s.connected(t0);
    s.closed_by_peer(t0);
    EXPECT_FALSE(s.may_connect(t0 + 99ms));
    EXPECT_TRUE(s.may_connect(t0 + 100ms));
    s.connected(t0 + 100ms);
    EXPECT_EQ(s.reconnects(), 1u);
}

TEST(tcp_link_state, a_release_is_no_reconnect_a_broken_link_is) {
    tcp_link_state s("b");
    s.connected(t0);
    s.closing(true, true);  // the device wants it closed after each cycle
    s.connected(t0 + 1s);
    EXPECT_EQ(s.reconnects(), 0u);
    EXPECT_TRUE(s.must_close_after(1, broken, t0 + 2s));
    s.closing(true, false);
    s.connected(t0 + 3s);
    EXPECT_EQ(s.reconnects(), 1u);
    // A failed attempt in between is no close on purpose either.
    s.closing(true, true);
    s.connect_failed(t0 + 4s, "cannot connect: refused");
    EXPECT_FALSE(s.may_connect(t0 + 4s));
    s.connected(t0 + 5s);
    EXPECT_EQ(s.reconnects(), 2u);
}

TEST(tcp_link_state, a_request_closes_the_connection_when_it_broke_or_is_half_open) {
    tcp_link_state s("b");
    s.connected(t0);
    EXPECT_FALSE(s.must_close_after(1, make_error_code(modbus_errc::illegal_data_address), t0));  // an answer
    for (int i = 1; i < tcp_answers::half_open_after; ++i) EXPECT_FALSE(s.must_close_after(1, timeout, t0)) << i;
    EXPECT_TRUE(s.must_close_after(1, timeout, t0));
}

TEST(tcp_link_state, a_half_open_connection_reopens_at_once_a_broken_one_that_never_answered_backs_off) {
    tcp_link_state half_open("b");
    half_open.connected(t0);
    for (int i = 1; i < tcp_answers::half_open_after; ++i) half_open.must_close_after(1, timeout, t0);
    ASSERT_TRUE(half_open.must_close_after(1, timeout, t0 + 3s));
    half_open.closing(true, false);
    EXPECT_TRUE(half_open.may_connect(t0 + 3s));  // its timeouts took long enough

    tcp_link_state broke("b");
    broke.connected(t0);
    ASSERT_TRUE(broke.must_close_after(1, broken, t0));
    broke.closing(true, false);
    EXPECT_FALSE(broke.may_connect(t0));
    EXPECT_TRUE(broke.may_connect(t0 + 100ms));
}

TEST(tcp_link_state, connect_pause_counts_from_the_last_connection) {
    tcp_link_state s("b");
    EXPECT_EQ(s.ready_at(0ms), clock::time_point{});
    const auto before = clock::now();
    s.connected(t0);
    EXPECT_GE(s.ready_at(50ms), before + 50ms);
    EXPECT_EQ(s.ready_at(0ms), clock::time_point{});
}

}  // namespace
}  // namespace fieldbridge::modbus
