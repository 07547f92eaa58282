#include "gateway/status_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/control_protocol.hpp"
#include "gateway/control_server.hpp"
#include "gateway/status_text.hpp"

namespace fieldbridge::gateway {
namespace {

// Non-canonical, no echo, for the life of the object; restored after.
class raw_keys {
public:
    explicit raw_keys(int fd) : fd_(fd) {
        if (tcgetattr(fd_, &saved_) != 0) return;
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
    }
    ~raw_keys() {
        if (active_) tcsetattr(fd_, TCSANOW, &saved_);
    }
    raw_keys(const raw_keys&) = delete;
    raw_keys& operator=(const raw_keys&) = delete;

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

// SIGINT and SIGTERM as a file descriptor to poll, for the life of the
// object: their handler writes a byte to a pipe (whichever thread takes the
// signal), and the previous handlers come back after.
class signal_pipe {
public:
    signal_pipe() {
        if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) return;
        write_end().store(fds_[1]);
        struct sigaction sa{};
        sa.sa_handler = [](int) {
            const char c = 's';
            [[maybe_unused]] const auto n = write(write_end().load(), &c, 1);
        };
        sigemptyset(&sa.sa_mask);
        installed_ = sigaction(SIGINT, &sa, &old_int_) == 0 && sigaction(SIGTERM, &sa, &old_term_) == 0;
    }
    ~signal_pipe() {
        if (installed_) {
            sigaction(SIGINT, &old_int_, nullptr);
            sigaction(SIGTERM, &old_term_, nullptr);
        }
        for (const int fd : fds_) {
            if (fd >= 0) close(fd);
        }
    }
    signal_pipe(const signal_pipe&) = delete;
    signal_pipe& operator=(const signal_pipe&) = delete;
    int fd() const { return installed_ ? fds_[0] : -1; }

private:
    static std::atomic<int>& write_end() {
        static std::atomic<int> fd{-1};
        return fd;
    }
    int fds_[2] = {-1, -1};
    struct sigaction old_int_{}, old_term_{};
    bool installed_ = false;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// The status view now, or what went wrong getting it.
std::string frame(const std::filesystem::path& socket) {
    const auto fetched = fetch_status(socket);
    if (!fetched.status) return fetched.why + "\n";
    try {
        return status_text(*fetched.status);
    } catch (const nlohmann::json::exception& e) {
        return std::string("unexpected answer from the service: ") + e.what() + "\n";
    }
}

void write_all(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

}  // namespace

status_fetch fetch_status(const std::filesystem::path& socket) {
    auto reply = control_request(socket, {{"version", control_protocol_version}, {"command", "status"}},
                                 std::chrono::seconds(5));
    if (!reply) return {std::nullopt, true, "cannot reach the service at " + socket.string() + ": " + reply.error().message()};
    if (!reply->value("ok", false) || !reply->contains("status")) {
        return {std::nullopt, false, "the service answered: " + reply->value("error", reply->dump())};
    }
    return {std::move(reply->at("status")), false, {}};
}

int watch_status(const std::filesystem::path& socket, std::chrono::milliseconds interval) {
    const bool terminal = isatty(STDOUT_FILENO) == 1;
    const bool keys = terminal && isatty(STDIN_FILENO) == 1;
    signal_pipe signals;
    if (signals.fd() < 0) {
        std::perror("status --watch: signals");
        return EX_OSERR;
    }
    raw_keys raw(keys ? STDIN_FILENO : -1);
    std::vector<std::string> previous;
    bool first = true;
    while (true) {
        const auto text = frame(socket);
        if (terminal) {
            // Home, clear, then each line; a line unlike the last frame's is bold.
            std::string out = "\x1b[H\x1b[2J";
            const auto lines = lines_of(text);
            for (std::size_t i = 0; i < lines.size(); ++i) {
                const bool changed = !first && (i >= previous.size() || previous[i] != lines[i]);
                out += changed ? "\x1b[1m" + lines[i] + "\x1b[0m\n" : lines[i] + "\n";
            }
            out += "\n(q to quit)\n";
            write_all(out);
            previous = lines;
        } else {
            write_all(first ? text : "\n" + text);
        }
        first = false;

        pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {keys ? STDIN_FILENO : -1, POLLIN, 0}};
        const auto deadline = std::chrono::steady_clock::now() + interval;
        while (true) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            const int n = poll(fds, 2, static_cast<int>(left.count()));
            if (n < 0) continue;  // EINTR
            if (n == 0) break;
            if ((fds[0].revents & POLLIN) != 0) return EX_OK;  // SIGINT or SIGTERM
            if ((fds[1].revents & (POLLHUP | POLLERR)) != 0) return EX_OK;  // the terminal went away
            if ((fds[1].revents & POLLIN) != 0) {
                char c = 0;
                if (read(STDIN_FILENO, &c, 1) <= 0) return EX_OK;
                if (c == 'q' || c == 'Q') return EX_OK;
            }
        }
    }
}

}  // namespace fieldbridge::gateway
