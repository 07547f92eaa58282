// The control socket's bounds, on a real Unix socket: a request line longer
// than the limit, more connections than the limit and a client that sends
// no request in time are each refused with a reason and closed, and the
// service answers the next good client.
#include "gateway/control_server.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>

#include "gateway/control_protocol.hpp"
#include "tests/gateway/control_service.hpp"
#include "tests/support/descriptors_used_up.hpp"
#include "tests/support/raw_control_client.hpp"
#include "tests/support/thread_cpu.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::gateway {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::raw_client;

nlohmann::json parsed(const std::optional<std::string>& line) {
    return line ? nlohmann::json::parse(*line, nullptr, false) : nlohmann::json();
}

class control_server_bounds : public control_service {
protected:
    void start(control_limits limits) {
        control_service::start(limits, [](control_server& server) {
            server.add("status", [](const nlohmann::json&) { return nlohmann::json{{"answered", true}}; });
        });
    }

    // A good client's request, answered.
    bool good_client_answered() {
        const auto reply = control_request(path_, {{"version", 1}, {"command", "status"}}, 5s);
        return reply && reply->value("ok", false) && (*reply)["status"] == nlohmann::json{{"answered", true}};
    }
};

// The service under systemd listens in its RuntimeDirectory; the CLI looks
// where the packaged unit puts it, whatever unit it runs in itself.
TEST(control_socket_path, the_service_takes_its_runtime_directory_and_a_client_never_its_own) {
    ::setenv("RUNTIME_DIRECTORY", "/run/monitoring-job", 1);
    EXPECT_EQ(control_socket_path({}), "/run/monitoring-job/control.sock");
    EXPECT_EQ(control_client_socket_path({}), "/run/fieldbridge/control.sock");
    config::control_settings given;
    given.socket = "/srv/gw/control.sock";
    EXPECT_EQ(control_socket_path(given), given.socket);
    EXPECT_EQ(control_client_socket_path(given), given.socket);
    ::unsetenv("RUNTIME_DIRECTORY");
    EXPECT_EQ(control_socket_path({}), "/run/fieldbridge/control.sock");
}

TEST_F(control_server_bounds, a_request_line_longer_than_the_limit_is_refused_and_the_service_answers_after) {
    start(control_limits{1024, 16, 5s});

    // Exactly at the limit ('\n' included): answered.
    std::string at_limit = R"({"version":1,"command":"status"})";
    at_limit.append(1023 - at_limit.size(), ' ');
    at_limit.push_back('\n');
    ASSERT_EQ(at_limit.size(), 1024u);
    raw_client fits(path_);
    ASSERT_TRUE(fits.connected());
    ASSERT_TRUE(fits.send(at_limit));
    EXPECT_EQ(parsed(fits.line()), (nlohmann::json{{"version", 1}, {"ok", true}, {"status", {{"answered", true}}}}));

    // One byte past it, and no end of line in sight: refused and closed.
    raw_client over(path_);
    ASSERT_TRUE(over.connected());
    ASSERT_TRUE(over.send(std::string(1025, 'x')));
    EXPECT_EQ(parsed(over.line()),
              (nlohmann::json{{"version", 1}, {"ok", false}, {"error", "request longer than 1024 bytes"}}));
    EXPECT_TRUE(over.closed_by_server());

    EXPECT_TRUE(good_client_answered());
}

TEST_F(control_server_bounds, connections_beyond_the_limit_are_refused_and_the_service_answers_once_one_closes) {
    start(control_limits{std::size_t{64} * 1024, 2, 10s});
    raw_client first(path_);
    raw_client second(path_);
    ASSERT_TRUE(first.connected());
    ASSERT_TRUE(second.connected());

    // Accepted in order: the first two hold both places.
    raw_client third(path_);
    ASSERT_TRUE(third.connected());
    EXPECT_EQ(parsed(third.line()), (nlohmann::json{{"version", 1},
                                                   {"ok", false},
                                                   {"error", "too many control connections (2 open); try again"}}));
    EXPECT_TRUE(third.closed_by_server());

    // The two idle clients still hold their places until one goes away.
    first.close();
    EXPECT_TRUE(fieldbridge::testing::wait_until([&] { return good_client_answered(); }, 5s));
    // The second one is still served.
    ASSERT_TRUE(second.send("{\"version\":1,\"command\":\"status\"}\n"));
    EXPECT_EQ(parsed(second.line()).value("ok", false), true);
}

// No descriptor to be had when a client connects (the service's limit
// reached): the client waits in the listen queue and every accept fails at
// once. The server does not spin its thread on it (it tries again after a
// pause), and serves the client once descriptors are back.
TEST_F(control_server_bounds, an_accept_without_a_descriptor_does_not_spin_and_the_client_is_served_later) {
#if defined(FIELDBRIDGE_ASAN)
    GTEST_SKIP() << "not under AddressSanitizer: the test exhausts the file descriptors its runtime needs";
#endif
    start(control_limits{});
    const int spare = ::dup(0);  // the client's socket, below the limit set next
    ASSERT_GE(spare, 0);
    std::optional<raw_client> waiting;
    {
        fieldbridge::testing::descriptors_used_up no_fds;
        ASSERT_TRUE(no_fds.ok());
        ::close(spare);
        waiting.emplace(path_);
        ASSERT_TRUE(waiting->connected());
        // The server thread's CPU time over a second of failing accepts:
        // spinning takes most of it, waiting between attempts next to none.
        const auto used = fieldbridge::testing::thread_cpu_over(runner_, 1000ms);
        EXPECT_LT(used, 100ms) << "the server thread took " << used.count() << " ms of CPU in 1 s";
    }
    ASSERT_TRUE(waiting->send("{\"version\":1,\"command\":\"status\"}\n"));
    EXPECT_EQ(parsed(waiting->line()).value("ok", false), true);
    EXPECT_TRUE(good_client_answered());
}

TEST_F(control_server_bounds, a_client_that_sends_no_request_in_time_is_told_so_and_closed) {
    start(control_limits{std::size_t{64} * 1024, 16, 200ms});
    raw_client slow(path_);
    ASSERT_TRUE(slow.connected());
    const auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(slow.send("{\"version\":1,"));  // and never the rest
    EXPECT_EQ(parsed(slow.line()), (nlohmann::json{{"version", 1}, {"ok", false}, {"error", "no request within 200 ms"}}));
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
    EXPECT_TRUE(slow.closed_by_server());

    EXPECT_TRUE(good_client_answered());
}

// Clients that send a request and never read the reply: the reply is far
// larger than the socket buffers, so each write waits on its client. Were
// the write without a deadline, the limit's worth of them would lock every
// other client out for as long as they stay connected.
TEST_F(control_server_bounds, clients_that_never_read_their_reply_hold_no_place_past_the_reply_timeout) {
    control_limits limits;
    limits.reply_timeout = 300ms;
    control_service::start(limits, [](control_server& server) {
        server.add("status", [](const nlohmann::json&) { return nlohmann::json{{"answered", true}}; });
        server.add("points", [](const nlohmann::json&) { return nlohmann::json(std::string(std::size_t{1} << 20, 'p')); });
    });
    std::vector<std::unique_ptr<raw_client>> stuck;
    for (std::size_t i = 0; i < limits.max_connections; ++i) {
        stuck.push_back(std::make_unique<raw_client>(path_));
        ASSERT_TRUE(stuck.back()->connected());
        ASSERT_TRUE(stuck.back()->send("{\"version\":1,\"command\":\"points\"}\n"));
    }
    // Every place is taken now (the next client is refused until one frees).
    // The stuck clients never close, so without the reply timeout no good
    // client is ever answered; the deadline leaves room for a loaded machine
    // and an instrumented build, where each 1 MiB reply takes long to build.
    EXPECT_TRUE(fieldbridge::testing::wait_until([&] { return good_client_answered(); }, 30s));
    // The stuck clients were closed: what they read ends before the whole reply.
    std::size_t got = 0;
    char chunk[65536];
    for (;;) {
        const auto n = ::recv(stuck.front()->fd(), chunk, sizeof chunk, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    EXPECT_LT(got, std::size_t{1} << 20);
}

// A handler that answers later (a read or write waiting for its bus) holds
// its connection; clients that ask and leave give their places back at once
// instead of keeping every other client out until the bus answers. The work
// they asked for stays bounded: at most max_connections such answers wait,
// whether their clients stay. A client that only shut its sending side
// still gets its answer.
TEST_F(control_server_bounds, clients_that_leave_before_a_slow_answer_give_their_places_back) {
    control_limits limits;
    limits.max_connections = 4;
    std::vector<control_server::responder> waiting;  // answered on the server's thread
    control_service::start(limits, [&](control_server& server) {
        server.add("status", [](const nlohmann::json&) { return nlohmann::json{{"answered", true}}; });
        server.add_async("read", [&](const nlohmann::json&, control_server::responder r) {
            waiting.push_back(std::move(r));
        });
    });
    const auto on_server = [&](const std::function<void()>& f) {
        std::promise<void> done;  // `waiting` is the test's: nothing touches it after the test
        boost::asio::post(io_, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    };
    const auto asked = [&] {
        std::size_t n = 0;
        on_server([&] { n = waiting.size(); });
        return n;
    };
    const std::string read = "{\"version\":1,\"command\":\"read\"}\n";
    for (std::size_t i = 0; i < limits.max_connections - 1; ++i) {
        raw_client asks(path_);
        ASSERT_TRUE(asks.connected());
        ASSERT_TRUE(asks.send(read));
        ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return asked() == i + 1; }, 5s));
    }  // and leaves
    EXPECT_TRUE(fieldbridge::testing::wait_until([&] { return good_client_answered(); }, 5s));
    // One more shuts its sending side only, and waits for its answer.
    raw_client half(path_);
    ASSERT_TRUE(half.send(read));
    ::shutdown(half.fd(), SHUT_WR);
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return asked() == limits.max_connections; }, 5s));
    EXPECT_TRUE(good_client_answered()) << "three places are free";
    // As many answers wait as there are places: one more read is refused.
    raw_client refused(path_);
    ASSERT_TRUE(refused.send(read));
    EXPECT_EQ(parsed(refused.line()).value("error", ""),
              "4 control reads and writes already wait for their buses; try again");
    on_server([&] {
        for (auto& r : waiting) r(nlohmann::json{{"value", 7}});
        waiting.clear();
    });
    EXPECT_EQ(parsed(half.line()).value("read", nlohmann::json()), (nlohmann::json{{"value", 7}}));
    // Answered: reads are taken again.
    raw_client later(path_);
    ASSERT_TRUE(later.send(read));
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return asked() == 1; }, 5s));
    on_server([&] {
        for (auto& r : waiting) r(nlohmann::json{{"value", 8}});
        waiting.clear();
    });
    EXPECT_EQ(parsed(later.line()).value("read", nlohmann::json()), (nlohmann::json{{"value", 8}}));
}

TEST_F(control_server_bounds, a_request_nested_deeper_than_any_command_needs_is_refused) {
    start(control_limits{});
    nlohmann::json deep = 1;
    for (int i = 0; i < control_max_depth + 1; ++i) deep = nlohmann::json::array({deep});
    const auto reply = control_request(path_, {{"version", 1}, {"command", "status"}, {"argument", deep}}, 5s);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(*reply, (nlohmann::json{{"version", 1},
                                      {"ok", false},
                                      {"error", "the request is nested deeper than 16 levels"}}));
    EXPECT_TRUE(good_client_answered());
}

// A reply holds its answer under the command's name: a command named like
// one of the reply's own keys would overwrite it, so it is no command.
TEST(control_protocol, a_command_named_like_a_key_of_the_reply_is_refused) {
    for (const std::string name : {"version", "ok", "error"}) {
        const auto parsed_request = parse_control_request(R"({"version":1,"command":")" + name + "\"}");
        ASSERT_TRUE(std::holds_alternative<nlohmann::json>(parsed_request)) << name;
        EXPECT_EQ(std::get<nlohmann::json>(parsed_request),
                  (nlohmann::json{{"version", 1}, {"ok", false}, {"error", "'" + name + "' is not a command"}}));
    }
    EXPECT_TRUE(std::holds_alternative<control_call>(parse_control_request(R"({"version":1,"command":"oks"})")));
}

}  // namespace
}  // namespace fieldbridge::gateway
