#include "drivers/modbus/bus_worker.hpp"

#include <modbus.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "drivers/modbus/block_answer.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/open_attempts.hpp"
#include "drivers/modbus/poll_schedule.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/rtu_over_tcp.hpp"
#include "drivers/modbus/rtu_timing.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {
namespace {

using steady = std::chrono::steady_clock;

// errno after a failed libmodbus call → our error code.
std::error_code from_errno(int e) {
    if (e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + 11) {
        return {e - MODBUS_ENOBASE, modbus_category()};
    }
    switch (e) {
        case ETIMEDOUT:
            return make_error_code(modbus_errc::timeout);
        case EMBBADCRC:
        case EMBBADDATA:
        case EMBMDATA:
        case EMBBADSLAVE:
            return make_error_code(modbus_errc::invalid_response);
        case EMBBADEXC:
            return make_error_code(modbus_errc::unknown_exception);
        default:
            return make_error_code(modbus_errc::connection_failed);
    }
}

bool link_broken(std::error_code ec) { return ec == make_error_code(modbus_errc::connection_failed); }

char parity_letter(config::parity p) {
    switch (p) {
        case config::parity::even:
            return 'E';
        case config::parity::odd:
            return 'O';
        case config::parity::none:
            break;
    }
    return 'N';
}

void set_timeout(modbus_t* ctx, std::chrono::milliseconds t) {
    const auto ms = std::max<std::int64_t>(t.count(), 1);
    modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(ms / 1000),
                                static_cast<std::uint32_t>((ms % 1000) * 1000));
}

// The next requests go to device d, with its response timeout and its
// longest silence between two bytes of one answer.
void address(modbus_t* ctx, const config::device& d) {
    modbus_set_slave(ctx, d.unit_id);
    set_timeout(ctx, d.timeout);
    const auto ms = std::max<std::int64_t>(d.byte_timeout.count(), 1);
    modbus_set_byte_timeout(ctx, static_cast<std::uint32_t>(ms / 1000), static_cast<std::uint32_t>((ms % 1000) * 1000));
}

}  // namespace

// The libmodbus context of the bus: opened lazily, reopened after the link
// broke, with a back-off between failed attempts so that a dead host or an
// unplugged adapter does not spin. A serial line is opened by the path the
// configuration names (a /dev/serial/by-id/... link survives re-enumeration)
// and reopened by it after the adapter went away.
//
// On a serial line it also keeps the RTU frame discipline: every request
// waits until the line has been silent for 3.5 characters since the last
// frame ended, where a frame of ours ends when tcdrain says its last byte
// left the UART and an answer ends when it has been received; and it drives
// RS485 direction (RTS) around each frame it sends when configured to.
class bus_worker::connection {
public:
    explicit connection(const config::bus& bus) : bus_(bus) {
        if (const auto* r = std::get_if<config::rtu_link>(&bus_.link)) silence_ = frame_silence(*r);
        const auto* tcp = std::get_if<config::tcp_link>(&bus_.link);
        converter_ = tcp && tcp->framing == config::tcp_framing::rtu;
    }
    ~connection() { close(); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // RTU framing: on a serial line, or through a converter over TCP.
    bool rtu() const { return serial() || converter_; }
    // A local serial line (the frame timing and direction are ours to keep).
    bool serial() const { return std::holds_alternative<config::rtu_link>(bus_.link); }

    // The open context, or nullptr (and why) while the link cannot be opened.
    modbus_t* get(counter_cells& counters, std::error_code& why) {
        if (converter_) {
            // Behind a converter the link is the relay's TCP connection.
            if (!relay_ready() || !relay_->connected()) {
                why = make_error_code(modbus_errc::connection_failed);
                return nullptr;
            }
            const auto reconnects = relay_->reconnects();
            if (reconnects != relay_reconnects_) {
                counters.reconnects.fetch_add(reconnects - relay_reconnects_, std::memory_order_relaxed);
                relay_reconnects_ = reconnects;
            }
        }
        if (ctx_) return ctx_;
        const auto now = steady::now();
        if (!attempts_.due(now)) {
            why = make_error_code(modbus_errc::connection_failed);
            return nullptr;
        }
        if (converter_) {
            ctx_ = modbus_new_rtu(relay_->device().c_str(), 115200, 'N', 8, 1);  // a pty: the rate is not used
        } else if (const auto* tcp = std::get_if<config::tcp_link>(&bus_.link)) {
            ctx_ = modbus_new_tcp_pi(tcp->host.c_str(), std::to_string(tcp->port).c_str());
        } else {
            const auto& r = std::get<config::rtu_link>(bus_.link);
            ctx_ = modbus_new_rtu(r.device.c_str(), static_cast<int>(r.baud), parity_letter(r.parity), r.data_bits,
                                  r.stop_bits);
        }
        if (ctx_ == nullptr) {
            why = make_error_code(modbus_errc::connection_failed);
            spdlog::error("bus {}: cannot create a Modbus context: {}", bus_.name, modbus_strerror(errno));
            attempts_.back_off(now);
            return nullptr;
        }
        set_timeout(ctx_, std::chrono::milliseconds(1000));  // connect timeout for TCP
        std::string failure;
        if (modbus_connect(ctx_) != 0) {
            failure = std::string("cannot ") + (serial() ? "open the serial device: " : "connect: ") + modbus_strerror(errno);
        } else if (serial()) {
            failure = set_up_line();
        }
        if (!failure.empty()) {
            if (attempts_.failed(now)) spdlog::warn("bus {}: {}; retrying", bus_.name, failure);
            modbus_close(ctx_);
            modbus_free(ctx_);
            ctx_ = nullptr;
            why = make_error_code(modbus_errc::connection_failed);
            return nullptr;
        }
        const auto opening = attempts_.opened();
        if (opening.reopened && !closed_on_purpose_ && !converter_) counters.reconnects.fetch_add(1, std::memory_order_relaxed);
        if (opening.tell) spdlog::info("bus {}: connected", bus_.name);
        closed_on_purpose_ = false;
        connected_at_ = steady::now();
        timeouts_in_a_row_ = 0;
        return ctx_;
    }

    // on_purpose: a close the device asked for (close_after_poll), not a
    // broken link; reopening it is not counted as a reconnect.
    void close(bool on_purpose = false) {
        if (ctx_ == nullptr) return;
        modbus_close(ctx_);
        modbus_free(ctx_);
        ctx_ = nullptr;
        closed_on_purpose_ = on_purpose;
        if (current_line == this) current_line = nullptr;
    }

    steady::time_point connected_at() const { return connected_at_; }

    // A request's outcome. Over TCP, a connection on which three requests in
    // a row got no answer at all is taken for half-open (a peer or a NAT
    // that forgot it: the socket looks up, nothing comes back) and reopened.
    void answered(std::error_code error) {
        if (error != make_error_code(modbus_errc::timeout)) {
            timeouts_in_a_row_ = 0;
            return;
        }
        if (rtu() || ++timeouts_in_a_row_ < 3) return;
        spdlog::warn("bus {}: {} requests in a row got no answer; reopening the connection", bus_.name,
                     timeouts_in_a_row_);
        close();
    }

    // Before a request: wait out the silence that must follow the last frame.
    void await_silence() const {
        if (!serial()) return;
        if (steady::now() < quiet_at_) std::this_thread::sleep_until(quiet_at_);
    }
    // After a request returned: the answer (or the request, when none came)
    // was the last frame on the line.
    void frame_ended() {
        if (serial()) quiet_at_ = std::max(quiet_at_, steady::now() + silence_);
    }

private:
    // The converter's relay, made on first use and made again (with the
    // reopen back-off, the first failure logged) after it could not be: a
    // pty that cannot be had now (descriptors or ptys used up) may be had
    // later, and the link must not stay down until a restart.
    bool relay_ready() {
        if (relay_ != nullptr) return true;
        const auto now = steady::now();
        if (!relay_attempts_.due(now)) return false;
        const auto& tcp = std::get<config::tcp_link>(bus_.link);
        try {
            relay_ = std::make_unique<rtu_over_tcp>(bus_.name, tcp.host, tcp.port);
        } catch (const std::exception& e) {
            if (relay_attempts_.failed(now)) spdlog::warn("{}; retrying", e.what());
            relay_failed_before_ = true;
            return false;
        }
        if (relay_attempts_.opened().tell && relay_failed_before_) {
            spdlog::info("bus {}: relay for RTU over TCP set up", bus_.name);
        }
        relay_failed_before_ = false;
        return true;
    }

    // RS485 direction and frame timing on a freshly opened serial line; an
    // error message when the port cannot do what the configuration asks.
    std::string set_up_line() {
        const auto& r = std::get<config::rtu_link>(bus_.link);
        const int fd = modbus_get_socket(ctx_);
        if (r.rs485 == config::rs485_mode::kernel && modbus_rtu_set_serial_mode(ctx_, MODBUS_RTU_RS485) != 0) {
            return std::string("cannot switch the port to kernel RS485 mode (TIOCSRS485): ") + modbus_strerror(errno) +
                   "; use rs485: none, rts_up or rts_down";
        }
        drive_rts_ = r.rs485 == config::rs485_mode::rts_up || r.rs485 == config::rs485_mode::rts_down;
        if (drive_rts_) {
            int status = 0;
            if (ioctl(fd, TIOCMGET, &status) != 0) {
                return std::string("cannot drive RTS on this port: ") + std::strerror(errno) +
                       "; use rs485: none or kernel";
            }
        }
        // libmodbus calls the RTS hook before and after it writes a frame;
        // the hook is also where the end of the frame is taken (tcdrain).
        // Without RTS control the delay around it is zero.
        const int char_us = static_cast<int>(
            std::chrono::duration_cast<std::chrono::microseconds>(wire_time(1, r)).count());
        current_line = this;
        rts_up_while_sending_ = r.rs485 != config::rs485_mode::rts_down;
        if (modbus_rtu_set_custom_rts(ctx_, &connection::rts_hook) != 0 ||
            modbus_rtu_set_rts_delay(ctx_, drive_rts_ ? static_cast<int>(r.rts_delay_us.value_or(char_us)) : 0) != 0 ||
            modbus_rtu_set_rts(ctx_, rts_up_while_sending_ ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN) != 0) {
            return std::string("cannot set up RTS handling: ") + modbus_strerror(errno);
        }
        return {};
    }

    static void rts_hook(modbus_t* ctx, int on) {
        if (current_line != nullptr && current_line->ctx_ == ctx) current_line->direction(on != 0);
    }

    void direction(bool on) {
        const bool sending = rts_up_while_sending_ ? on : !on;
        const int fd = modbus_get_socket(ctx_);
        if (!sending) {
            tcdrain(fd);  // the last byte has left the UART
            quiet_at_ = std::max(quiet_at_, steady::now() + silence_);
        }
        if (!drive_rts_) return;
        int status = 0;
        if (ioctl(fd, TIOCMGET, &status) != 0) return;
        status = on ? (status | TIOCM_RTS) : (status & ~TIOCM_RTS);
        ioctl(fd, TIOCMSET, &status);
    }

    // The line whose worker runs on this thread (libmodbus' RTS hook has no
    // user pointer; one worker thread owns one line).
    static thread_local connection* current_line;

    const config::bus& bus_;
    modbus_t* ctx_ = nullptr;
    open_attempts attempts_;
    std::chrono::nanoseconds silence_{0};
    steady::time_point quiet_at_{};
    bool drive_rts_ = false;
    bool rts_up_while_sending_ = true;
    bool closed_on_purpose_ = false;
    steady::time_point connected_at_{};
    int timeouts_in_a_row_ = 0;
    std::unique_ptr<rtu_over_tcp> relay_;
    open_attempts relay_attempts_;
    bool relay_failed_before_ = false;
    bool converter_ = false;  // RTU frames through a serial device server (relay_ carries them)
    std::uint64_t relay_reconnects_ = 0;
};

thread_local bus_worker::connection* bus_worker::connection::current_line = nullptr;

bus_worker::bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll)
    : bus_(std::move(bus)),
      devices_(std::move(devices)),
      on_result_(std::move(on_result)),
      poll_(poll),
      device_counters_(std::make_unique<device_cells[]>(devices_.size())),
      refused_(devices_.size()) {}

void bus_worker::remember_refused(std::size_t device, std::vector<refused_read> reads) {
    if (device < refused_.size()) refused_[device] = std::move(reads);
}

bus_worker::~bus_worker() { stop(); }

void bus_worker::start() {
    if (thread_.joinable() || devices_.empty()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
    }
    {
        std::lock_guard lock(deliver_mutex_);
        results_off_ = false;
        handlers_off_ = false;
    }
    started_us_ = std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count();
    thread_ = std::thread([this] { run(); });
}

void bus_worker::request_stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    std::lock_guard lock(deliver_mutex_);
    results_off_ = true;
}

void bus_worker::silence() {
    std::lock_guard lock(deliver_mutex_);
    results_off_ = true;
    handlers_off_ = true;
}

void bus_worker::stop() {
    request_stop();
    if (thread_.joinable()) thread_.join();
}

bool bus_worker::hand_over(poll_result r) {
    std::lock_guard lock(deliver_mutex_);
    if (results_off_) return false;
    on_result_(std::move(r));
    return true;
}

void bus_worker::finish(const point_handler& done, point_result r) {
    std::lock_guard lock(deliver_mutex_);
    if (!handlers_off_) done(std::move(r));
}

bus_counters bus_worker::counters() const {
    bus_counters c;
    c.polls = counters_.polls.load(std::memory_order_relaxed);
    c.requests = counters_.requests.load(std::memory_order_relaxed);
    c.failures = counters_.failures.load(std::memory_order_relaxed);
    c.timeouts = counters_.timeouts.load(std::memory_order_relaxed);
    c.exceptions = counters_.exceptions.load(std::memory_order_relaxed);
    c.reconnects = counters_.reconnects.load(std::memory_order_relaxed);
    c.busy = std::chrono::microseconds(counters_.busy_us.load(std::memory_order_relaxed));
    if (const auto started = started_us_.load(); started != 0) {
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch());
        c.running = now - std::chrono::microseconds(started);
    }
    return c;
}

device_counters bus_worker::counters(std::size_t device) const {
    device_counters c;
    if (device >= devices_.size()) return c;
    const auto& d = device_counters_[device];
    c.polls = d.polls.load(std::memory_order_relaxed);
    c.requests = d.requests.load(std::memory_order_relaxed);
    c.retries = d.retries.load(std::memory_order_relaxed);
    c.timeouts = d.timeouts.load(std::memory_order_relaxed);
    c.exceptions = d.exceptions.load(std::memory_order_relaxed);
    c.other_errors = d.other_errors.load(std::memory_order_relaxed);
    c.missed_polls = d.missed_polls.load(std::memory_order_relaxed);
    c.last_poll_duration = std::chrono::microseconds(d.last_poll_us.load(std::memory_order_relaxed));
    if (const auto ms = d.last_success_ms.load(std::memory_order_relaxed); ms != 0) {
        c.last_success = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
    }
    return c;
}

void bus_worker::account(std::size_t device, steady::time_point started, std::error_code error) {
    const auto now = steady::now();
    last_request_end_ = now;
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    counters_.busy_us.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(now - started).count(),
                                std::memory_order_relaxed);
    auto& d = device_counters_[device];
    d.requests.fetch_add(1, std::memory_order_relaxed);
    if (!error) {
        const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        d.last_success_ms.store(wall.count(), std::memory_order_relaxed);
        return;
    }
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    if (error == make_error_code(modbus_errc::timeout)) {
        counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
        d.timeouts.fetch_add(1, std::memory_order_relaxed);
    } else if (is_exception(error)) {
        counters_.exceptions.fetch_add(1, std::memory_order_relaxed);
        d.exceptions.fetch_add(1, std::memory_order_relaxed);
    } else {
        d.other_errors.fetch_add(1, std::memory_order_relaxed);
    }
}

bool bus_worker::stop_requested() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

bool bus_worker::sleep_until(steady::time_point until) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, until, [this] { return stopping_ || !writes_.empty(); });
    return !stopping_;
}

// The device's own pauses: request_delay since the last request on the bus
// when it was to the same device, switch_delay when it was to another, and
// connect_pause since the connection opened.
bool bus_worker::pace(const config::device& d, const connection& link) {
    const bool same = last_unit_ == d.unit_id;
    const auto pause = same ? d.request_delay : d.switch_delay;
    last_unit_ = d.unit_id;
    auto until = pause.count() > 0 ? last_request_end_ + pause : steady::time_point{};
    if (d.connect_pause.count() > 0 && !link.rtu()) until = std::max(until, link.connected_at() + d.connect_pause);
    if (steady::now() >= until) return true;
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, until, [this] { return stopping_; });
    return !stopping_;
}

void bus_worker::write(std::size_t device, std::size_t point, value v, point_handler done) {
    queue(pending_request{device, point, std::move(v), std::move(done)});
}

void bus_worker::read(std::size_t device, std::size_t point, point_handler done) {
    queue(pending_request{device, point, std::nullopt, std::move(done)});
}

void bus_worker::queue(pending_request r) {
    if (r.device >= devices_.size() || r.point >= devices_[r.device].points.size()) {
        r.done(point_result{make_error_code(modbus_errc::invalid_point), {}});
        return;
    }
    {
        std::lock_guard lock(mutex_);
        writes_.push_back(std::move(r));
    }
    wake_.notify_all();
}

void bus_worker::run_writes(connection& link) {
    while (true) {
        pending_request w;
        {
            std::lock_guard lock(mutex_);
            if (writes_.empty() || stopping_) return;
            w = std::move(writes_.front());
            writes_.pop_front();
        }
        finish(w.done, perform(link, w));
    }
}

namespace {

// Reads one point's registers (or bit) with the function code of its kind;
// the number of registers or bits read, or -1 (errno set).
int read_point(modbus_t* ctx, const config::point& p, std::vector<std::uint16_t>& words) {
    const auto n = static_cast<int>(modbus::register_count(p));
    std::uint8_t bit = 0;
    int rc = -1;
    switch (p.kind) {
        case config::register_kind::coil:
            rc = modbus_read_bits(ctx, p.address, 1, &bit);
            words = {static_cast<std::uint16_t>(bit ? 1 : 0)};
            return rc == 1 ? 1 : -1;
        case config::register_kind::discrete_input:
            rc = modbus_read_input_bits(ctx, p.address, 1, &bit);
            words = {static_cast<std::uint16_t>(bit ? 1 : 0)};
            return rc == 1 ? 1 : -1;
        case config::register_kind::holding_register:
            words.resize(static_cast<std::size_t>(n));
            rc = modbus_read_registers(ctx, p.address, n, words.data());
            break;
        case config::register_kind::input_register:
            words.resize(static_cast<std::size_t>(n));
            rc = modbus_read_input_registers(ctx, p.address, n, words.data());
            break;
    }
    if (rc >= 0 && rc != n) {
        errno = EMBBADDATA;
        return -1;
    }
    return rc;
}

}  // namespace

template <class Call>
std::error_code bus_worker::exchange(connection& link, std::size_t device, Call&& call) {
    link.await_silence();
    const auto started = steady::now();
    const bool ok = call();
    const int saved_errno = errno;
    link.frame_ended();
    const auto error = ok ? std::error_code{} : from_errno(saved_errno);
    account(device, started, error);
    link.answered(error);
    return error;
}

point_result bus_worker::perform(connection& link, pending_request& w) {
    const auto& d = devices_[w.device];
    const auto& p = d.points[w.point];
    std::error_code error;
    modbus_t* ctx = link.get(counters_, error);
    if (ctx == nullptr) return point_result{error, {}};
    if (!pace(d, link)) return point_result{make_error_code(modbus_errc::connection_failed), {}};
    address(ctx, d);
    // One request: true when answered, else the failure is kept.
    std::error_code failure;
    const auto request = [&](auto&& call) {
        failure = exchange(link, w.device, call);
        if (failure && link_broken(failure)) link.close();
        return !failure;
    };
    if (w.v) {
        const bool multiple_only = d.write_function == config::write_function::fc16;
        if (p.kind == config::register_kind::coil) {
            auto words = encode(p, *w.v);
            if (!words) return point_result{words.error(), {}};
            const std::uint8_t bit = words->at(0) ? 1 : 0;
            // FC15 for devices that take only the "multiple" write functions.
            if (!request([&] {
                    return multiple_only ? modbus_write_bits(ctx, p.address, 1, &bit) == 1
                                         : modbus_write_bit(ctx, p.address, bit) == 1;
                })) {
                return point_result{failure, {}};
            }
        } else if (p.kind == config::register_kind::holding_register && p.bit && d.mask_write) {
            // FC22: the device changes the one bit itself, atomically.
            auto words = encode(p, *w.v, 0);
            if (!words) return point_result{words.error(), {}};
            const auto mask = static_cast<std::uint16_t>(1u << static_cast<unsigned>(*p.bit));
            const auto and_mask = static_cast<std::uint16_t>(~mask);
            const auto or_mask = static_cast<std::uint16_t>(words->at(0) & mask);
            if (!request([&] { return modbus_mask_write_register(ctx, p.address, and_mask, or_mask) == 1; })) {
                return point_result{failure, {}};
            }
        } else if (p.kind == config::register_kind::holding_register) {
            std::uint16_t current = 0;
            if (p.bit && !request([&] { return modbus_read_registers(ctx, p.address, 1, &current) == 1; })) {
                return point_result{failure, {}};
            }
            auto words = encode(p, *w.v, current);
            if (!words) return point_result{words.error(), {}};
            const bool single = words->size() == 1 && d.write_function == config::write_function::automatic;
            const auto n = static_cast<int>(words->size());
            if (!request([&] {
                    return single ? modbus_write_register(ctx, p.address, words->at(0)) == 1
                                  : modbus_write_registers(ctx, p.address, n, words->data()) == n;
                })) {
                return point_result{failure, {}};
            }
        } else {
            return point_result{make_error_code(modbus_errc::illegal_function), {}};
        }
    }
    // Read (back) what the device now holds.
    point_result r;
    if (!request([&] { return read_point(ctx, p, r.readback) >= 0; })) return point_result{failure, {}};
    return r;
}

void bus_worker::run() {
    struct device_plan {
        std::vector<read_request> reads;
        std::vector<std::size_t> unreadable;  // points no request can address
    };
    std::vector<device_plan> plans;
    std::vector<std::chrono::milliseconds> intervals;
    for (std::size_t di = 0; di < devices_.size(); ++di) {
        const auto& d = devices_[di];
        device_plan plan;
        plan.reads = plan_reads(d.points, limits_of(d));
        apply_refusals(plan.reads, refused_[di], d.points);
        std::vector<bool> covered(d.points.size(), false);
        for (const auto& r : plan.reads) {
            for (const auto i : r.points) covered[i] = true;
        }
        for (std::size_t i = 0; i < covered.size(); ++i) {
            if (!covered[i]) plan.unreadable.push_back(i);
        }
        plans.push_back(std::move(plan));
        intervals.push_back(d.poll_interval);
    }

    connection link(bus_);
    // On a serial line the 3.5-character silence is a sleep of 1.75 ms or
    // so: end it on time rather than up to the default 50 us timer slack late.
    if (link.serial()) prctl(PR_SET_TIMERSLACK, 1UL);
    poll_schedule schedule(intervals, steady::now());
    std::vector<device_health> health(devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) health[i].offline_after = devices_[i].offline_after;
    std::vector<bool> backed_off(devices_.size(), false);
    std::vector<std::uint16_t> registers(MODBUS_MAX_READ_REGISTERS);
    std::vector<std::uint8_t> bits(MODBUS_MAX_READ_BITS);

    while (true) {
        run_writes(link);  // commands go before polls
        if (!poll_) {
            if (!sleep_until(steady::now() + std::chrono::hours(1))) break;
            continue;
        }
        const auto due = schedule.next();
        if (steady::now() < due.at) {
            if (!sleep_until(due.at)) break;
            continue;  // woken by a write, or the poll is due: look again
        }
        const auto& device = devices_[due.device];
        auto& plan = plans[due.device];
        const auto started = steady::now();

        poll_result result;
        result.device = device.name;
        result.samples.reserve(device.points.size());
        for (const auto i : plan.unreadable) {
            result.samples.push_back(sample{i, {}, quality{false, make_error_code(modbus_errc::not_readable)}});
        }

        for (std::size_t ri = 0; ri < plan.reads.size(); ++ri) {
            const auto read = plan.reads[ri];
            run_writes(link);  // a command does not wait for a long poll to finish
            std::error_code error;
            for (int attempt = 0; attempt <= std::max(device.retries, 0); ++attempt) {
                error.clear();
                modbus_t* ctx = link.get(counters_, error);
                if (ctx == nullptr) break;  // the link is down: no point in retrying now
                if (!pace(device, link)) break;
                address(ctx, device);
                if (attempt > 0) device_counters_[due.device].retries.fetch_add(1, std::memory_order_relaxed);
                error = exchange(link, due.device, [&] {
                    int rc = -1;
                    switch (read.kind) {
                        case config::register_kind::coil:
                            rc = modbus_read_bits(ctx, read.start, read.count, bits.data());
                            break;
                        case config::register_kind::discrete_input:
                            rc = modbus_read_input_bits(ctx, read.start, read.count, bits.data());
                            break;
                        case config::register_kind::holding_register:
                            rc = modbus_read_registers(ctx, read.start, read.count, registers.data());
                            break;
                        case config::register_kind::input_register:
                            rc = modbus_read_input_registers(ctx, read.start, read.count, registers.data());
                            break;
                    }
                    if (rc >= 0 && rc != read.count) errno = EMBBADDATA;  // answered, but not what was asked
                    return rc == read.count;
                });
                if (!error) break;
                if (is_exception(error)) {
                    // Server busy (6) is worth asking again after a wait; any
                    // other exception would only be repeated.
                    if (error != make_error_code(modbus_errc::server_device_busy)) break;
                    if (!sleep_until(steady::now() + device.busy_retry_delay)) break;
                    continue;
                }
                if (link_broken(error) || (!link.rtu() && error == make_error_code(modbus_errc::invalid_response))) {
                    // Reopen: on TCP a confused stream (a late answer to a
                    // timed-out request) is not worth untangling; on RTU the
                    // adapter may have gone away.
                    link.close();
                } else if (link.rtu()) {
                    modbus_flush(ctx);  // drop whatever half frame is left on the line
                }
                if (stop_requested()) break;
            }
            if (stop_requested()) break;  // the poll is abandoned, not reported
            if (error == make_error_code(modbus_errc::illegal_data_address)) {
                // A merged read that spans registers the device does not
                // have: read its parts instead, now and from now on.
                auto parts = split_request(read, device.points);
                if (!parts.empty()) {
                    spdlog::warn("bus {}: device {} refused the read of {} register(s) at {} (exception 2); reading "
                                 "it in {} part(s) from now on",
                                 bus_.name, device.name, read.count, read.start, parts.size());
                    result.refused.push_back({read.kind, read.start, read.count});
                    plan.reads.erase(plan.reads.begin() + static_cast<std::ptrdiff_t>(ri));
                    plan.reads.insert(plan.reads.begin() + static_cast<std::ptrdiff_t>(ri), parts.begin(), parts.end());
                    --ri;
                    continue;
                }
            }
            for (const auto i : read.points) {
                sample s;
                s.point = i;
                if (error) {
                    s.quality = quality{false, error};
                } else {
                    const auto& p = device.points[i];
                    const bool bit_read =
                        read.kind == config::register_kind::coil || read.kind == config::register_kind::discrete_input;
                    auto words = bit_read ? point_bit(read, p, std::span(bits.data(), read.count))
                                          : point_registers(read, p, std::span(registers.data(), read.count));
                    if (words) {
                        s.words = std::move(*words);
                    } else {
                        s.quality = quality{false, words.error()};
                    }
                }
                result.samples.push_back(std::move(s));
            }
        }
        std::sort(result.samples.begin(), result.samples.end(),
                  [](const sample& a, const sample& b) { return a.point < b.point; });
        const auto ended = steady::now();
        result.time = std::chrono::system_clock::now();
        result.duration = std::chrono::duration_cast<std::chrono::microseconds>(ended - started);
        counters_.polls.fetch_add(1, std::memory_order_relaxed);
        device_counters_[due.device].polls.fetch_add(1, std::memory_order_relaxed);
        device_counters_[due.device].last_poll_us.store(result.duration.count(), std::memory_order_relaxed);
        // An offline device (device_health) is polled at
        // offline_poll_interval until it answers, so that its timeouts do not
        // eat the line's time for the others.
        health[due.device].record(result);
        const bool back_off = health[due.device].state() == device_state::offline &&
                              device.offline_poll_interval > device.poll_interval;
        if (back_off != backed_off[due.device]) {
            backed_off[due.device] = back_off;
            schedule.set_interval(due.device, back_off ? device.offline_poll_interval : device.poll_interval);
            if (back_off) {
                spdlog::warn("bus {}: device {} is offline; polling it every {} ms until it answers", bus_.name,
                             device.name, device.offline_poll_interval.count());
            } else {
                spdlog::info("bus {}: device {} answers again", bus_.name, device.name);
            }
        }
        schedule.completed(due.device, ended);
        device_counters_[due.device].missed_polls.store(schedule.missed(due.device), std::memory_order_relaxed);
        if (device.close_after_poll && !link.rtu()) link.close(true);
        if (!hand_over(std::move(result))) break;
    }
    link.close();
}

}  // namespace fieldbridge::modbus
