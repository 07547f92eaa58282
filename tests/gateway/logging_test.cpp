// The journal sink through spdlog, as the service logs under systemd: each
// line becomes one entry whose fields name the bus, device and point of the
// thread that logged it; an entry the journal refuses goes to stderr with
// its priority prefix. And log_scope's rules: a field set for a scope's
// lifetime, restored after, per thread.
#include "gateway/logging.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "common/log_context.hpp"

namespace fieldbridge::gateway {
namespace {

using fields = std::vector<std::string>;

class journal_logger : public ::testing::Test {
protected:
    // Each entry the sink sends; `refuse` makes the journal say no.
    std::mutex mutex_;
    std::vector<fields> sent_;
    bool refuse_ = false;
    std::shared_ptr<spdlog::logger> logger_ =
        std::make_shared<spdlog::logger>("test", make_journal_sink([this](const fields& f) {
                                             std::lock_guard lock(mutex_);
                                             if (refuse_)
                                                 return -ENOENT;
                                             sent_.push_back(f);
                                             return 0;
                                         }));
};

TEST_F(journal_logger, an_entry_names_the_bus_device_and_point_of_the_thread_that_logged) {
    std::thread([&] {
        const log_scope bus(log_field::bus, "line2");
        const log_scope device(log_field::device, "meter07");
        logger_->warn("device {} timed out", "meter07");
        const log_scope point(log_field::point, "setpoint");
        logger_->error("write failed");
    }).join();
    logger_->info("no context here");
    ASSERT_EQ(sent_.size(), 3u);
    EXPECT_EQ(sent_[0], (fields{"MESSAGE=device meter07 timed out", "PRIORITY=4",
                                "SYSLOG_IDENTIFIER=fieldbridge", "BUS=line2", "DEVICE=meter07"}));
    EXPECT_EQ(sent_[1], (fields{"MESSAGE=write failed", "PRIORITY=3", "SYSLOG_IDENTIFIER=fieldbridge",
                                "BUS=line2", "DEVICE=meter07", "POINT=setpoint"}));
    EXPECT_EQ(sent_[2], (fields{"MESSAGE=no context here", "PRIORITY=6", "SYSLOG_IDENTIFIER=fieldbridge"}));
}

TEST_F(journal_logger, a_refused_entry_goes_to_stderr_with_its_priority) {
    refuse_ = true;
    const auto file = ::testing::TempDir() + "journal_logger_stderr.txt";
    std::fflush(stderr);
    const int saved = ::dup(STDERR_FILENO);
    std::FILE* out = std::fopen(file.c_str(), "w");
    ASSERT_NE(out, nullptr);
    ::dup2(::fileno(out), STDERR_FILENO);
    logger_->warn("broker refused the connection");
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::fclose(out);
    std::stringstream text;
    text << std::ifstream(file).rdbuf();
    EXPECT_EQ(text.str(), "<4>broker refused the connection\n");
    EXPECT_TRUE(sent_.empty());
}

TEST(log_scope, sets_a_field_for_its_lifetime_restores_it_after_and_is_per_thread) {
    const auto field = [](log_field f) { return current_log_context()[static_cast<std::size_t>(f)]; };
    {
        const log_scope bus(log_field::bus, "line1");
        {
            const log_scope device(log_field::device, "m1");
            const log_scope again(log_field::device, "m2");
            EXPECT_EQ(field(log_field::device), "m2");
            std::string seen_elsewhere = "unset";
            std::thread([&] { seen_elsewhere = field(log_field::bus); }).join();
            EXPECT_EQ(seen_elsewhere, "");  // another thread has its own context
        }
        EXPECT_EQ(field(log_field::bus), "line1");
        EXPECT_EQ(field(log_field::device), "");
    }
    EXPECT_EQ(field(log_field::bus), "");
}

}  // namespace
}  // namespace fieldbridge::gateway
