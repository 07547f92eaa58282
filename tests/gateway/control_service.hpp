// A control_server on a temporary Unix socket, run on a thread of its own
// for the length of one test: the service side of the tests that talk to the
// control socket as a client (fieldbridge status, raw clients).
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "gateway/control_server.hpp"

namespace fieldbridge::gateway {

class control_service : public ::testing::Test {
protected:
    // Serves the commands `add` registers, within `limits`.
    void start(control_limits limits, const std::function<void(control_server&)>& add) {
        static std::atomic<int> serial{0};
        path_ = std::filesystem::temp_directory_path() /
                ("fb-control-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".sock");
        server_.emplace(io_.get_executor(), path_, limits);
        add(*server_);
        ASSERT_TRUE(server_->start().has_value());
        runner_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        io_.stop();
        if (runner_.joinable()) runner_.join();
        server_.reset();
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    std::optional<control_server> server_;
    std::thread runner_;
    std::filesystem::path path_;
};

}  // namespace fieldbridge::gateway
