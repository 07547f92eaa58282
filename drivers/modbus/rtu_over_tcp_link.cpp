#include "drivers/modbus/rtu_over_tcp_link.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

rtu_over_tcp_link::rtu_over_tcp_link(std::string bus, config::tcp_link settings)
    : bus_(std::move(bus)), settings_(std::move(settings)) {}

bool rtu_over_tcp_link::relay_ready(clock::time_point now) {
    if (relay_ != nullptr) return true;
    if (!relay_attempts_.due(now)) return false;
    try {
        relay_ = std::make_unique<rtu_over_tcp>(bus_, settings_.host, settings_.port);
    } catch (const std::exception& e) {
        if (relay_attempts_.failed(now)) spdlog::warn("{}; retrying", e.what());
        relay_failed_before_ = true;
        return false;
    }
    const auto made = relay_attempts_.opened(now);
    relay_attempts_.proven();  // a pty and a thread: nothing more to prove
    if (made.tell && relay_failed_before_) {
        spdlog::info("bus {}: relay for RTU over TCP set up", bus_);
    }
    relay_failed_before_ = false;
    return true;
}

std::error_code rtu_over_tcp_link::open(clock::time_point now) {
    if (!relay_ready(now) || !relay_->connected()) return make_error_code(modbus_errc::connection_failed);
    if (ctx_.is_open()) return {};
    if (!attempts_.due(now)) return make_error_code(modbus_errc::connection_failed);
    // A pty: the line settings are not used.
    if (const auto failure = ctx_.open_rtu(relay_->device(), 115200, config::parity::none, 8, 1); !failure.empty()) {
        if (attempts_.failed(now)) spdlog::warn("bus {}: {}; retrying", bus_, failure);
        return make_error_code(modbus_errc::connection_failed);
    }
    const auto opening = attempts_.opened(now);
    attempts_.proven();  // the relay's pty: the converter's connection is the relay's business
    if (opening.tell) spdlog::info("bus {}: connected", bus_);
    return {};
}

std::error_code rtu_over_tcp_link::exchange(const request& r, reply& answer) {
    // What comes before the request is not its answer (late_answers). The
    // relay writes a frame to the pty as the network delivers it: 5 ms of
    // quiet ends one.
    const auto dropped = ctx_.drain(late_.wait_before(r), std::chrono::milliseconds{5});
    if (dropped > 0) {
        spdlog::debug("bus {}: dropped {} bytes that came before the request to unit {}", bus_, dropped, r.unit);
    }
    late_.waited(dropped, clock::now());
    const auto sent = clock::now();
    const auto error = ctx_.exchange(r, answer);
    late_.exchanged(r, error, sent, clock::now());
    if (!error || is_exception(error)) return error;
    if (error == make_error_code(modbus_errc::connection_failed)) {
        close();
    } else {
        ctx_.flush();  // drop whatever half frame is left on the pty
    }
    return error;
}

}  // namespace fieldbridge::modbus
