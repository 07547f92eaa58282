// tcp_link: Modbus TCP to one host:port (MBAP framing, libmodbus' TCP
// backend). The connection is opened on first use and reopened after it
// broke, with the reopen back-off (open_attempts: a peer that accepts and
// closes at once is not reconnected in a loop). A half-open connection
// (requests in a row without any answer, from more than one unit or the
// only one: tcp_answers) is reopened; a unit that does not answer, or
// answers what does not fit, leaves the connection to the others. A
// connection the peer closed while idle is opened again quietly before the
// next request; a read whose connection turns out closed as it was sent is
// asked once more on a new one, a write never.
//
// Thread-safety: one thread uses a link.
#pragma once

#include <string>

#include "config/model.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_context.hpp"
#include "drivers/modbus/tcp_answers.hpp"
#include "drivers/modbus/tcp_link_state.hpp"

namespace fieldbridge::modbus {

class tcp_link final : public blocking_link {
public:
    tcp_link(std::string bus, config::tcp_link settings);
    ~tcp_link() override { close(); }

    std::error_code open(clock::time_point now) override;
    bool connected() const override { return ctx_.is_open(); }
    void close() override;
    void release() override;
    std::uint64_t reconnects() const override { return state_.reconnects(); }
    clock::time_point ready_at(std::chrono::milliseconds connect_pause) const override {
        return state_.ready_at(connect_pause);
    }
    std::error_code exchange(const request& r, reply& answer) override;

    static constexpr int half_open_after = tcp_answers::half_open_after;

private:
    void drop_closed_by_peer(clock::time_point now);

    tcp_link_state state_;
    config::tcp_link settings_;
    modbus_context ctx_;
};

}  // namespace fieldbridge::modbus
