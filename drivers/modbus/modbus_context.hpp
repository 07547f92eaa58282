// modbus_context: the libmodbus context a link backend talks through, owned
// (freed with it) and driven with plain requests: what the backends share.
// libmodbus stays behind this header's forward declaration.
//
// Thread-safety: one thread uses a context.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include "config/model.hpp"
#include "drivers/modbus/request.hpp"

// libmodbus' own declaration (modbus.h): repeated, not included.
typedef struct _modbus modbus_t;  // NOLINT(modernize-use-using): the C declaration as libmodbus has it

namespace fieldbridge::modbus {

class modbus_context {
public:
    modbus_context() = default;
    ~modbus_context() { close(); }
    modbus_context(const modbus_context&) = delete;
    modbus_context& operator=(const modbus_context&) = delete;

    // Opens a serial device for RTU frames with these line settings.
    // Empty when it is open, else why not, in words.
    std::string open_rtu(const std::string& device, std::uint32_t baud, config::parity parity, unsigned data_bits,
                         unsigned stop_bits);
    void close();
    bool is_open() const { return ctx_ != nullptr; }
    modbus_t* get() const { return ctx_; }
    // The socket or serial descriptor of the open context.
    int fd() const;

    // One request and its answer.
    std::error_code exchange(const request& r, reply& answer);
    // Drops whatever is left unread on the line (a half frame after a timeout).
    void flush();
    // Reads and drops what the line carries: what is there already, what
    // arrives until `late_until` (a late answer is awaited that long), and
    // then until the line has been quiet for `quiet` (at most a second
    // past either). Returns the bytes dropped; on a quiet line, without a
    // late answer awaited, it returns at once.
    std::size_t drain(std::chrono::steady_clock::time_point late_until, std::chrono::nanoseconds quiet);

private:
    std::string opened(bool ok, const char* what);
    // Read Device Identification: sent through libmodbus, whose framing
    // cannot cut its answer; received here (device_identification).
    std::error_code exchange_identification(const request& r, reply& answer);

    modbus_t* ctx_ = nullptr;
};

// errno after a failed libmodbus call as our error code: an exception
// answer's code, a timeout, a malformed answer (bad CRC, wrong unit,
// length or function, an exception code 0), else connection_failed (the
// link is closed and opened again).
std::error_code from_libmodbus_errno(int e);

// modbus_context::drain on a descriptor: a serial line, a pty, a socket.
std::size_t drain_line(int line, std::chrono::steady_clock::time_point late_until, std::chrono::nanoseconds quiet);

}  // namespace fieldbridge::modbus
