// A client of a control socket that does what control_request() would not:
// connects and holds the connection open, sends raw bytes when told, reads
// what the server says and whether it closed. Every read has a deadline of
// 5 s: a test never hangs on it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace fieldbridge::testing {

class raw_client {
public:
    explicit raw_client(const std::filesystem::path& socket) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
        const timeval tv{5, 0};  // a deadline for every read: a test never hangs
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~raw_client() { close(); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    bool connected() const { return connected_; }
    bool send(const std::string& bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    }
    // One line from the server (without its '\n'); nullopt if it closed
    // first or nothing came within 5 s.
    std::optional<std::string> line() {
        std::string text;
        char c = 0;
        while (::recv(fd_, &c, 1, 0) == 1) {
            if (c == '\n') return text;
            text.push_back(c);
        }
        return std::nullopt;
    }
    // Whether the server closed the connection within 5 s: end of stream, or
    // a reset when it closed with bytes of ours left unread.
    bool closed_by_server() {
        char c = 0;
        const auto n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
    int fd() const { return fd_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

}  // namespace fieldbridge::testing
