#include "gateway/logging.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace fieldbridge::gateway {
namespace {

// %* → "<N>", the sd-daemon(3) priority prefix of the message's level.
class priority_prefix final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const char* prefix = "<6>";
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug:
                prefix = "<7>";
                break;
            case spdlog::level::info:
                prefix = "<6>";
                break;
            case spdlog::level::warn:
                prefix = "<4>";
                break;
            case spdlog::level::err:
                prefix = "<3>";
                break;
            case spdlog::level::critical:
                prefix = "<2>";
                break;
            default:
                break;
        }
        dest.append(prefix, prefix + std::strlen(prefix));
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<priority_prefix>(); }
};

}  // namespace

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_color_st("fieldbridge");
    if (stderr_is_journal()) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<priority_prefix>('*').set_pattern("%*%v");
        logger->set_formatter(std::move(formatter));
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    spdlog::set_default_logger(logger);
}

}  // namespace fieldbridge::gateway
