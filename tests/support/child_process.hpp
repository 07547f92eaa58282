// A child process for tests: started from an argv, its stdout and stderr
// captured in a file, stopped (SIGTERM, then SIGKILL) when the object goes.
// Not thread-safe: one test thread owns it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fieldbridge::testing {

class child_process {
public:
    // Starts argv[0] (looked up on PATH) in a process group of its own.
    // Throws std::runtime_error if it cannot be started.
    explicit child_process(std::vector<std::string> argv);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    // Still running (reaps it if it has exited).
    bool running();
    // Sends sig to the child's process group.
    void signal(int sig);
    // Waits up to timeout for the exit; the exit code (128 + signal number
    // when killed by a signal), or nullopt if it is still running.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // SIGTERM, up to timeout for the exit, then SIGKILL. Returns the exit code.
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // Everything written to stdout and stderr so far.
    std::string output() const;

private:
    bool reap(int options);

    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::filesystem::path output_file_;
};

}  // namespace fieldbridge::testing
