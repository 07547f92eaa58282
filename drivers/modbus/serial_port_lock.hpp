// serial_port_lock: one master per serial line. A bus holds its port locked
// (flock, on a descriptor of its own) from before the port is opened and
// configured until after it is closed, so that another bus naming the same
// port under another path (a /dev/serial/by-id link and the node itself), a
// second gateway on the same device node, or `fieldbridge scan` while the
// service runs, is refused before it touches the line's settings instead
// of interleaving requests with the first's (or switching its baud rate).
//
// Thread-safety: one thread uses a lock.
#pragma once

#include <string>

namespace fieldbridge::modbus {

class serial_port_lock {
public:
    serial_port_lock() = default;
    serial_port_lock(const serial_port_lock&) = delete;
    serial_port_lock& operator=(const serial_port_lock&) = delete;
    ~serial_port_lock() { release(); }

    // Takes the lock of `device`: empty when taken (or when the device
    // cannot be opened at all: opening it for use then says why), otherwise
    // why not, in words.
    std::string take(const std::string& device);
    void release();

    // Why a bus could not use `device` now, in words (it cannot be opened
    // for reading and writing, or another holds its lock), or empty. For a
    // one-shot user (`fieldbridge read --direct`) to say so at once instead
    // of retrying the open until its time is up; a bus that runs on retries.
    static std::string why_not_usable(const std::string& device);

private:
    int fd_ = -1;
};

}  // namespace fieldbridge::modbus
