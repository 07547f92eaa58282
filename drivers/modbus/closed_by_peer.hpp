// closed_by_peer: whether a request that met a Modbus TCP connection the
// peer had closed goes out once more on a new connection (tcp_stream_link).
//
// Devices close idle connections (a timeout of their own, often shorter
// than a slow poll interval). A close noticed before the request went out
// costs nothing: the request goes on a new connection, a write as well as
// a read. A close met while sending or before any byte of the answer came
// is asked once more on a new connection when that cannot do harm: a read
// always; a write only when none of it went out, since a write that went
// out may have reached the device, and a command is never applied twice.
// A connection that never answered is not an idle one (a peer that accepts
// and closes at once): nothing is sent again, and the link backs off.
// Pure.
#pragma once

namespace fieldbridge::modbus {

struct closed_request {
    bool answered_before = false;  // the connection had answered a request: closed while idle
    bool changes_device = false;   // a write
    bool may_have_gone_out = true;  // any byte of it was sent, or the backend cannot tell
    bool answer_begun = false;     // any byte of an answer came: the device saw it
};

constexpr bool send_again(const closed_request& r) {
    if (!r.answered_before || r.answer_begun) return false;
    return !r.changes_device || !r.may_have_gone_out;
}

}  // namespace fieldbridge::modbus
