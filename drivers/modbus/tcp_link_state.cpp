#include "drivers/modbus/tcp_link_state.hpp"

#include <spdlog/spdlog.h>

#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

void tcp_link_state::connect_failed(clock::time_point ended, const std::string& why) {
    if (attempts_.failed(ended)) spdlog::warn("bus {}: {}; retrying", bus_, why);
    closed_on_purpose_ = false;  // not just an idle connection closed: the peer is gone
}

void tcp_link_state::connected(clock::time_point now) {
    const auto opening = attempts_.opened(now);
    if (opening.reopened && !closed_on_purpose_) ++reconnects_;
    if (opening.tell) spdlog::info("bus {}: connected", bus_);
    closed_on_purpose_ = false;
    connected_at_ = clock::now();
    answers_.opened();
}

void tcp_link_state::closed_by_peer(clock::time_point now) {
    const bool idle_close = attempts_.answered();
    attempts_.broke(now);
    closed_on_purpose_ = idle_close;
}

void tcp_link_state::closing(bool was_open, bool on_purpose) {
    attempts_.closed();
    if (was_open) closed_on_purpose_ = on_purpose;
}

bool tcp_link_state::must_close_after(std::uint8_t unit, std::error_code error, clock::time_point now) {
    if (!error || is_exception(error)) attempts_.proven();
    if (!answers_.must_close(unit, error)) return false;
    if (answers_.half_open()) {
        // Its timeouts took long enough: reopened at once, no back-off.
        spdlog::warn("bus {}: {} requests in a row got no answer; reopening the connection", bus_,
                     answers_.timeouts_in_a_row());
    } else {
        attempts_.broke(now);  // closed by the peer: backs off unless it answered before
    }
    return true;
}

}  // namespace fieldbridge::modbus
