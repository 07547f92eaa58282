// The gateway service: one io_context thread owns the MQTT client and the
// point mapper; one bus_worker thread per bus polls and posts its results to
// that io_context. Construct, then run() on the thread that should be the core.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "config/model.hpp"

namespace fieldbridge::gateway {

class app {
public:
    explicit app(config::gateway cfg);
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    // Runs until SIGINT or SIGTERM, or stop(). Returns the process exit code.
    int run();

    // Thread-safe: asks run() to shut down (stop polling, flush, DISCONNECT).
    void stop();

private:
    void shutdown();
    void feed_watchdog(std::chrono::microseconds interval);
    void expire_queue();

    config::gateway cfg_;
    boost::asio::io_context io_;
    std::atomic<bool> stopping_{false};
    struct parts;
    std::unique_ptr<parts> parts_;
};

}  // namespace fieldbridge::gateway
