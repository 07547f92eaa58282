// tcp_answers: what a request's outcome means for a Modbus TCP connection,
// for tcp_stream_link: kept, or closed to be reopened.
//
// One connection often carries several units (a Modbus TCP gateway in
// front of a serial line). A unit that does not answer, or answers with a
// well-framed reply that does not fit the request (invalid_response: a
// wrong length, another function), is that unit's fault: the connection
// stays for the others. It is taken for half-open only when nothing comes
// back on it at all: half_open_after requests in a row unanswered (timed
// out or not usable) that went to more than one unit, or to the only unit
// ever asked on this link. A broken connection (connection_failed) is
// closed at once; losing the MBAP framing is the backend's to see, and it
// closes the connection itself.
// Pure; one per link, kept across its connections.
#pragma once

#include <bitset>
#include <cstdint>
#include <system_error>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

class tcp_answers {
public:
    // Requests in a row without any answer after which the connection is
    // taken for half-open.
    static constexpr int half_open_after = 3;

    // Whether the connection must be closed after a request to `unit` that
    // ended with `error` (empty: answered).
    bool must_close(std::uint8_t unit, std::error_code error) {
        asked_.set(unit);
        if (!error || is_exception(error)) {
            unanswered_in_a_row_ = 0;
            return false;
        }
        if (error == make_error_code(modbus_errc::connection_failed)) {
            unanswered_in_a_row_ = 0;
            return true;
        }
        if (error != make_error_code(modbus_errc::timeout) && error != make_error_code(modbus_errc::invalid_response))
            return false;  // not the connection's (a request that could not be built)
        if (unanswered_in_a_row_ == 0) {
            first_unanswered_ = unit;
            several_units_ = false;
        } else if (unit != first_unanswered_) {
            several_units_ = true;
        }
        ++unanswered_in_a_row_;
        return half_open();
    }
    // Whether the connection is taken for half-open: what must_close() last
    // closed it for, unless the connection broke.
    bool half_open() const {
        return unanswered_in_a_row_ >= half_open_after && (several_units_ || asked_.count() == 1);
    }
    // A new connection starts with nothing counted.
    void opened() { unanswered_in_a_row_ = 0; }
    int timeouts_in_a_row() const { return unanswered_in_a_row_; }

private:
    int unanswered_in_a_row_ = 0;
    std::uint8_t first_unanswered_ = 0;
    bool several_units_ = false;  // the requests unanswered in a row went to more than one unit
    std::bitset<256> asked_;      // units asked on this link (any of its connections)
};

}  // namespace fieldbridge::modbus
