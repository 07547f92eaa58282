#include "drivers/modbus/serial_port_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fieldbridge::modbus {

std::string serial_port_lock::take(const std::string& device) {
    release();
    // Read-only and non-blocking: no wait for a carrier, and a port another
    // process has open keeps its settings (only a first open starts the port).
    const int fd = ::open(device.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return {};
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK) {
            return "the serial device " + device + " is in use by another bus or program (it holds the port's lock)";
        }
        return std::string("cannot lock the serial device ") + device + ": " + std::strerror(error);
    }
    fd_ = fd;
    return {};
}

std::string serial_port_lock::why_not_usable(const std::string& device) {
    const int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return "cannot open the serial device " + device + ": " + std::strerror(errno);
    ::close(fd);
    serial_port_lock probe;
    return probe.take(device);
}

void serial_port_lock::release() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
}

}  // namespace fieldbridge::modbus
