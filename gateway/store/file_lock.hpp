// file_lock: one process per queue file. The store holds an exclusive
// flock(2) on its database file while it is open, so that a second gateway
// started on the same file (a second unit, a copy of the service run by
// hand) is refused instead of sending the same rows, overwriting the other
// one's packet ids and deleting its rows. flock locks are apart from the
// POSIX locks SQLite takes, so `sqlite3 queue.db` still reads the file.
#pragma once

#include <filesystem>
#include <system_error>

namespace fieldbridge::store {

class file_lock {
public:
    file_lock() = default;
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    file_lock(file_lock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    file_lock& operator=(file_lock&& other) noexcept;
    ~file_lock() { release(); }

    // Creates the file if needed and locks it: store_errc::in_use when
    // another process (or another open of it) holds it, open_failed when it
    // cannot be opened. Any lock held before is let go first.
    std::error_code take(const std::filesystem::path& path);
    void release() noexcept;

private:
    int fd_ = -1;
};

}  // namespace fieldbridge::store
