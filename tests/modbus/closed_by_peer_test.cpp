// closed_by_peer: which requests that met a connection the peer closed are
// sent once more on a new one. Every combination of the four facts.
#include "drivers/modbus/closed_by_peer.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

TEST(closed_by_peer, a_read_goes_again_after_an_idle_close_a_write_only_if_none_of_it_went_out) {
    for (int bits = 0; bits < 16; ++bits) {
        const closed_request r{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0};
        const bool idle_close = r.answered_before && !r.answer_begun;
        const bool harmless = !r.changes_device || !r.may_have_gone_out;
        EXPECT_EQ(send_again(r), idle_close && harmless)
            << "answered_before=" << r.answered_before << " changes_device=" << r.changes_device
            << " may_have_gone_out=" << r.may_have_gone_out << " answer_begun=" << r.answer_begun;
    }
}

TEST(closed_by_peer, a_write_the_backend_cannot_follow_is_never_sent_twice) {
    closed_request write;
    write.answered_before = true;
    write.changes_device = true;  // may_have_gone_out defaults to true: libmodbus cannot tell
    EXPECT_FALSE(send_again(write));
    write.may_have_gone_out = false;
    EXPECT_TRUE(send_again(write));
}

TEST(closed_by_peer, nothing_goes_again_on_a_connection_that_never_answered) {
    closed_request read;
    read.may_have_gone_out = false;
    EXPECT_FALSE(send_again(read));
    read.answered_before = true;
    EXPECT_TRUE(send_again(read));
    read.answer_begun = true;  // half an answer: the device saw the request
    EXPECT_FALSE(send_again(read));
}

}  // namespace
}  // namespace fieldbridge::modbus
