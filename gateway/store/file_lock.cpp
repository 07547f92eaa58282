#include "gateway/store/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "gateway/store/store_error.hpp"

namespace fieldbridge::store {

file_lock& file_lock::operator=(file_lock&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

std::error_code file_lock::take(const std::filesystem::path& path) {
    release();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        spdlog::error("queue: cannot open {}: {}", path.string(), std::strerror(errno));
        return make_error_code(store_errc::open_failed);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK) return make_error_code(store_errc::in_use);
        spdlog::error("queue: cannot lock {}: {}", path.string(), std::strerror(error));
        return make_error_code(store_errc::open_failed);
    }
    fd_ = fd;
    return {};
}

void file_lock::release() noexcept {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
}

}  // namespace fieldbridge::store
