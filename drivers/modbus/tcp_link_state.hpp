// tcp_link_state: what the Modbus TCP backend (tcp_stream_link) keeps of
// its connection across its reopens, and what it logs of it:
// the reopen back-off (open_attempts), which closes were the peer's idle
// timeout and which a broken link (reconnects), when the connection was made
// (connect_pause), and whether a request's outcome closes it (tcp_answers).
// The backend owns the socket and calls this as it opens, breaks and closes.
//
// Thread-safety: one thread uses a link and its state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include "drivers/modbus/open_attempts.hpp"
#include "drivers/modbus/tcp_answers.hpp"

namespace fieldbridge::modbus {

class tcp_link_state {
public:
    using clock = std::chrono::steady_clock;

    explicit tcp_link_state(std::string bus) : bus_(std::move(bus)) {}

    // Whether an attempt to connect may be made at `now`.
    bool may_connect(clock::time_point now) const { return attempts_.due(now); }
    // An attempt failed, `why` in words; it ended at `ended` (the back-off
    // runs from the attempt's end: a connect that took its whole second
    // must not make the next one due at once).
    void connect_failed(clock::time_point ended, const std::string& why);
    // The attempt made at `now` connected.
    void connected(clock::time_point now);
    // The peer closed the open connection (seen before a request, or met by
    // one): one that had answered is opened again quietly (an idle timeout),
    // one that never answered backs off. The backend closes its socket.
    void closed_by_peer(clock::time_point now);
    // This side closes the connection: `on_purpose` when the device wants it
    // closed after each cycle (not a broken link when it is opened again).
    // `was_open`: the backend had a connection.
    void closing(bool was_open, bool on_purpose);
    // Whether the open connection had answered a request before.
    bool answered_before() const { return attempts_.answered(); }
    // A request to `unit` ended with `error` at `now` (empty: answered):
    // whether the connection must be closed (broken, or half-open).
    bool must_close_after(std::uint8_t unit, std::error_code error, clock::time_point now);

    std::uint64_t reconnects() const { return reconnects_; }
    clock::time_point ready_at(std::chrono::milliseconds connect_pause) const {
        return connect_pause.count() > 0 ? connected_at_ + connect_pause : clock::time_point{};
    }

private:
    std::string bus_;
    open_attempts attempts_;
    tcp_answers answers_;
    std::uint64_t reconnects_ = 0;
    bool closed_on_purpose_ = false;  // the last close was not a broken link
    clock::time_point connected_at_{};
};

}  // namespace fieldbridge::modbus
