// The metrics endpoint (metrics.listen): a small HTTP/1.1 server on the core
// io_context (Boost.Beast) that answers GET or HEAD /metrics with the
// report the owner gives (metrics_report of a snapshot), built at most once
// per min_report_interval: a scrape within it gets the last one, kept for
// that (one more copy of a report, for the life of the server). Other paths
// get 404, other methods 405; a malformed request, one whose header is
// larger than max_header_bytes or carries a body, and a client idle for
// longer than idle_timeout, or reading an answer slower than
// min_bytes_per_second, are disconnected; connections beyond
// max_connections are closed at once. At most max_reports_held reports are
// held for clients still reading them (a report is ~2.5 KB a device, and a
// client that does not read keeps it until idle_timeout); a scrape beyond
// that (GET or HEAD: a HEAD takes the report for its length, then frees its
// copy) is answered 503 with Retry-After. Keep-alive is honoured.
// Runs on the given executor's one thread; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/result.hpp"

namespace fieldbridge::gateway {

struct metrics_limits {
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_connections = 8;
    std::chrono::milliseconds idle_timeout{10000};  // per read and per socket write, not per answer
    // An answer is written within idle_timeout + its size at this rate: a
    // client reading a little now and then cannot hold a report (and one of
    // max_reports_held) for longer. 32 KiB/s: a 2.7 MB report in 85 s.
    std::size_t min_bytes_per_second = 32 * 1024;
    std::size_t max_reports_held = 2;
    // A scrape within this of the last report built gets that report again:
    // scrapes, HEAD ones included, cost the core thread at most one report
    // per interval, however many and however fast.
    std::chrono::milliseconds min_report_interval{1000};
};

class metrics_server {
public:
    // Called on the executor for every scrape.
    using report = std::function<std::string()>;

    metrics_server(const boost::asio::any_io_executor& executor, std::string address, std::uint16_t port,
                   report r, metrics_limits limits = {});
    ~metrics_server();
    metrics_server(const metrics_server&) = delete;
    metrics_server& operator=(const metrics_server&) = delete;

    // Binds and accepts; the error says why not.
    result<void> start();
    // Closes the listener and every connection; no report is asked for after it.
    void stop();
    // The port bound (the one asked for once started).
    std::uint16_t port() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace fieldbridge::gateway
