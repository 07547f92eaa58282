#include "drivers/modbus/tcp_link.hpp"

#include <spdlog/spdlog.h>

#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/peer_closed.hpp"

namespace fieldbridge::modbus {

tcp_link::tcp_link(std::string bus, config::tcp_link settings) : bus_(std::move(bus)), settings_(std::move(settings)) {}

std::error_code tcp_link::open(clock::time_point now) {
    if (ctx_.is_open()) {
        if (!peer_closed(ctx_.fd())) return {};
        drop_closed_by_peer(now);
    }
    if (!attempts_.due(now)) return make_error_code(modbus_errc::connection_failed);
    const auto started = clock::now();
    if (const auto failure = ctx_.open_tcp(settings_.host, settings_.port, std::chrono::milliseconds(1000));
        !failure.empty()) {
        // The back-off runs from the attempt's end: a connect that took its
        // whole second must not make the next one due at once.
        if (attempts_.failed(now + (clock::now() - started))) spdlog::warn("bus {}: {}; retrying", bus_, failure);
        closed_on_purpose_ = false;  // not just an idle connection closed: the peer is gone
        return make_error_code(modbus_errc::connection_failed);
    }
    const auto opening = attempts_.opened(now);
    if (opening.reopened && !closed_on_purpose_) ++reconnects_;
    if (opening.tell) spdlog::info("bus {}: connected", bus_);
    closed_on_purpose_ = false;
    connected_at_ = clock::now();
    answers_.opened();
    return {};
}

// A connection that answered before and was then closed by the peer (an idle
// timeout) is opened again quietly: not a broken link, not a reconnect. One
// that never answered (a peer that accepts and closes at once) backs off.
void tcp_link::drop_closed_by_peer(clock::time_point now) {
    const bool idle_close = attempts_.answered();
    attempts_.broke(now);
    ctx_.close();
    closed_on_purpose_ = idle_close;
}

void tcp_link::close() {
    attempts_.closed();
    if (!ctx_.is_open()) return;
    ctx_.close();
    closed_on_purpose_ = false;
}

// Single-master devices and devices that work only when the connection is
// closed after each cycle: the device's own connection goes.
void tcp_link::release() {
    attempts_.closed();
    if (!ctx_.is_open()) return;
    ctx_.close();
    closed_on_purpose_ = true;
}

tcp_link::clock::time_point tcp_link::ready_at(std::chrono::milliseconds connect_pause) const {
    return connect_pause.count() > 0 ? connected_at_ + connect_pause : clock::time_point{};
}

std::error_code tcp_link::exchange(const request& r, reply& answer) {
    // Closed by the peer while idle, found before the request went out: it
    // goes on a new connection, a write as well as a read.
    if (ctx_.is_open() && peer_closed(ctx_.fd())) {
        drop_closed_by_peer(clock::now());
        if (const auto error = open(clock::now())) return error;
    }
    const bool reused = attempts_.answered();
    auto error = ctx_.exchange(r, answer);
    if (error == make_error_code(modbus_errc::connection_failed) && reused && !changes_device(r)) {
        // The peer closed the idle connection as the request went out: a
        // read is asked once more on a new connection. A write is not: it
        // may have reached the device.
        drop_closed_by_peer(clock::now());
        error = open(clock::now());
        if (!error) error = ctx_.exchange(r, answer);
    }
    if (!error || is_exception(error)) attempts_.proven();
    if (answers_.must_close(r.unit, error)) {  // a broken connection, or half-open
        if (answers_.half_open()) {
            // Its timeouts took long enough: reopened at once, no back-off.
            spdlog::warn("bus {}: {} requests in a row got no answer; reopening the connection", bus_,
                         answers_.timeouts_in_a_row());
        } else {
            attempts_.broke(clock::now());  // closed by the peer: backs off unless it answered before
        }
        close();
    } else if (error == make_error_code(modbus_errc::invalid_response)) {
        // One unit's answer that does not fit: drop what is left of it and
        // keep the connection for the others (libmodbus checks the
        // transaction id, so a late answer is never taken for another's).
        ctx_.flush();
    }
    return error;
}

}  // namespace fieldbridge::modbus
