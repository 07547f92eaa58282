#include "drivers/modbus/modbus_context.hpp"

#include <modbus.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <span>
#include <cerrno>
#include <string>

#include "drivers/modbus/device_identification.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

std::error_code from_libmodbus_errno(int e) {
    // An exception answer: libmodbus sets errno to the base plus its code,
    // for every code below 12. Codes 0 and 9 are none the protocol defines:
    // the device answered all the same, with a well-framed exception, and
    // its answer reads as it does through the gateway's own framing (pdu.hpp)
    // over TCP.
    if (e >= MODBUS_ENOBASE && e <= MODBUS_ENOBASE + 11) {
        const int code = e - MODBUS_ENOBASE;
        if (code == 0 || code == 9) return make_error_code(modbus_errc::unknown_exception);
        return {code, modbus_category()};
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

namespace {

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

struct seconds_and_micros {
    std::uint32_t s;
    std::uint32_t us;
};

seconds_and_micros split(std::chrono::milliseconds t) {
    const auto ms = std::max<std::int64_t>(t.count(), 1);
    return {static_cast<std::uint32_t>(ms / 1000), static_cast<std::uint32_t>((ms % 1000) * 1000)};
}

}  // namespace

std::string modbus_context::open_rtu(const std::string& device, std::uint32_t baud, config::parity parity,
                                     unsigned data_bits, unsigned stop_bits) {
    close();
    ctx_ = modbus_new_rtu(device.c_str(), static_cast<int>(baud), parity_letter(parity), static_cast<int>(data_bits),
                          static_cast<int>(stop_bits));
    return opened(ctx_ != nullptr, "open the serial device");
}

std::string modbus_context::opened(bool ok, const char* what) {
    if (!ok) return std::string("cannot create a Modbus context: ") + modbus_strerror(errno);
    if (modbus_connect(ctx_) == 0) return {};
    std::string why = std::string("cannot ") + what + ": " + modbus_strerror(errno);
    close();
    return why;
}

void modbus_context::close() {
    if (ctx_ == nullptr) return;
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
}

int modbus_context::fd() const { return ctx_ != nullptr ? modbus_get_socket(ctx_) : -1; }

void modbus_context::flush() {
    if (ctx_ != nullptr) modbus_flush(ctx_);
}

std::size_t modbus_context::drain(std::chrono::steady_clock::time_point late_until, std::chrono::nanoseconds quiet) {
    return drain_line(fd(), late_until, quiet);
}

std::size_t drain_line(int line, std::chrono::steady_clock::time_point late_until, std::chrono::nanoseconds quiet) {
    using steady = std::chrono::steady_clock;
    if (line < 0) return 0;
    const auto give_up = std::max(steady::now(), late_until) + std::chrono::seconds{1};
    std::size_t dropped = 0;
    std::array<std::uint8_t, 256> buffer{};
    for (;;) {
        const auto now = steady::now();
        // Wait for the late answer until its time is up (what comes before
        // may be another frame, or the first piece of it), and once bytes
        // came, for the quiet that ends their frame.
        auto until = dropped == 0 ? late_until : std::max(late_until, now + quiet);
        until = std::min(until, give_up);
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(until - now, steady::duration::zero()));
        pollfd p{line, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0 || (p.revents & POLLIN) == 0) return dropped;
        const auto n = ::read(line, buffer.data(), buffer.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return dropped;
        dropped += static_cast<std::size_t>(n);
        if (steady::now() >= give_up) return dropped;
    }
}

std::error_code modbus_context::exchange(const request& r, reply& answer) {
    if (ctx_ == nullptr) return make_error_code(modbus_errc::connection_failed);
    modbus_set_slave(ctx_, r.unit);
    const auto t = split(r.timeout);
    modbus_set_response_timeout(ctx_, t.s, t.us);
    const auto b = split(r.byte_timeout);
    modbus_set_byte_timeout(ctx_, b.s, b.us);

    const int n = r.count;
    int expected = n;
    int rc = -1;
    switch (r.function) {
        case function_code::read_coils:
            answer.bits.resize(r.count);
            rc = modbus_read_bits(ctx_, r.address, n, answer.bits.data());
            break;
        case function_code::read_discrete_inputs:
            answer.bits.resize(r.count);
            rc = modbus_read_input_bits(ctx_, r.address, n, answer.bits.data());
            break;
        case function_code::read_holding_registers:
            answer.registers.resize(r.count);
            rc = modbus_read_registers(ctx_, r.address, n, answer.registers.data());
            break;
        case function_code::read_input_registers:
            answer.registers.resize(r.count);
            rc = modbus_read_input_registers(ctx_, r.address, n, answer.registers.data());
            break;
        case function_code::write_single_coil:
            expected = 1;
            if (r.values.size() != 1) return make_error_code(modbus_errc::wrong_register_count);
            rc = modbus_write_bit(ctx_, r.address, r.values[0] != 0 ? 1 : 0);
            break;
        case function_code::write_multiple_coils: {
            if (r.values.size() != r.count) return make_error_code(modbus_errc::wrong_register_count);
            std::vector<std::uint8_t> bits(r.values.size());
            std::transform(r.values.begin(), r.values.end(), bits.begin(),
                           [](std::uint16_t v) { return static_cast<std::uint8_t>(v != 0 ? 1 : 0); });
            rc = modbus_write_bits(ctx_, r.address, n, bits.data());
            break;
        }
        case function_code::write_single_register:
            expected = 1;
            if (r.values.size() != 1) return make_error_code(modbus_errc::wrong_register_count);
            rc = modbus_write_register(ctx_, r.address, r.values[0]);
            break;
        case function_code::write_multiple_registers:
            if (r.values.size() != r.count) return make_error_code(modbus_errc::wrong_register_count);
            rc = modbus_write_registers(ctx_, r.address, n, r.values.data());
            break;
        case function_code::mask_write_register:
            expected = 1;
            if (r.values.size() != 2) return make_error_code(modbus_errc::wrong_register_count);
            rc = modbus_mask_write_register(ctx_, r.address, r.values[0], r.values[1]);
            break;
        case function_code::read_device_identification:
            return exchange_identification(r, answer);
    }
    if (rc == expected) return {};
    // Answered, but not what was asked.
    if (rc >= 0) return make_error_code(modbus_errc::invalid_response);
    return from_libmodbus_errno(errno);
}

// The request goes out through libmodbus (CRC, RS485 direction and the
// frame-end hook as for any request); the answer is read off the
// descriptor until it is complete by its own content, the first byte
// within r.timeout and each next within r.byte_timeout.
std::error_code modbus_context::exchange_identification(const request& r, reply& answer) {
    const auto pdu = identification_request(r.category, static_cast<std::uint8_t>(r.address));
    const std::array<std::uint8_t, 5> adu{r.unit, pdu[0], pdu[1], pdu[2], pdu[3]};
    if (modbus_send_raw_request(ctx_, adu.data(), static_cast<int>(adu.size())) < 0) return from_libmodbus_errno(errno);
    const int fd = modbus_get_socket(ctx_);
    std::array<std::uint8_t, MODBUS_RTU_MAX_ADU_LENGTH> frame{};
    std::size_t have = 0;
    auto wait = r.timeout;
    for (;;) {
        const std::span<const std::uint8_t> got(frame.data(), have);
        const auto cut = cut_rtu_answer(got, r.unit);
        if (cut.state == extent_state::invalid) return make_error_code(modbus_errc::invalid_response);
        if (cut.state == extent_state::complete) {
            auto page = parse_identification(cut.pdu, r.category);
            if (!page) return page.error();
            answer.identification = std::move(*page);
            return {};
        }
        if (have == frame.size()) return make_error_code(modbus_errc::invalid_response);
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(wait.count(), 1)));
        if (ready == 0) return make_error_code(modbus_errc::timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            return make_error_code(modbus_errc::connection_failed);
        }
        const ssize_t n = ::read(fd, frame.data() + have, frame.size() - have);
        if (n == 0) return make_error_code(modbus_errc::connection_failed);  // the peer closed
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return make_error_code(modbus_errc::connection_failed);
        }
        have += static_cast<std::size_t>(n);
        wait = r.byte_timeout;
    }
}

}  // namespace fieldbridge::modbus
