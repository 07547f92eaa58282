// rtu_link: Modbus RTU on a local serial line (RS485 or RS232). It is opened
// by the path the configuration names (a /dev/serial/by-id/... link
// survives the adapter re-enumerating) and reopened by it after the adapter
// went away, with the reopen back-off.
//
// It keeps the RTU frame discipline: a request starts only once the line
// has been silent for 3.5 characters (rtu_timing) since the last frame
// ended, where a frame of ours ends when tcdrain says its last byte left the
// UART and an answer ends when it has been received; and it drives RS485
// direction (RTS) around each frame it sends when configured to. Before a
// request, what the line carries is dropped, and after a unit failed to
// answer, its next request first waits for the late answer (late_answers).
// After a failed request the half frame left on the line is dropped; the
// line is reopened only when the device node failed.
//
// Thread-safety: one thread uses a link (libmodbus' RTS hook finds the link
// through a thread-local pointer).
#pragma once

#include <string>

#include "config/model.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/late_answers.hpp"
#include "drivers/modbus/modbus_context.hpp"
#include "drivers/modbus/open_attempts.hpp"
#include "drivers/modbus/serial_port_lock.hpp"

namespace fieldbridge::modbus {

class rtu_link final : public blocking_link {
public:
    rtu_link(std::string bus, config::rtu_link settings);
    ~rtu_link() override { close(); }

    std::error_code open(clock::time_point now) override;
    bool connected() const override { return ctx_.is_open(); }
    void close() override;
    // The line is shared by its devices: it stays open.
    void release() override {}
    std::uint64_t reconnects() const override { return reconnects_; }
    clock::time_point ready_at(std::chrono::milliseconds connect_pause) const override;
    std::error_code exchange(const request& r, reply& answer) override;

private:
    // RS485 direction and the frame-end hook on a freshly opened line; an
    // error message when the port cannot do what the configuration asks.
    std::string set_up_line();
    static void rts_hook(modbus_t* ctx, int on);
    void direction(bool on);

    // The line whose worker runs on this thread (libmodbus' RTS hook has no
    // user pointer; one thread owns one line).
    static thread_local rtu_link* current_line;

    std::string bus_;
    config::rtu_link settings_;
    serial_port_lock lock_;  // taken before ctx_ opens the port, released after it closed it
    modbus_context ctx_;
    open_attempts attempts_;
    std::uint64_t reconnects_ = 0;
    std::chrono::nanoseconds silence_;
    clock::time_point quiet_at_{};
    late_answers late_;
    bool drive_rts_ = false;
    bool rts_up_while_sending_ = true;
};

}  // namespace fieldbridge::modbus
