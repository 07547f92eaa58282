// tcp_answers: when a request's outcome closes a Modbus TCP connection that
// carries one unit or several (a gateway in front of a serial line).
#include "drivers/modbus/tcp_answers.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

const auto answered = std::error_code{};
const auto timeout = make_error_code(modbus_errc::timeout);
const auto invalid = make_error_code(modbus_errc::invalid_response);
const auto broken = make_error_code(modbus_errc::connection_failed);

TEST(tcp_answers, the_only_unit_unanswered_three_times_in_a_row_is_a_half_open_connection) {
    tcp_answers a;
    EXPECT_FALSE(a.must_close(1, answered));
    EXPECT_FALSE(a.must_close(1, timeout));
    EXPECT_FALSE(a.must_close(1, invalid));
    EXPECT_TRUE(a.must_close(1, timeout));
    EXPECT_TRUE(a.half_open());
    a.opened();
    EXPECT_FALSE(a.must_close(1, timeout));
    EXPECT_FALSE(a.must_close(1, make_error_code(modbus_errc::illegal_data_address)));  // an answer
    EXPECT_FALSE(a.must_close(1, timeout));
    EXPECT_FALSE(a.must_close(1, timeout));
}

TEST(tcp_answers, one_silent_unit_among_several_never_closes_the_connection) {
    tcp_answers a;
    EXPECT_FALSE(a.must_close(1, answered));
    for (int i = 0; i < 20; ++i) {
        EXPECT_FALSE(a.must_close(2, timeout)) << i;
        EXPECT_FALSE(a.must_close(2, invalid)) << i;  // well framed, not what was asked: the unit's fault
    }
    EXPECT_FALSE(a.half_open());
}

TEST(tcp_answers, several_units_unanswered_in_a_row_close_it) {
    tcp_answers a;
    EXPECT_FALSE(a.must_close(1, answered));
    EXPECT_FALSE(a.must_close(2, timeout));
    EXPECT_FALSE(a.must_close(2, timeout));
    EXPECT_TRUE(a.must_close(1, timeout));
    EXPECT_TRUE(a.half_open());
    a.opened();
    EXPECT_FALSE(a.must_close(2, timeout));
    EXPECT_FALSE(a.must_close(1, answered)) << "an answer ends the run";
    EXPECT_FALSE(a.must_close(2, timeout));
    EXPECT_FALSE(a.must_close(1, timeout));
    EXPECT_TRUE(a.must_close(2, timeout));
}

TEST(tcp_answers, a_broken_connection_closes_at_once) {
    tcp_answers a;
    EXPECT_TRUE(a.must_close(1, broken));
    EXPECT_FALSE(a.half_open());
}

}  // namespace
}  // namespace fieldbridge::modbus
