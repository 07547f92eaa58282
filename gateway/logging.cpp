#include "gateway/logging.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-journal.h>

#include "gateway/journal_fields.hpp"

namespace fieldbridge::gateway {
namespace {

log_priority priority_of(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return log_priority::debug;
        case spdlog::level::warn:
            return log_priority::warning;
        case spdlog::level::err:
            return log_priority::error;
        case spdlog::level::critical:
            return log_priority::critical;
        default:
            return log_priority::info;
    }
}

// The journal's own entry, fields and all; stderr with a priority prefix
// ("<4>", sd-daemon(3)) for an entry the journal refused.
class journal_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit journal_sink(journal_sender send) : send_(std::move(send)) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string_view message(msg.payload.data(), msg.payload.size());
        const auto priority = priority_of(msg.level);
        if (send_(journal_fields(priority, message, current_log_context())) >= 0) return;
        std::fprintf(stderr, "<%d>%.*s\n", static_cast<int>(priority), static_cast<int>(message.size()), message.data());
    }
    void flush_() override {}

private:
    journal_sender send_;
};

int send_to_journal(const std::vector<std::string>& fields) {
    std::vector<iovec> parts(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        parts[i].iov_base = const_cast<char*>(fields[i].data());  // NOLINT(cppcoreguidelines-pro-type-const-cast): sd_journal_sendv only reads
        parts[i].iov_len = fields[i].size();
    }
    return sd_journal_sendv(parts.data(), static_cast<int>(parts.size()));
}

}  // namespace

std::shared_ptr<spdlog::sinks::sink> make_journal_sink(journal_sender send) {
    return std::make_shared<journal_sink>(send ? std::move(send) : journal_sender(send_to_journal));
}

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
    std::shared_ptr<spdlog::logger> logger;
    if (stderr_is_journal()) {
        logger = std::make_shared<spdlog::logger>("fieldbridge", make_journal_sink());
    } else {
        logger = spdlog::stderr_color_mt("fieldbridge");
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    spdlog::set_default_logger(logger);
}

}  // namespace fieldbridge::gateway
