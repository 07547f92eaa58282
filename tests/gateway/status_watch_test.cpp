// `fieldbridge status --watch` driven as an operator would: in a pseudo
// terminal (redrawn frames, changed lines in bold, `q` and Ctrl-C quit and
// give the terminal back as it was) and with stdout a pipe (plain frames, no
// escape codes, SIGTERM ends it). The service is a control server on a
// temporary socket answering a status that changes at every request.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <vector>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "gateway/control_server.hpp"
#include "gateway/status_report.hpp"
#include "tests/gateway/control_service.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/emulator.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// A service whose status has one device and a queue that grows by one
// message at each request.
class status_service : public control_service {
protected:
    void SetUp() override {
        start(control_limits{}, [this](control_server& server) {
            server.add("status", [this](const nlohmann::json&) {
                status_snapshot s;
                s.version = "9.9.9";
                s.broker.host = "broker.test";
                s.broker.port = 1883;
                s.broker.state = mqtt::link_state::connected;
                s.queue.stats.rows = requests_++;
                s.devices.push_back({"meter1", "line", 3, 1000ms, {}, {}, {}});
                return status_report(s);
            });
        });
    }

    std::atomic<std::uint64_t> requests_{0};
};

// The binary on the slave side of a pty pair; the test holds the master.
class in_terminal {
public:
    explicit in_terminal(const std::vector<std::string>& program) {
        const auto argv = fieldbridge::testing::with_emulator(program);
        pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
        if (pid_ == 0) {
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        if (master_ >= 0) tcgetattr(master_, &before_);
    }
    ~in_terminal() {
        if (pid_ > 0 && !exit_code_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (master_ >= 0) close(master_);
    }
    in_terminal(const in_terminal&) = delete;
    in_terminal& operator=(const in_terminal&) = delete;

    bool started() const { return pid_ > 0 && master_ >= 0; }
    // Reads what the program wrote until `done(all)` holds or the time is up.
    bool read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done(output_)) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{master_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const auto n = read(master_, buf, sizeof buf);
            if (n <= 0) return done(output_);
            output_.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }
    void type(const std::string& keys) { ASSERT_EQ(write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }
    // The exit code within timeout (128 + signal when killed), or nullopt.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        const bool ended = fieldbridge::testing::wait_until([&] {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return true;
        }, timeout);
        return ended ? exit_code_ : std::nullopt;
    }
    // The terminal's local modes now and as they were before the program ran.
    tcflag_t lflag_now() const {
        termios t{};
        tcgetattr(master_, &t);
        return t.c_lflag;
    }
    tcflag_t lflag_before() const { return before_.c_lflag; }
    const std::string& output() const { return output_; }

private:
    int master_ = -1;
    pid_t pid_ = -1;
    termios before_{};
    std::string output_;
    std::optional<int> exit_code_;
};

const std::string clear_screen = "\x1b[H\x1b[2J";

TEST_F(status_service, in_a_terminal_it_redraws_marks_changed_lines_and_quits_on_q) {
    in_terminal t({FIELDBRIDGE_BINARY, "status", "--watch", "--interval", "100ms", "--socket", path_.string()});
    ASSERT_TRUE(t.started());
    ASSERT_TRUE(t.read_until([](const std::string& out) { return count(out, clear_screen) >= 3; }, 10s)) << t.output();
    EXPECT_NE(t.output().find("meter1"), std::string::npos) << t.output();
    // The queue line changes at every frame: bold from the second one on.
    EXPECT_NE(t.output().find("\x1b[1mqueue   "), std::string::npos) << t.output();
    // While it runs, keys are not echoed and not held for a line.
    EXPECT_EQ(t.lflag_now() & (ICANON | ECHO), 0u);
    t.type("q");
    EXPECT_EQ(t.wait(5s), 0);
    EXPECT_EQ(t.lflag_now(), t.lflag_before()) << "the terminal is given back as it was";
}

TEST_F(status_service, in_a_terminal_ctrl_c_quits_cleanly) {
    in_terminal t({FIELDBRIDGE_BINARY, "status", "--watch", "--interval", "100ms", "--socket", path_.string()});
    ASSERT_TRUE(t.started());
    ASSERT_TRUE(t.read_until([](const std::string& out) { return count(out, clear_screen) >= 2; }, 10s)) << t.output();
    t.type("\x03");
    EXPECT_EQ(t.wait(5s), 0);
    EXPECT_EQ(t.lflag_now(), t.lflag_before());
}

TEST_F(status_service, to_a_pipe_it_prints_plain_frames_until_sigterm) {
    fieldbridge::testing::child_process watch(
        {FIELDBRIDGE_BINARY, "status", "--watch", "--interval", "100ms", "--socket", path_.string()});
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return count(watch.output(), "fieldbridge 9.9.9") >= 3; }, 10s))
        << watch.output();
    EXPECT_EQ(watch.output().find('\x1b'), std::string::npos) << "no escape codes when not a terminal";
    EXPECT_EQ(watch.stop(), 0);
}

TEST_F(status_service, a_service_that_goes_away_is_said_so_and_the_watch_goes_on) {
    fieldbridge::testing::child_process watch(
        {FIELDBRIDGE_BINARY, "status", "--watch", "--interval", "100ms", "--socket", (path_.string() + ".none")});
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return count(watch.output(), "cannot reach the service") >= 2; }, 10s))
        << watch.output();
    EXPECT_TRUE(watch.running());
    EXPECT_EQ(watch.stop(), 0);
}

TEST(status_watch, a_bad_interval_or_json_is_refused) {
    fieldbridge::testing::child_process fast({FIELDBRIDGE_BINARY, "status", "--watch", "--interval", "10ms", "--socket", "/nonexistent"});
    EXPECT_EQ(fast.wait(10s), 64);
    EXPECT_NE(fast.output().find("--interval 10ms"), std::string::npos) << fast.output();
    fieldbridge::testing::child_process json({FIELDBRIDGE_BINARY, "status", "--watch", "--json", "--socket", "/nonexistent"});
    EXPECT_EQ(json.wait(10s), 64);
}

}  // namespace
}  // namespace fieldbridge::gateway
