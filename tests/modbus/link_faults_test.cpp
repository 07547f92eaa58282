// What the TCP-borne link backends do with peers that misbehave: a serial
// server that accepts a connection and closes it at once, a Modbus TCP
// gateway with a unit that never answers or answers what does not fit, a
// device that closes idle connections. Against the simulator where it can
// show the fault, else against a scripted peer on a loopback socket.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/rtu_over_tcp_link.hpp"
#include "drivers/modbus/simulator.hpp"
#include "drivers/modbus/tcp_stream_link.hpp"
#include "tests/support/captured_log.hpp"
#include "drivers/modbus/driven_link.hpp"
#include "tests/modbus/worker_fixture.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using testing_fixture::tcp_config;
using steady = std::chrono::steady_clock;

// A listening socket on an ephemeral loopback port; -1 when none can be had.
int listen_on_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
}

// A serial server whose one client slot is taken by someone else: it
// accepts every connection and closes it at once. Notes when each came.
class accept_and_close {
public:
    accept_and_close() : listener_(listen_on_loopback(port_)) {
        if (listener_ < 0) return;
        thread_ = std::jthread([this](const std::stop_token& stop) {
            while (!stop.stop_requested()) {
                pollfd p{listener_, POLLIN, 0};
                if (::poll(&p, 1, 20) != 1) continue;
                const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                {
                    // Noted before the close: the relay's wait runs from when it saw the close.
                    std::lock_guard lock(mutex_);
                    accepted_.push_back(steady::now());
                }
                ::close(c);
            }
        });
    }
    ~accept_and_close() {
        thread_ = {};
        if (listener_ >= 0) ::close(listener_);
    }
    accept_and_close(const accept_and_close&) = delete;
    accept_and_close& operator=(const accept_and_close&) = delete;
    std::uint16_t port() const { return port_; }
    std::vector<steady::time_point> accepted() const {
        std::lock_guard lock(mutex_);
        return accepted_;
    }

private:
    std::uint16_t port_ = 0;
    int listener_ = -1;
    mutable std::mutex mutex_;
    std::vector<steady::time_point> accepted_;
    std::jthread thread_;
};

// The reopen back-off holds for a connection that closes before anything
// came over it: 100 ms, then doubling. Reconnecting at once would make
// thousands of connections a second and log a warning for each.
TEST(rtu_over_tcp_link, a_converter_that_closes_every_connection_at_once_is_retried_with_back_off) {
    const testing::captured_log log;
    const accept_and_close converter;
    ASSERT_NE(converter.port(), 0);
    rtu_over_tcp_link l("line", config::tcp_link{"127.0.0.1", converter.port(), config::tcp_framing::rtu});
    // Sets the relay up (which may find a connection up for the moment it lasts).
    static_cast<void>(l.open(steady::now()));
    // Within 3 s the back-off (100, 200, 400, 800, 1600 ms) allows 5 or 6.
    EXPECT_FALSE(testing::wait_until([&] { return converter.accepted().size() > 8; }, 3s))
        << converter.accepted().size() << " connections in 3 s";
    const auto times = converter.accepted();
    ASSERT_GE(times.size(), 3u) << "it keeps trying";
    auto wait = 100ms;
    for (std::size_t i = 1; i < times.size(); ++i, wait = std::min(wait * 2, std::chrono::milliseconds(5000))) {
        EXPECT_GE(times[i] - times[i - 1], wait) << "between connection " << i << " and " << i + 1;
    }
    EXPECT_EQ(log.count("closed the connection before anything was answered"), 1u) << "told once, not each time";
}

config::device unit(std::uint8_t id, bool silent = false) {
    config::device d;
    d.name = "unit" + std::to_string(id);
    d.bus = "line";
    d.unit_id = id;
    d.timeout = 100ms;
    config::point setpoint;
    setpoint.name = "setpoint";
    setpoint.kind = config::register_kind::holding_register;
    setpoint.address = 40;
    setpoint.type = config::data_type::uint16;
    config::simulation s;
    s.value = 42;
    setpoint.simulate = s;
    d.points = {setpoint};
    if (silent) d.faults.miss_every = 1;  // never answers
    return d;
}

request read_setpoint(std::uint8_t unit_id) {
    request r;
    r.unit = unit_id;
    r.timeout = 100ms;
    r.byte_timeout = 100ms;
    r.function = function_code::read_holding_registers;
    r.address = 40;
    r.count = 1;
    return r;
}

request write_setpoint(std::uint8_t unit_id, std::uint16_t v) {
    auto r = read_setpoint(unit_id);
    r.function = function_code::write_single_register;
    r.values = {v};
    return r;
}

// Opens `l`, waiting (with a deadline) while its back-off says not yet.
bool open_within(blocking_link& l, std::chrono::milliseconds timeout) {
    return testing::wait_until([&] { return !l.open(steady::now()); }, timeout);
}

// A Modbus TCP device scripted request by request, for faults the simulator
// cannot show. One connection at a time (a new one replaces the last). It
// serves FC3 (each register holds 100 + its address) and FC6 (echoed).
class mbap_peer {
public:
    enum class action {
        answer,
        wrong_length,        // a whole, well-framed answer with one register too many
        close_after_answer,  // answers, then closes the connection (an idle timeout, short)
        close_unanswered,    // closes the connection without answering
        late,                // answers after late_by (past the request's timeout)
    };
    static constexpr auto late_by = 250ms;
    using script = std::function<action(std::uint8_t unit, std::uint8_t function)>;

    explicit mbap_peer(script s) : listener_(listen_on_loopback(port_)), script_(std::move(s)) {
        if (listener_ >= 0) thread_ = std::jthread([this](const std::stop_token& stop) { serve(stop); });
    }
    ~mbap_peer() {
        thread_ = {};
        if (listener_ >= 0) ::close(listener_);
    }
    mbap_peer(const mbap_peer&) = delete;
    mbap_peer& operator=(const mbap_peer&) = delete;

    std::uint16_t port() const { return port_; }
    unsigned connections() const { return connections_; }
    unsigned closes() const { return closes_; }  // connections it closed itself
    unsigned writes() const { return writes_; }  // FC6 requests received
    // For each request received, how long after its connection was accepted.
    std::vector<steady::duration> request_delays() const {
        std::lock_guard lock(mutex_);
        return request_delays_;
    }

private:
    void serve(const std::stop_token& stop) {
        int conn = -1;
        std::vector<std::uint8_t> in;
        steady::time_point accepted{};
        while (!stop.stop_requested()) {
            pollfd fds[2] = {{listener_, POLLIN, 0}, {conn, POLLIN, 0}};
            if (::poll(fds, conn >= 0 ? 2 : 1, 20) <= 0) continue;
            if ((fds[0].revents & POLLIN) != 0) {
                const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                if (conn >= 0) ::close(conn);
                conn = c;
                in.clear();
                accepted = steady::now();
                ++connections_;
                continue;
            }
            std::uint8_t chunk[256];
            const auto got = ::read(conn, chunk, sizeof chunk);
            if (got <= 0) {
                ::close(conn);
                conn = -1;
                continue;
            }
            in.insert(in.end(), chunk, chunk + got);
            while (conn >= 0 && in.size() >= 8) {
                const std::size_t size = 6 + static_cast<std::size_t>((in[4] << 8) | in[5]);
                if (in.size() < size) break;
                const std::vector<std::uint8_t> frame(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(size));
                in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(size));
                {
                    std::lock_guard lock(mutex_);
                    request_delays_.push_back(steady::now() - accepted);
                }
                if (!handle(conn, frame)) {
                    ::close(conn);
                    conn = -1;
                    ++closes_;
                }
            }
        }
        if (conn >= 0) ::close(conn);
    }

    // Answers one request frame; false: close the connection now.
    bool handle(int conn, const std::vector<std::uint8_t>& frame) {
        const std::uint8_t unit_id = frame[6];
        const std::uint8_t function = frame[7];
        if (function == 6) ++writes_;
        const auto what = script_(unit_id, function);
        if (what == action::close_unanswered) return false;
        if (what == action::late) std::this_thread::sleep_for(late_by);
        std::vector<std::uint8_t> pdu;
        if (function == 3) {
            const auto address = static_cast<std::uint16_t>((frame[8] << 8) | frame[9]);
            auto count = static_cast<std::uint16_t>((frame[10] << 8) | frame[11]);
            if (what == action::wrong_length) ++count;
            pdu = {3, static_cast<std::uint8_t>(2 * count)};
            for (std::uint16_t i = 0; i < count; ++i) {
                const auto v = static_cast<std::uint16_t>(100 + address + i);
                pdu.push_back(static_cast<std::uint8_t>(v >> 8));
                pdu.push_back(static_cast<std::uint8_t>(v & 0xFF));
            }
        } else {
            pdu.assign(frame.begin() + 7, frame.end());  // FC6: the request, echoed
        }
        const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
        std::vector<std::uint8_t> adu = {frame[0], frame[1], 0, 0, static_cast<std::uint8_t>(length >> 8),
                                         static_cast<std::uint8_t>(length & 0xFF), unit_id};
        adu.insert(adu.end(), pdu.begin(), pdu.end());
        if (::send(conn, adu.data(), adu.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(adu.size())) return false;
        return what != action::close_after_answer;
    }

    std::uint16_t port_ = 0;
    int listener_ = -1;
    script script_;
    std::atomic<unsigned> connections_{0};
    std::atomic<unsigned> closes_{0};
    std::atomic<unsigned> writes_{0};
    mutable std::mutex mutex_;
    std::vector<steady::duration> request_delays_;
    std::jthread thread_;
};

// A script: `what` for the next `count` requests (counted down as they
// come, settable from the test), then answers.
mbap_peer::script for_the_next(std::atomic<int>& count, mbap_peer::action what) {
    return [&count, what](std::uint8_t, std::uint8_t) {
        if (count > 0) {
            --count;
            return what;
        }
        return mbap_peer::action::answer;
    };
}

// The Modbus TCP backend, asked through the blocking interface.
template <class Link>
class tcp_faults : public ::testing::Test {
protected:
    static std::unique_ptr<Link> make(std::uint16_t port) {
        return std::make_unique<Link>("line", config::tcp_link{"127.0.0.1", port});
    }
};
using tcp_backends = ::testing::Types<driven_link<tcp_stream_link>>;
TYPED_TEST_SUITE(tcp_faults, tcp_backends);

// A Modbus TCP gateway in front of a serial line: one connection, several
// units. A unit that never answers is that unit's fault; the connection
// stays for the unit that answers.
TYPED_TEST(tcp_faults, a_unit_that_never_answers_leaves_the_connection_to_the_others) {
    const auto port = testing::free_tcp_port();
    simulator sim(tcp_config(port, {unit(1), unit(2, true), unit(3, true)}), "line");
    sim.start();
    const auto link = TestFixture::make(port);
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    ASSERT_FALSE(l.exchange(read_setpoint(1), answer));
    for (int i = 0; i < 3 * TypeParam::half_open_after; ++i) {
        EXPECT_EQ(l.exchange(read_setpoint(2), answer), make_error_code(modbus_errc::timeout));
        EXPECT_TRUE(l.connected()) << "after " << i + 1 << " timeout(s) of unit 2";
    }
    ASSERT_FALSE(l.exchange(read_setpoint(1), answer)) << "unit 1 is served on the same connection";
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{42});
    EXPECT_EQ(sim.connections(), 1u);
    EXPECT_EQ(l.reconnects(), 0u);

    // Nothing comes back from two units in a row: now it is the connection.
    EXPECT_EQ(l.exchange(read_setpoint(2), answer), make_error_code(modbus_errc::timeout));
    EXPECT_EQ(l.exchange(read_setpoint(3), answer), make_error_code(modbus_errc::timeout));
    EXPECT_TRUE(l.connected());
    EXPECT_EQ(l.exchange(read_setpoint(2), answer), make_error_code(modbus_errc::timeout));
    EXPECT_FALSE(l.connected()) << "taken for half-open";
    ASSERT_TRUE(open_within(l, 5s));
    ASSERT_FALSE(l.exchange(read_setpoint(1), answer));
}

// A unit that answers with whole, well-framed replies of the wrong length:
// its requests fail as invalid_response, the stream is in step, and the
// other units keep the connection.
TYPED_TEST(tcp_faults, a_well_framed_answer_that_does_not_fit_is_the_units_fault) {
    const mbap_peer peer([](std::uint8_t unit_id, std::uint8_t) {
        return unit_id == 7 ? mbap_peer::action::wrong_length : mbap_peer::action::answer;
    });
    ASSERT_NE(peer.port(), 0);
    const auto link = TestFixture::make(peer.port());
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    ASSERT_FALSE(l.exchange(read_setpoint(1), answer));
    for (int i = 0; i < 2 * TypeParam::half_open_after; ++i) {
        EXPECT_EQ(l.exchange(read_setpoint(7), answer), make_error_code(modbus_errc::invalid_response));
        EXPECT_TRUE(l.connected()) << "after " << i + 1 << " answer(s) of unit 7";
        ASSERT_FALSE(l.exchange(read_setpoint(1), answer)) << "after " << i + 1 << " answer(s) of unit 7";
        EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{140});
    }
    EXPECT_EQ(peer.connections(), 1u);
    EXPECT_EQ(l.reconnects(), 0u);
}

// A device whose answer comes after the request timed out: the late answer
// arrives while the next request waits, and is not taken for it (its
// transaction id is an old one); every later request gets its own answer.
// Through make_link: what scan and the one-shot commands are given.
TEST(make_link_faults, a_late_answer_is_dropped_and_the_next_requests_get_their_own) {
    std::atomic<int> late{0};
    const mbap_peer peer(for_the_next(late, mbap_peer::action::late));
    ASSERT_NE(peer.port(), 0);
    config::bus bus;
    bus.name = "line";
    bus.link = config::tcp_link{"127.0.0.1", peer.port()};
    const auto link = make_link(bus);
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    auto read_at = [](std::uint16_t address) {
        auto r = read_setpoint(1);
        r.address = address;
        r.timeout = 400ms;
        return r;
    };
    ASSERT_FALSE(l.exchange(read_at(10), answer));
    late = 1;
    auto first = read_at(20);
    first.timeout = 100ms;  // the answer comes 250 ms after the request
    EXPECT_EQ(l.exchange(first, answer), make_error_code(modbus_errc::timeout));
    for (std::uint16_t address = 30; address < 80; address += 10) {
        const auto error = l.exchange(read_at(address), answer);
        EXPECT_FALSE(error) << "address " << address << ": " << error.message();
        EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{static_cast<std::uint16_t>(100 + address)})
            << "address " << address;
    }
    EXPECT_EQ(peer.connections(), 1u);
}

// A device that closes the connection after every answer (an idle timeout,
// as short as it gets): each request, read or write, goes on a new
// connection opened quietly, and none fails. The device is deaf just after
// a connection opens (connect_pause): a request that reopens the
// connection waits the pause out, as the worker does after its own opens.
TYPED_TEST(tcp_faults, a_connection_the_peer_closed_while_idle_is_reopened_for_reads_and_writes) {
    const mbap_peer peer([](std::uint8_t, std::uint8_t) { return mbap_peer::action::close_after_answer; });
    ASSERT_NE(peer.port(), 0);
    const auto link = TestFixture::make(peer.port());
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    constexpr auto pause = 150ms;
    for (unsigned i = 1; i <= 6; ++i) {
        // The peer's close has gone out before the next request does.
        ASSERT_TRUE(testing::wait_until([&] { return peer.closes() == i - 1; }, 5s));
        auto r = i % 2 == 0 ? write_setpoint(1, static_cast<std::uint16_t>(i)) : read_setpoint(1);
        r.connect_pause = pause;
        const auto error = l.exchange(r, answer);
        EXPECT_FALSE(error) << "request " << i << ": " << error.message();
    }
    EXPECT_EQ(peer.writes(), 3u) << "each write sent once";
    EXPECT_EQ(peer.connections(), 6u);
    EXPECT_EQ(l.reconnects(), 0u) << "an idle connection closed by the device is not a broken link";
    const auto delays = peer.request_delays();
    ASSERT_EQ(delays.size(), 6u);
    // The first went on the test's own open. The peer notes the accept up
    // to one poll (20 ms) after the link saw its connection open.
    for (std::size_t i = 1; i < delays.size(); ++i) EXPECT_GE(delays[i], pause - 30ms) << "request " << i + 1;
}

// The peer closes the connection as the request arrives, unanswered: a
// read is asked once more on a new connection; a write is not repeated (it
// may have been carried out) and fails.
TYPED_TEST(tcp_faults, a_write_that_went_out_is_never_sent_twice) {
    std::atomic<int> to_close{0};  // requests to close unanswered, from now on
    const mbap_peer peer(for_the_next(to_close, mbap_peer::action::close_unanswered));
    ASSERT_NE(peer.port(), 0);
    const auto link = TestFixture::make(peer.port());
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    ASSERT_FALSE(l.exchange(read_setpoint(1), answer));
    to_close = 1;
    const auto error = l.exchange(read_setpoint(1), answer);
    EXPECT_FALSE(error) << error.message();
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{140});
    EXPECT_EQ(peer.connections(), 2u);

    to_close = 1;
    EXPECT_EQ(l.exchange(write_setpoint(1, 5), answer), make_error_code(modbus_errc::connection_failed));
    EXPECT_EQ(peer.writes(), 1u) << "not repeated";
    ASSERT_TRUE(open_within(l, 5s));
    EXPECT_FALSE(l.exchange(read_setpoint(1), answer));
}

// A Modbus TCP device that stops reading (stuck firmware, a full serial
// queue behind a gateway) but whose answers are already on their way: it
// never reads a byte, with a receive buffer as small as the system allows,
// and sends the answer to `write_block(1)` for transactions 1, 2, ... as
// fast as the link takes them. The link's requests fill the connection
// until one cannot be written whole.
class unread_peer {
public:
    unread_peer() {
        listener_ = listen_on_loopback(port_);
        if (listener_ < 0) return;
        const int smallest = 1;  // raised by the system to its minimum
        ::setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &smallest, sizeof smallest);
        thread_ = std::jthread([this](const std::stop_token& stop) { serve(stop); });
    }
    ~unread_peer() {
        thread_ = {};
        if (listener_ >= 0) ::close(listener_);
    }
    unread_peer(const unread_peer&) = delete;
    unread_peer& operator=(const unread_peer&) = delete;

    std::uint16_t port() const { return port_; }
    unsigned connections() const { return connections_; }
    std::size_t bytes_sent() const { return bytes_sent_; }

private:
    // Answers kept queued ahead of the link's requests: thousands, so that
    // the link never waits for this thread to send the next.
    static constexpr std::size_t ahead = std::size_t{64} * 1024;

    void serve(const std::stop_token& stop) {
        int conn = -1;
        std::uint16_t transaction = 0;
        std::vector<std::uint8_t> out;
        while (!stop.stop_requested()) {
            pollfd fds[2] = {{listener_, POLLIN, 0}, {conn, POLLOUT, 0}};
            if (::poll(fds, conn >= 0 ? 2 : 1, 20) <= 0) continue;
            if ((fds[0].revents & POLLIN) != 0) {
                const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c < 0) continue;
                if (conn >= 0) ::close(conn);
                conn = c;
                transaction = 0;
                out.clear();
                ++connections_;
                continue;
            }
            if (conn < 0 || (fds[1].revents & POLLOUT) == 0) continue;
            while (out.size() < ahead) {
                ++transaction;
                // MBAP header (length 6: unit + PDU), then FC16's answer: 123 registers from 40.
                const std::uint8_t echo[] = {static_cast<std::uint8_t>(transaction >> 8),
                                             static_cast<std::uint8_t>(transaction & 0xFF), 0, 0, 0, 6, 1, 16, 0, 40, 0, 123};
                out.insert(out.end(), std::begin(echo), std::end(echo));
            }
            const auto sent = ::send(conn, out.data(), out.size(), MSG_NOSIGNAL);
            if (sent > 0) {
                out.erase(out.begin(), out.begin() + sent);
                bytes_sent_ += static_cast<std::size_t>(sent);
            }
        }
        if (conn >= 0) ::close(conn);
    }

    std::uint16_t port_ = 0;
    int listener_ = -1;
    std::atomic<unsigned> connections_{0};
    std::atomic<std::size_t> bytes_sent_{0};
    std::jthread thread_;
};

// A request that cannot be written whole before its deadline may have gone
// out in part: the device holds half a frame, and the next request's bytes
// would complete it (half a write, then another's register and value). The
// stream is out of step; the connection is closed, and the next request
// goes on a new one.
// The longest write there is (FC16, 123 registers: 259 bytes on the wire).
request write_block(std::uint8_t unit_id) {
    auto r = read_setpoint(unit_id);
    r.function = function_code::write_multiple_registers;
    r.count = 123;
    r.values.assign(r.count, 5);
    return r;
}

TEST(tcp_stream_faults, a_request_not_written_whole_closes_the_connection) {
    const unread_peer peer;
    ASSERT_NE(peer.port(), 0);
    driven_link<tcp_stream_link> l("line", config::tcp_link{"127.0.0.1", peer.port()});
    ASSERT_TRUE(open_within(l, 5s));
    // The answers are on their way before the first request, and stay ahead
    // of the requests: a request times out only where it could not be sent.
    ASSERT_TRUE(testing::wait_until([&] { return peer.bytes_sent() >= 1024; }, 5s));
    auto r = write_block(1);
    r.timeout = 500ms;
    reply answer;
    std::error_code error;
    std::size_t answered = 0;
    // The socket buffers hold a few megabytes.
    while (answered < 1'000'000 && !(error = l.exchange(r, answer))) ++answered;
    ASSERT_EQ(error, make_error_code(modbus_errc::timeout)) << "after " << answered << " answered";
    EXPECT_GT(answered, 0u);
    EXPECT_FALSE(l.connected()) << "the connection the request was cut short on, after " << answered << " answered";
    EXPECT_EQ(peer.connections(), 1u);
    ASSERT_TRUE(open_within(l, 5s));
    EXPECT_TRUE(testing::wait_until([&] { return peer.connections() == 2; }, 5s));
}

// cancel() (the worker stops) during the connect_pause of a connection
// reopened for a request ends the exchange at once, the request unsent.
TEST(tcp_stream_faults, a_cancel_during_the_connect_pause_of_a_reopen_ends_it_unsent) {
    const mbap_peer peer([](std::uint8_t, std::uint8_t) { return mbap_peer::action::close_after_answer; });
    ASSERT_NE(peer.port(), 0);
    boost::asio::io_context io;
    tcp_stream_link l("line", config::tcp_link{"127.0.0.1", peer.port()}, io.get_executor());
    const auto run = [&](boost::asio::awaitable<std::error_code> op, std::chrono::milliseconds cancel_after) {
        std::optional<std::error_code> ended;
        io.restart();
        boost::asio::co_spawn(io, std::move(op), [&](const std::exception_ptr&, std::error_code e) { ended = e; });
        boost::asio::steady_timer cut(io);
        if (cancel_after.count() > 0) {
            cut.expires_after(cancel_after);
            cut.async_wait([&](const boost::system::error_code& e) { if (!e) l.cancel(); });
        }
        io.run_for(10s);
        return ended;
    };
    ASSERT_EQ(run(l.async_open(steady::now()), 0ms), std::error_code{});
    reply answer;
    ASSERT_EQ(run(l.async_exchange(read_setpoint(1), answer), 0ms), std::error_code{});
    ASSERT_TRUE(testing::wait_until([&] { return peer.closes() == 1; }, 5s));
    auto r = read_setpoint(1);
    r.connect_pause = 5s;
    const auto started = steady::now();
    EXPECT_EQ(run(l.async_exchange(r, answer), 100ms), make_error_code(modbus_errc::connection_failed));
    EXPECT_LT(steady::now() - started, 2s);
    EXPECT_EQ(peer.connections(), 2u);
    EXPECT_EQ(peer.request_delays().size(), 1u) << "the request after the cancel never went out";
}

// cancel() (the worker stops) ends an exchange as a cut connection, never
// as a timeout: the worker tells a write the device may have taken from one
// that failed by that.
TEST(tcp_stream_faults, an_exchange_cancelled_while_it_waits_ends_as_a_cut_connection_not_a_timeout) {
    const auto port = testing::free_tcp_port();
    simulator sim(tcp_config(port, {unit(2, true)}), "line");
    sim.start();
    boost::asio::io_context io;
    tcp_stream_link l("line", config::tcp_link{"127.0.0.1", port}, io.get_executor());
    std::optional<std::error_code> opened;
    boost::asio::co_spawn(io, l.async_open(steady::now()), [&](const std::exception_ptr&, std::error_code e) {
        opened = e;
    });
    io.run_for(5s);
    ASSERT_EQ(opened, std::error_code{});
    for (const bool write : {false, true}) {
        io.restart();
        auto r = write ? write_setpoint(2, 7) : read_setpoint(2);
        r.timeout = 20s;
        reply answer;
        std::optional<std::error_code> ended;
        boost::asio::co_spawn(io, l.async_exchange(r, answer), [&](const std::exception_ptr&, std::error_code e) {
            ended = e;
        });
        const auto asked = sim.requests();
        boost::asio::steady_timer cut(io);
        const std::function<void()> when_asked = [&] {
            if (sim.requests() > asked) return l.cancel();
            cut.expires_after(5ms);
            cut.async_wait([&](const boost::system::error_code&) { when_asked(); });
        };
        when_asked();
        const auto started = steady::now();
        io.run_for(10s);
        ASSERT_TRUE(ended.has_value()) << (write ? "write" : "read");
        EXPECT_EQ(*ended, make_error_code(modbus_errc::connection_failed)) << (write ? "write" : "read");
        EXPECT_LT(steady::now() - started, 10s);
        EXPECT_FALSE(l.connected());
        io.restart();
        opened.reset();
        boost::asio::co_spawn(io, l.async_open(steady::now()), [&](const std::exception_ptr&, std::error_code e) {
            opened = e;
        });
        ASSERT_TRUE(testing::wait_until([&] {
            io.run_for(20ms);
            if (opened && *opened) {  // backing off: ask again
                opened.reset();
                io.restart();
                boost::asio::co_spawn(io, l.async_open(steady::now()),
                                      [&](const std::exception_ptr&, std::error_code e) { opened = e; });
            }
            return opened && !*opened;
        }, 10s));
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
