// captured_log: the log lines the code under test writes, kept while it
// lives (it replaces spdlog's default logger, and puts it back). For tests
// that check what an operator would read, and how often.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

namespace fieldbridge::testing {

class captured_log {
public:
    captured_log()
        : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)), previous_(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }
    captured_log(const captured_log&) = delete;
    captured_log& operator=(const captured_log&) = delete;
    // Lines (of the last 1000) that contain `what`.
    std::size_t count(const std::string& what) const {
        const auto lines = sink_->last_formatted();
        return static_cast<std::size_t>(
            std::count_if(lines.begin(), lines.end(), [&](const auto& l) { return l.find(what) != std::string::npos; }));
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace fieldbridge::testing
