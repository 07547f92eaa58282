#include "drivers/modbus/tcp_link.hpp"

#include "drivers/modbus/closed_by_peer.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/peer_closed.hpp"

namespace fieldbridge::modbus {

tcp_link::tcp_link(std::string bus, config::tcp_link settings) : state_(std::move(bus)), settings_(std::move(settings)) {}

std::error_code tcp_link::open(clock::time_point now) {
    if (ctx_.is_open()) {
        if (!peer_closed(ctx_.fd())) return {};
        drop_closed_by_peer(now);
    }
    if (!state_.may_connect(now)) return make_error_code(modbus_errc::connection_failed);
    const auto started = clock::now();
    if (const auto failure = ctx_.open_tcp(settings_.host, settings_.port, std::chrono::milliseconds(1000));
        !failure.empty()) {
        state_.connect_failed(now + (clock::now() - started), failure);
        return make_error_code(modbus_errc::connection_failed);
    }
    state_.connected(now);
    return {};
}

void tcp_link::drop_closed_by_peer(clock::time_point now) {
    state_.closed_by_peer(now);
    ctx_.close();
}

void tcp_link::close() {
    state_.closing(ctx_.is_open(), false);
    ctx_.close();
}

// Single-master devices and devices that work only when the connection is
// closed after each cycle: the device's own connection goes.
void tcp_link::release() {
    state_.closing(ctx_.is_open(), true);
    ctx_.close();
}

std::error_code tcp_link::exchange(const request& r, reply& answer) {
    // Closed by the peer while idle, found before the request went out: it
    // goes on a new connection, a write as well as a read.
    if (ctx_.is_open() && peer_closed(ctx_.fd())) {
        drop_closed_by_peer(clock::now());
        if (const auto error = open(clock::now())) return error;
    }
    const closed_request met{.answered_before = state_.answered_before(), .changes_device = changes_device(r)};
    auto error = ctx_.exchange(r, answer);
    // libmodbus does not say whether any of the request went out: a write
    // met by the close is taken as sent (may_have_gone_out) and not repeated.
    if (error == make_error_code(modbus_errc::connection_failed) && send_again(met)) {
        drop_closed_by_peer(clock::now());
        error = open(clock::now());
        if (!error) error = ctx_.exchange(r, answer);
    }
    if (state_.must_close_after(r.unit, error, clock::now())) {  // a broken connection, or half-open
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
