// tcp_answers: what a request's outcome means for a Modbus TCP connection,
// for both TCP backends (tcp_link, tcp_stream_link): kept, or closed to be
// reopened: a broken connection, a stream not worth untangling (an
// invalid answer: a late one to a timed-out request, another unit's), or a
// half-open connection (half_open_after requests in a row without any
// answer). Pure; one per connection.
#pragma once

#include <system_error>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

class tcp_answers {
public:
    // Requests in a row without any answer after which the connection is
    // taken for half-open.
    static constexpr int half_open_after = 3;

    // Whether the connection must be closed after a request that ended with
    // `error` (empty: answered).
    bool must_close(std::error_code error) {
        if (error != make_error_code(modbus_errc::timeout)) timeouts_in_a_row_ = 0;
        if (!error || is_exception(error)) return false;
        if (error == make_error_code(modbus_errc::connection_failed) ||
            error == make_error_code(modbus_errc::invalid_response))
            return true;
        return error == make_error_code(modbus_errc::timeout) && ++timeouts_in_a_row_ >= half_open_after;
    }
    // Whether the last close must_close() asked for was for a half-open connection.
    bool half_open() const { return timeouts_in_a_row_ >= half_open_after; }
    // A new connection starts with no timeouts counted.
    void opened() { timeouts_in_a_row_ = 0; }
    int timeouts_in_a_row() const { return timeouts_in_a_row_; }

private:
    int timeouts_in_a_row_ = 0;
};

}  // namespace fieldbridge::modbus
