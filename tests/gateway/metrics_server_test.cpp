// The metrics endpoint on a real loopback socket: what it answers for the
// metrics path, other paths and methods, and how it ends what it does not
// serve (garbage, an oversized header, a body, an idle client, a connection
// beyond the limit), then serves the next good client.
#include "gateway/metrics_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "gateway/metrics_report.hpp"
#include "tests/support/descriptors_used_up.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/thread_cpu.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;
using testing::http_exchange;
using testing::http_request;
using testing::wait_until;

// A connection the test holds open without sending anything.
class idle_client {
public:
    explicit idle_client(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~idle_client() { ::close(fd_); }
    idle_client(const idle_client&) = delete;
    idle_client& operator=(const idle_client&) = delete;
    bool connected() const { return connected_; }
    // A small receive buffer: what the server writes stays unread in its
    // own buffers (loopback autotuning grows a buffer only as it is read).
    void shrink_receive_buffer() {
        const int bytes = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    void send(const std::string& bytes) {
        ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    }
    // Whether the server closed the connection (within 5 s): an orderly
    // close, or a reset (a connection still in the backlog of a listener
    // that closed).
    // Whether a byte of an answer came (within 5 s).
    bool answered() {
        char c = 0;
        return ::recv(fd_, &c, 1, 0) == 1;
    }
    // Reads until `bytes` came or the server closed, `chunk` bytes at most
    // per read with `pause` between reads (a client on a slow link); the
    // bytes read.
    std::size_t read_slowly(std::size_t bytes, std::size_t chunk, std::chrono::milliseconds pause) {
        std::vector<char> buffer(chunk);
        std::size_t total = 0;
        while (total < bytes) {
            const auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n <= 0) break;
            total += static_cast<std::size_t>(n);
            std::this_thread::sleep_for(pause);
        }
        return total;
    }
    bool closed_by_server() {
        char c = 0;
        const auto n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

// The server on an io_context thread of its own, on an ephemeral-free port.
class endpoint : public ::testing::Test {
protected:
    metrics_limits limits_{.max_header_bytes = 1024,
                           .max_connections = 2,
                           .idle_timeout = std::chrono::milliseconds(1000),
                           .max_reports_held = 2,
                           .min_report_interval = std::chrono::milliseconds(0)};
    std::atomic<std::size_t> report_bytes_{0};  // 0: the one-line report

    void SetUp() override {
        port_ = testing::free_tcp_port();
        server_ = std::make_unique<metrics_server>(
            io_.get_executor(), "127.0.0.1", port_,
            [this] {
                ++reports_;
                return report_bytes_.load() == 0 ? std::string("fieldbridge_test_metric 1\n")
                                                 : std::string(report_bytes_.load(), '#');
            },
            limits_);
        auto started = server_->start();
        ASSERT_TRUE(started) << started.error().message();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        if (thread_.joinable()) {
            std::promise<void> stopped;
            boost::asio::post(io_, [&] {
                server_->stop();
                stopped.set_value();
            });
            stopped.get_future().wait();
            work_.reset();
            io_.stop();
            thread_.join();
        }
        server_.reset();
    }

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    std::uint16_t port_ = 0;
    std::unique_ptr<metrics_server> server_;
    std::atomic<int> reports_{0};
    std::thread thread_;
};

TEST_F(endpoint, get_answers_the_report_in_the_exposition_format_and_head_its_headers_only) {
    auto a = http_request(port_, "GET", "/metrics");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.headers["content-type"], metrics_content_type);
    EXPECT_EQ(a.body, "fieldbridge_test_metric 1\n");
    const auto query = http_request(port_, "GET", "/metrics?name[]=x");
    EXPECT_EQ(query.status, 200);
    EXPECT_EQ(query.body, "fieldbridge_test_metric 1\n");
    auto head = http_request(port_, "HEAD", "/metrics");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.headers["content-length"], "26");
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(reports_.load(), 3);
}

TEST_F(endpoint, other_paths_are_not_found_and_other_methods_not_allowed) {
    const auto other = http_request(port_, "GET", "/");
    EXPECT_EQ(other.status, 404);
    EXPECT_NE(other.body.find("/metrics"), std::string::npos);
    auto post = http_request(port_, "POST", "/metrics");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.headers["allow"], "GET, HEAD");
    EXPECT_EQ(reports_.load(), 0);
}

TEST_F(endpoint, garbage_an_oversized_header_and_a_body_are_disconnected_unanswered) {
    EXPECT_EQ(http_exchange(port_, "hello there\r\n\r\n", 5s).status, 0);
    EXPECT_EQ(
        http_exchange(port_,
                      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n", 5s)
            .status,
        0);
    EXPECT_EQ(
        http_exchange(port_, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 5s).status,
        0);
    EXPECT_EQ(reports_.load(), 0);
    EXPECT_EQ(http_request(port_, "GET", "/metrics").status, 200);  // the next good client is served
}

TEST_F(endpoint, an_idle_client_is_closed_after_the_timeout_and_connections_beyond_the_limit_at_once) {
    {
        idle_client first(port_);
        idle_client second(port_);
        ASSERT_TRUE(first.connected() && second.connected());
        // Both are held (the server has accepted them): a third is closed
        // at once. Accepting is asynchronous, so wait until it is.
        ASSERT_TRUE(wait_until([&] { return http_request(port_, "GET", "/metrics", 2s).status == 0; }, 5s));
        const auto before = std::chrono::steady_clock::now();
        EXPECT_TRUE(first.closed_by_server());
        EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
        EXPECT_TRUE(second.closed_by_server());
    }
    EXPECT_TRUE(wait_until([&] { return http_request(port_, "GET", "/metrics").status == 200; }, 5s));
}

// The timeout is one of idleness while writing too: a client that reads a
// large report steadily over a slow link gets all of it however long that
// takes; one that stops reading is closed after the timeout. The report is
// larger than the sockets' buffers of both ends take.
TEST_F(endpoint, a_client_reading_slowly_gets_the_whole_report_and_one_that_stops_is_closed) {
    report_bytes_ = std::size_t{24} << 20;
    {
        idle_client slow(port_);
        ASSERT_TRUE(slow.connected());
        slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // At most 512 KiB every 100 ms: about 5 s for the report, the timeout 1 s.
        const auto started = std::chrono::steady_clock::now();
        const auto got = slow.read_slowly(report_bytes_.load() + 200, 512 * 1024, 100ms);
        EXPECT_GT(got, report_bytes_.load()) << "cut after " << got << " bytes";
        EXPECT_GT(std::chrono::steady_clock::now() - started, 3s) << "the pace did not hold the writer back";
    }
    idle_client stalled(port_);
    ASSERT_TRUE(stalled.connected());
    stalled.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(wait_until([&] { return reports_.load() >= 2; }, 5s));
    // Unread for 3 s, the server's write waits and times out: what it had
    // written reads, then the end.
    std::this_thread::sleep_for(3s);
    EXPECT_LT(stalled.read_slowly(report_bytes_.load(), 512 * 1024, 0ms), report_bytes_.load());
}

// A client reading steadily but slower than min_bytes_per_second is cut
// once the answer's time at that rate is over: it cannot hold a report (one
// of max_reports_held) for as long as it likes.
class endpoint_wanting_a_rate : public endpoint {
protected:
    endpoint_wanting_a_rate() {
        limits_.min_bytes_per_second = std::size_t{16} << 20;  // 24 MiB within 1 s + 1.5 s
        report_bytes_ = std::size_t{24} << 20;
    }
};

TEST_F(endpoint_wanting_a_rate, a_client_reading_slower_than_the_rate_is_cut_when_its_time_is_over) {
    idle_client slow(port_);
    ASSERT_TRUE(slow.connected());
    slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto got = slow.read_slowly(report_bytes_.load() + 200, 512 * 1024, 100ms);  // at most 5 MB/s
    EXPECT_LT(got, report_bytes_.load());
    EXPECT_TRUE(wait_until([&] { return http_request(port_, "GET", "/metrics", 5s).status == 200; }, 10s))
        << "the report it held is given back";
}

TEST_F(endpoint, once_stopped_it_accepts_nothing_and_asks_for_no_report) {
    idle_client held(port_);
    ASSERT_TRUE(held.connected());
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
        server_->stop();
        stopped.set_value();
    });
    stopped.get_future().wait();
    EXPECT_TRUE(held.closed_by_server());
    EXPECT_EQ(http_request(port_, "GET", "/metrics", 2s).status, 0);
    EXPECT_EQ(reports_.load(), 0);
}

// No descriptor to be had when a scraper connects: every accept fails at
// once while it waits in the listen queue. The server does not spin its
// thread on it (nor log each attempt), and answers once descriptors are back.
TEST_F(endpoint, an_accept_without_a_descriptor_does_not_spin_and_the_scrape_is_answered_later) {
#if defined(FIELDBRIDGE_ASAN)
    GTEST_SKIP() << "not under AddressSanitizer: the test exhausts the file descriptors its runtime needs";
#endif
    const int spare = ::dup(0);  // the client's socket, below the limit set next
    ASSERT_GE(spare, 0);
    std::optional<idle_client> waiting;
    {
        testing::descriptors_used_up no_fds;
        ASSERT_TRUE(no_fds.ok());
        ::close(spare);
        waiting.emplace(port_);
        ASSERT_TRUE(waiting->connected());
        const auto used = testing::thread_cpu_over(thread_, 1000ms);
        EXPECT_LT(used, 100ms) << "the server thread took " << used.count() << " ms of CPU in 1 s";
    }
    waiting->send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(waiting->answered());
    EXPECT_EQ(http_request(port_, "GET", "/metrics").status, 200);
}

TEST(metrics_server, an_address_in_use_or_not_an_address_is_an_error_from_start) {
    boost::asio::io_context io;
    const auto port = testing::free_tcp_port();
    metrics_server first(io.get_executor(), "127.0.0.1", port, [] { return std::string(); });
    ASSERT_TRUE(first.start());
    metrics_server second(io.get_executor(), "127.0.0.1", port, [] { return std::string(); });
    const auto taken = second.start();
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.error(), std::errc::address_in_use);
    metrics_server named(io.get_executor(), "localhost", port, [] { return std::string(); });
    EXPECT_FALSE(named.start());
}

// A client that asks and does not read holds its report until the write
// times out; past max_reports_held such reports a scrape gets 503 with
// Retry-After and costs no report, and once a holder goes the next one is
// served.
class endpoint_holding_reports : public endpoint {
protected:
    endpoint_holding_reports() {
        limits_.max_reports_held = 1;
        limits_.max_connections = 4;  // a closed client's connection may be counted until its close is read
        limits_.idle_timeout = std::chrono::milliseconds(20000);
        report_bytes_ = std::size_t{32} << 20;  // more than the socket buffers of both ends take
    }
};

TEST_F(endpoint_holding_reports, a_scrape_past_the_reports_held_is_answered_busy_without_a_report) {
    {
        idle_client holder(port_);
        ASSERT_TRUE(holder.connected());
        holder.shrink_receive_buffer();
        holder.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_TRUE(wait_until([&] { return reports_.load() == 1; }, 5s));
        auto busy = http_request(port_, "GET", "/metrics", 5s);
        EXPECT_EQ(busy.status, 503);
        EXPECT_EQ(busy.headers["retry-after"], "1");
        EXPECT_EQ(http_request(port_, "HEAD", "/metrics", 5s).status, 503);
        EXPECT_EQ(reports_.load(), 1) << "no report built for a busy answer";
    }
    report_bytes_ = 0;
    EXPECT_TRUE(wait_until([&] { return http_request(port_, "GET", "/metrics", 2s).status == 200; }, 5s));
}

// However many scrapes come, and however fast (HEAD costs the report as
// much as GET), the core thread builds at most one report per interval.
class endpoint_building_reports_rarely : public endpoint {
protected:
    void SetUp() override {
        limits_.min_report_interval = std::chrono::hours(1);
        endpoint::SetUp();
    }
};

TEST_F(endpoint_building_reports_rarely, scrapes_within_the_interval_get_the_report_built_for_the_first) {
    for (int i = 0; i < 20; ++i) {
        const auto head = http_request(port_, "HEAD", "/metrics");
        ASSERT_EQ(head.status, 200) << i;
        const auto get = http_request(port_, "GET", "/metrics");
        ASSERT_EQ(get.status, 200) << i;
        EXPECT_EQ(get.body, "fieldbridge_test_metric 1\n") << i;
    }
    EXPECT_EQ(reports_.load(), 1);
}

}  // namespace
}  // namespace fieldbridge::gateway
