#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/emulator.hpp"

namespace fieldbridge::testing {

child_process::child_process(std::vector<std::string> argv) {
    if (argv.empty()) throw std::runtime_error("child_process: empty argv");
    argv = with_emulator(std::move(argv));
    std::string pattern = (std::filesystem::temp_directory_path() / "fieldbridge-child-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error(std::string("child_process: mkstemp: ") + std::strerror(errno));
    output_file_ = pattern;

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);

    pid_ = fork();
    if (pid_ < 0) {
        ::close(fd);
        throw std::runtime_error(std::string("child_process: fork: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
        setpgid(0, 0);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        const int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        execvp(args[0], args.data());
        const std::string msg = std::string("exec ") + args[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(STDERR_FILENO, msg.data(), msg.size());
        _exit(127);
    }
    setpgid(pid_, pid_);  // also from the parent, so that signal() works at once
    ::close(fd);
}

child_process::~child_process() {
    stop();
    std::error_code ignored;
    std::filesystem::remove(output_file_, ignored);
}

bool child_process::reap(int options) {
    if (exit_code_) return true;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, options);
    if (r != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

bool child_process::running() { return !reap(WNOHANG); }

void child_process::signal(int sig) {
    if (exit_code_) return;
    ::kill(-pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reap(WNOHANG)) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return exit_code_;
}

int child_process::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    if (!exit_code_) {
        signal(SIGTERM);
        if (!wait(timeout)) {
            signal(SIGKILL);
            reap(0);
        }
    }
    // Whatever the child left behind in its group goes too.
    ::kill(-pid_, SIGKILL);
    return *exit_code_;
}

std::string child_process::output() const {
    std::ifstream in(output_file_, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace fieldbridge::testing
