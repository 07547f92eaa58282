#include "tests/support/http_client.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

namespace fieldbridge::testing {
namespace {

using steady = std::chrono::steady_clock;

// Fills `a` from the raw answer; false while it is not complete.
bool parse(const std::string& raw, http_answer& a, bool closed) {
    const auto head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos)
        return false;
    std::istringstream head(raw.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12)
        return false;
    a.status = std::atoi(line.c_str() + 9);
    a.headers.clear();
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        auto name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        a.headers[name] = value;
    }
    a.body = raw.substr(head_end + 4);
    if (const auto it = a.headers.find("content-length"); it != a.headers.end()) {
        const auto length = static_cast<std::size_t>(std::strtoull(it->second.c_str(), nullptr, 10));
        if (a.body.size() < length)
            return closed;
        a.body.resize(length);
        return true;
    }
    return closed;
}

}  // namespace

http_answer http_exchange(std::uint16_t port, const std::string& raw, std::chrono::milliseconds timeout) {
    http_answer a;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return a;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return a;
    }
    std::size_t sent = 0;
    while (sent < raw.size()) {
        const auto n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += static_cast<std::size_t>(n);
    }
    const auto deadline = steady::now() + timeout;
    std::string in;
    char buffer[16384];
    bool closed = false;
    while (!parse(in, a, closed) && !closed) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
        if (left <= 0)
            break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0)
            break;
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            closed = true;
            continue;
        }
        in.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!parse(in, a, true))
        a = http_answer{};
    return a;
}

http_answer http_request(std::uint16_t port, const std::string& method, const std::string& path,
                         std::chrono::milliseconds timeout) {
    return http_exchange(
        port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout);
}

std::optional<double> sample_value(const std::string& exposition, const std::string& series) {
    std::istringstream lines(exposition);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ') {
            return std::strtod(line.c_str() + series.size() + 1, nullptr);
        }
    }
    return std::nullopt;
}

}  // namespace fieldbridge::testing
