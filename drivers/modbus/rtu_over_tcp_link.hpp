// rtu_over_tcp_link: RTU frames to devices behind a serial device server
// (converter) on a TCP connection. libmodbus' RTU backend talks to the pty
// of an rtu_over_tcp relay, which carries the bytes to and from the
// converter. The relay is made on first use and made again, with the reopen
// back-off and its first failure logged, after it could not be (a pty that
// cannot be had now may be had later: the link must not stay down until a
// restart). The link is up while the relay's connection is.
//
// A device behind the converter that does not answer is an RTU timeout as
// on a local line and leaves the connection alone for the others: only the
// half frame is dropped. The relay counts the connections it reopened.
//
// Thread-safety: one thread uses a link.
#pragma once

#include <memory>
#include <string>

#include "config/model.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/late_answers.hpp"
#include "drivers/modbus/modbus_context.hpp"
#include "drivers/modbus/open_attempts.hpp"
#include "drivers/modbus/rtu_over_tcp.hpp"

namespace fieldbridge::modbus {

class rtu_over_tcp_link final : public blocking_link {
public:
    rtu_over_tcp_link(std::string bus, config::tcp_link settings);
    ~rtu_over_tcp_link() override { close(); }

    std::error_code open(clock::time_point now) override;
    bool connected() const override { return ctx_.is_open() && relay_ != nullptr && relay_->connected(); }
    void close() override { ctx_.close(); }
    // The converter's connection carries every device behind it: it stays.
    void release() override {}
    std::uint64_t reconnects() const override { return relay_ != nullptr ? relay_->reconnects() : 0; }
    // The converter keeps the line's timing on its serial side.
    clock::time_point ready_at(std::chrono::milliseconds /*connect_pause*/) const override { return {}; }
    std::error_code exchange(const request& r, reply& answer) override;

private:
    bool relay_ready(clock::time_point now);

    std::string bus_;
    config::tcp_link settings_;
    std::unique_ptr<rtu_over_tcp> relay_;
    open_attempts relay_attempts_;
    bool relay_failed_before_ = false;
    modbus_context ctx_;
    late_answers late_;
    open_attempts attempts_;
};

}  // namespace fieldbridge::modbus
