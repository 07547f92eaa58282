#include "drivers/modbus/rtu_link.hpp"

#include <modbus.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/rtu_timing.hpp"

namespace fieldbridge::modbus {

thread_local rtu_link* rtu_link::current_line = nullptr;

rtu_link::rtu_link(std::string bus, config::rtu_link settings)
    : bus_(std::move(bus)), settings_(std::move(settings)), silence_(frame_silence(settings_)) {}

std::error_code rtu_link::open(clock::time_point now) {
    if (ctx_.is_open()) return {};
    if (!attempts_.due(now)) return make_error_code(modbus_errc::connection_failed);
    // The 3.5-character silence is a sleep of 1.75 ms or so: end it on time
    // rather than up to the default 50 us timer slack late.
    prctl(PR_SET_TIMERSLACK, 1UL);
    // Locked before libmodbus opens and configures the port: a bus refused
    // here never touches the settings of the line another one has.
    auto failure = lock_.take(settings_.device);
    if (failure.empty()) {
        failure = ctx_.open_rtu(settings_.device, settings_.baud, settings_.parity, settings_.data_bits,
                                settings_.stop_bits);
    }
    if (failure.empty()) failure = set_up_line();
    if (!failure.empty()) {
        close();
        if (attempts_.failed(now)) spdlog::warn("bus {}: {}; retrying", bus_, failure);
        return make_error_code(modbus_errc::connection_failed);
    }
    // A local device that opened is as good as it gets: no peer to prove it.
    const auto opening = attempts_.opened(now);
    attempts_.proven();
    if (opening.reopened) ++reconnects_;
    if (opening.tell) spdlog::info("bus {}: connected", bus_);
    return {};
}

void rtu_link::close() {
    if (ctx_.is_open()) {
        ctx_.close();
        if (current_line == this) current_line = nullptr;
    }
    lock_.release();  // once the line is closed (libmodbus puts its old settings back)
}

rtu_link::clock::time_point rtu_link::ready_at(std::chrono::milliseconds /*connect_pause: TCP only*/) const {
    return quiet_at_;
}

std::error_code rtu_link::exchange(const request& r, reply& answer) {
    // Never break the silence, also for a caller that did not wait for ready_at().
    if (clock::now() < quiet_at_) std::this_thread::sleep_until(quiet_at_);
    // Whatever comes before the request goes out is not its answer: a late
    // answer (late_answers) or another master's frame. What came is
    // dropped, and then the line must have been quiet for the frame silence.
    const auto dropped = ctx_.drain(late_.wait_before(r), silence_);
    if (dropped > 0) {
        spdlog::debug("bus {}: dropped {} bytes that came before the request to unit {}", bus_, dropped, r.unit);
    }
    late_.waited(dropped, clock::now());
    const auto sent = clock::now();
    const auto error = ctx_.exchange(r, answer);
    // The answer (or our request, when none came) was the last frame on the line.
    quiet_at_ = std::max(quiet_at_, clock::now() + silence_);
    late_.exchanged(r, error, sent, clock::now());
    if (!error || is_exception(error)) return error;
    if (error == make_error_code(modbus_errc::connection_failed)) {
        close();  // the adapter may have gone away: reopen by its name
    } else {
        ctx_.flush();  // drop whatever half frame is left on the line
    }
    return error;
}

std::string rtu_link::set_up_line() {
    if (settings_.rs485 == config::rs485_mode::kernel && modbus_rtu_set_serial_mode(ctx_.get(), MODBUS_RTU_RS485) != 0) {
        return std::string("cannot switch the port to kernel RS485 mode (TIOCSRS485): ") + modbus_strerror(errno) +
               "; use rs485: none, rts_up or rts_down";
    }
    drive_rts_ = settings_.rs485 == config::rs485_mode::rts_up || settings_.rs485 == config::rs485_mode::rts_down;
    if (drive_rts_) {
        int status = 0;
        if (ioctl(ctx_.fd(), TIOCMGET, &status) != 0) {
            return std::string("cannot drive RTS on this port: ") + std::strerror(errno) + "; use rs485: none or kernel";
        }
    }
    // libmodbus calls the RTS hook before and after it writes a frame; the
    // hook is also where the end of the frame is taken (tcdrain). Without
    // RTS control the delay around it is zero.
    const int char_us =
        static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(wire_time(1, settings_)).count());
    current_line = this;
    rts_up_while_sending_ = settings_.rs485 != config::rs485_mode::rts_down;
    if (modbus_rtu_set_custom_rts(ctx_.get(), &rtu_link::rts_hook) != 0 ||
        modbus_rtu_set_rts_delay(ctx_.get(), drive_rts_ ? static_cast<int>(settings_.rts_delay_us.value_or(char_us)) : 0) !=
            0 ||
        modbus_rtu_set_rts(ctx_.get(), rts_up_while_sending_ ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN) != 0) {
        return std::string("cannot set up RTS handling: ") + modbus_strerror(errno);
    }
    return {};
}

void rtu_link::rts_hook(modbus_t* ctx, int on) {
    if (current_line != nullptr && current_line->ctx_.get() == ctx) current_line->direction(on != 0);
}

void rtu_link::direction(bool on) {
    const bool sending = rts_up_while_sending_ ? on : !on;
    const int fd = ctx_.fd();
    if (!sending) {
        tcdrain(fd);  // the last byte has left the UART
        quiet_at_ = std::max(quiet_at_, clock::now() + silence_);
    }
    if (!drive_rts_) return;
    int status = 0;
    if (ioctl(fd, TIOCMGET, &status) != 0) return;
    status = on ? (status | TIOCM_RTS) : (status & ~TIOCM_RTS);
    ioctl(fd, TIOCMSET, &status);
}

}  // namespace fieldbridge::modbus
