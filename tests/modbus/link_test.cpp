// Each link backend against a real peer, through plain requests:
// tcp_stream_link (asked through the blocking interface, as scan and the
// one-shot commands ask it) against the simulator on a loopback port,
// rtu_link against the simulator
// on a socat pty pair (paced like a real line), rtu_over_tcp_link against
// the simulator serving as a converter. What a backend owns is checked
// here: opening and reopening, framing, the line's silence, and what a
// failure does to the connection.
#include <gtest/gtest.h>

#include <functional>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <modbus.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/modbus/crc16.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_context.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/pdu.hpp"
#include "drivers/modbus/retiring_workers.hpp"
#include "drivers/modbus/rtu_link.hpp"
#include "drivers/modbus/rtu_over_tcp_link.hpp"
#include "drivers/modbus/rtu_timing.hpp"
#include "drivers/modbus/simulator.hpp"
#include "drivers/modbus/tcp_stream_link.hpp"
#include "drivers/modbus/driven_link.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using fc = function_code;
using steady = std::chrono::steady_clock;

config::device device(std::uint8_t unit = 1) {
    config::device d;
    d.name = "meter";
    d.bus = "line";
    d.unit_id = unit;
    d.timeout = 200ms;
    config::point setpoint;
    setpoint.name = "setpoint";
    setpoint.kind = config::register_kind::holding_register;
    setpoint.address = 40;
    setpoint.type = config::data_type::uint16;
    config::simulation s;
    s.value = 42;
    setpoint.simulate = s;
    config::point relay;
    relay.name = "relay";
    relay.kind = config::register_kind::coil;
    relay.address = 5;
    relay.type = config::data_type::boolean;
    s.value = 1;
    relay.simulate = s;
    d.points = {setpoint, relay};
    return d;
}

config::gateway served(config::bus bus, std::vector<config::device> devices) {
    config::gateway g;
    g.buses.push_back(std::move(bus));
    g.devices = std::move(devices);
    return g;
}

config::bus tcp_bus(std::uint16_t port, config::tcp_framing framing = config::tcp_framing::mbap) {
    config::bus b;
    b.name = "line";
    b.link = config::tcp_link{"127.0.0.1", port, framing};
    return b;
}

request read_setpoint(const config::device& d) {
    auto r = to_device(d);
    r.function = fc::read_holding_registers;
    r.address = 40;
    r.count = 1;
    return r;
}

request write_setpoint(const config::device& d, std::uint16_t v) {
    auto r = to_device(d);
    r.function = fc::write_single_register;
    r.address = 40;
    r.count = 1;
    r.values = {v};
    return r;
}

request read_relay(const config::device& d) {
    auto r = to_device(d);
    r.function = fc::read_coils;
    r.address = 5;
    r.count = 1;
    return r;
}

// Opens `l`, waiting (with a deadline) while its back-off or a relay that
// is still connecting says not yet.
bool open_within(blocking_link& l, std::chrono::milliseconds timeout) {
    return testing::wait_until([&] { return !l.open(steady::now()); }, timeout);
}

// A read, a write and its read-back, a coil, an exception and a missing
// unit on an open link: the exchanges every backend must get right.
void expect_exchanges(blocking_link& l, std::error_code missing_unit) {
    const auto d = device();
    reply answer;
    ASSERT_FALSE(l.exchange(read_setpoint(d), answer));
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{42});
    ASSERT_FALSE(l.exchange(write_setpoint(d, 777), answer));
    ASSERT_FALSE(l.exchange(read_setpoint(d), answer));
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{777});
    ASSERT_FALSE(l.exchange(read_relay(d), answer));
    EXPECT_EQ(answer.bits, std::vector<std::uint8_t>{1});

    auto beyond = read_setpoint(d);
    beyond.address = 900;
    EXPECT_EQ(l.exchange(beyond, answer), make_error_code(modbus_errc::illegal_data_address));
    EXPECT_TRUE(l.connected()) << "an exception is an answer: the connection stays";

    EXPECT_EQ(l.exchange(read_setpoint(device(9)), answer), missing_unit);
    ASSERT_FALSE(l.exchange(read_setpoint(d), answer)) << "the link serves the next request";
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{777});
}

// The Modbus TCP backend, asked through the blocking interface.
template <class Link>
class tcp_backend : public ::testing::Test {
protected:
    static std::unique_ptr<Link> make(std::uint16_t port) {
        return std::make_unique<Link>("line", std::get<config::tcp_link>(tcp_bus(port).link));
    }
};
using tcp_backends = ::testing::Types<driven_link<tcp_stream_link>>;
TYPED_TEST_SUITE(tcp_backend, tcp_backends);

TYPED_TEST(tcp_backend, exchanges_with_the_simulator_and_reopens_after_it_went_away) {
    const auto port = testing::free_tcp_port();
    auto sim = std::make_unique<simulator>(served(tcp_bus(port), {device()}), "line");
    sim->start();
    const auto link = TestFixture::make(port);
    auto& l = *link;
    EXPECT_FALSE(l.connected());
    ASSERT_TRUE(open_within(l, 5s));
    EXPECT_TRUE(l.connected());
    // A Modbus TCP gateway answers for a unit it cannot reach with exception 11.
    expect_exchanges(l, make_error_code(modbus_errc::gateway_target_failed));

    sim.reset();
    reply answer;
    EXPECT_EQ(l.exchange(read_setpoint(device()), answer), make_error_code(modbus_errc::connection_failed));
    EXPECT_FALSE(l.connected()) << "a broken connection is closed";
    EXPECT_TRUE(l.open(steady::now())) << "nobody listens";
    sim = std::make_unique<simulator>(served(tcp_bus(port), {device()}), "line");
    sim->start();
    ASSERT_TRUE(open_within(l, 10s));
    EXPECT_EQ(l.reconnects(), 1u);
    EXPECT_FALSE(l.exchange(read_setpoint(device()), answer));
}

TYPED_TEST(tcp_backend, three_requests_in_a_row_without_an_answer_reopen_the_connection) {
    const auto port = testing::free_tcp_port();
    auto deaf = device();
    deaf.faults.miss_every = 1;  // never answers
    simulator sim(served(tcp_bus(port), {deaf}), "line");
    sim.start();
    const auto link = TestFixture::make(port);
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    auto r = read_setpoint(device());
    r.timeout = 50ms;
    reply answer;
    for (int i = 1; i < TypeParam::half_open_after; ++i) {
        EXPECT_EQ(l.exchange(r, answer), make_error_code(modbus_errc::timeout));
        EXPECT_TRUE(l.connected()) << "after " << i << " timeout(s)";
    }
    EXPECT_EQ(l.exchange(r, answer), make_error_code(modbus_errc::timeout));
    EXPECT_FALSE(l.connected()) << "taken for half-open";
    ASSERT_TRUE(open_within(l, 5s));
    EXPECT_EQ(l.reconnects(), 1u);
}

TYPED_TEST(tcp_backend, release_closes_without_counting_a_reconnect_and_connect_pause_holds_the_first_request) {
    const auto port = testing::free_tcp_port();
    simulator sim(served(tcp_bus(port), {device()}), "line");
    sim.start();
    const auto link = TestFixture::make(port);
    auto& l = *link;
    ASSERT_TRUE(open_within(l, 5s));
    const auto opened = steady::now();
    EXPECT_EQ(l.ready_at(0ms), steady::time_point{});
    EXPECT_GE(l.ready_at(300ms), opened + 300ms - 50ms);
    EXPECT_LE(l.ready_at(300ms), opened + 300ms);
    l.release();
    EXPECT_FALSE(l.connected());
    ASSERT_TRUE(open_within(l, 5s));
    EXPECT_EQ(l.reconnects(), 0u) << "a close the device asked for is not a reconnect";
    EXPECT_TRUE(testing::wait_until([&] { return sim.connections() == 2; }, 5s));
}

// RTU on a pty pair, the simulator on the far end.
class rtu_link_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "fieldbridge-link-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        socat_ = std::make_unique<testing::child_process>(std::vector<std::string>{
            "socat", "pty,raw,echo=0,link=" + (dir_ / "master").string(),
            "pty,raw,echo=0,link=" + (dir_ / "device").string()});
        ASSERT_TRUE(testing::wait_until(
            [&] { return fs::exists(dir_ / "master") && fs::exists(dir_ / "device"); }, 10s))
            << socat_->output();
    }
    void TearDown() override {
        socat_.reset();
        fs::remove_all(dir_);
    }
    config::bus rtu_bus(std::uint32_t baud, bool wire_timing) const {
        config::bus b;
        b.name = "line";
        config::rtu_link l;
        l.device = (dir_ / "master").string();
        l.baud = baud;
        l.simulator_wire_timing = wire_timing;
        b.link = l;
        return b;
    }
    std::unique_ptr<simulator> serve(const config::bus& bus) {
        auto sim = std::make_unique<simulator>(served(bus, {device()}), "line",
                                               simulator_options{"", 0, (dir_ / "device").string(), -1});
        sim->start();
        return sim;
    }

    fs::path dir_;
    std::unique_ptr<testing::child_process> socat_;
};

TEST_F(rtu_link_test, exchanges_with_the_simulator_and_a_silent_unit_is_a_timeout_that_leaves_the_line_up) {
    const auto bus = rtu_bus(19200, false);
    const auto sim = serve(bus);
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    // On a line a unit nobody has is silent.
    expect_exchanges(l, make_error_code(modbus_errc::timeout));
    EXPECT_TRUE(l.connected());
    EXPECT_EQ(l.reconnects(), 0u);
    l.release();
    EXPECT_TRUE(l.connected()) << "the line is shared: close_after_poll leaves it open";
}

// Requests back to back, without waiting for ready_at(): the backend keeps
// the 3.5-character silence itself, after answers and after a timed-out
// request alike. The simulator, pacing the pty like a 9600 baud line,
// counts every request that came too soon.
TEST_F(rtu_link_test, back_to_back_requests_keep_the_frame_silence) {
    const auto bus = rtu_bus(9600, true);
    const auto sim = serve(bus);
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    reply answer;
    const auto silence = frame_silence(std::get<config::rtu_link>(bus.link));
    for (int i = 0; i < 20; ++i) {
        const auto before = steady::now();
        ASSERT_FALSE(l.exchange(read_setpoint(device()), answer)) << "request " << i;
        EXPECT_GE(l.ready_at(0ms), before + silence) << "the silence follows the answer";
        ASSERT_FALSE(l.exchange(write_setpoint(device(), static_cast<std::uint16_t>(i)), answer)) << "write " << i;
        ASSERT_FALSE(l.exchange(read_relay(device()), answer)) << "coil " << i;
    }
    EXPECT_EQ(sim->silence_violations(), 0u) << "of " << sim->requests() << " requests";
    EXPECT_EQ(sim->requests(), 60u);
}

// What the line carries before a request is dropped: a frame that comes
// while a late answer is awaited does not end the wait (the late answer may
// come after it), and the wait ends only after the quiet that follows the
// last byte.
// Every errno libmodbus sets for an answer is a device's answer or garbage,
// never a lost link (which would close and reopen the port for everyone).
TEST(from_libmodbus_errno, answers_are_exceptions_or_garbage_and_only_the_rest_a_lost_link) {
    // Exception codes read as parse_answer (the framing of Modbus TCP and
    // RTU over TCP) reads them: one device, one meaning on either transport.
    for (std::uint8_t code = 0; code <= 11; ++code) {
        const auto e = from_libmodbus_errno(MODBUS_ENOBASE + code);
        request read;
        read.function = function_code::read_holding_registers;
        read.count = 1;
        reply answer;
        const std::vector<std::uint8_t> pdu{0x83, code};
        EXPECT_EQ(e, parse_answer(read, pdu, answer)) << int(code);
        EXPECT_TRUE(is_exception(e)) << int(code);
        EXPECT_EQ(&e.category(), &modbus_category());
    }
    for (const int e : {EMBBADCRC, EMBBADDATA, EMBMDATA, EMBBADSLAVE}) {
        EXPECT_EQ(from_libmodbus_errno(e), make_error_code(modbus_errc::invalid_response)) << e;
    }
    EXPECT_EQ(from_libmodbus_errno(EMBBADEXC), make_error_code(modbus_errc::unknown_exception));
    EXPECT_EQ(from_libmodbus_errno(ETIMEDOUT), make_error_code(modbus_errc::timeout));
    for (const int e : {EPIPE, ECONNRESET, EBADF, EIO}) {
        EXPECT_EQ(from_libmodbus_errno(e), make_error_code(modbus_errc::connection_failed)) << e;
    }
}

TEST(drain_line, waits_for_the_late_answer_past_other_frames_then_for_quiet) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    const auto start = steady::now();
    std::jthread peer([&] {
        const std::uint8_t other[3] = {2, 3, 0};
        const std::uint8_t awaited[7] = {1, 3, 2, 0, 1, 0, 0};
        std::this_thread::sleep_until(start + 20ms);
        (void)::write(pair[1], other, sizeof other);
        std::this_thread::sleep_until(start + 150ms);
        (void)::write(pair[1], awaited, sizeof awaited);
    });
    EXPECT_EQ(drain_line(pair[0], start + 200ms, 30ms), 10u) << "both frames dropped";
    EXPECT_GE(steady::now(), start + 200ms);
    peer.join();
    // Bytes already there and a quiet line after them: dropped, at once
    // after the quiet when no late answer is awaited.
    const std::uint8_t stray[4] = {9, 9, 9, 9};
    ASSERT_EQ(::write(pair[1], stray, sizeof stray), 4);
    const auto again = steady::now();
    EXPECT_EQ(drain_line(pair[0], {}, 30ms), 4u);
    EXPECT_LT(steady::now(), again + 1s);
    EXPECT_EQ(drain_line(pair[0], {}, 30ms), 0u) << "a quiet line: nothing to drop";
    ::close(pair[0]);
    ::close(pair[1]);
}

// A device that answers each read of one register (FC 3), in RTU frames,
// with the number of the request (plus 1000 for each register past 40),
// late by what `lateness` says for that number: on the far end of the pty, or behind a converter (the first
// connection to a TCP port on loopback). Stopped and closed when it goes
// out of scope.
// The timeout of the late-answer tests, and a lateness within one more
// timeout, with room for a loaded machine either side.
constexpr auto line_timeout = 400ms;
constexpr auto late = 600ms;

// Device 1's read of register 40 with the late-answer tests' timeout.
request slow_read() {
    auto r = read_setpoint(device());
    r.timeout = line_timeout;
    return r;
}

class numbering_device {
public:
    using lateness_of = std::function<std::chrono::milliseconds(std::uint16_t)>;
    numbering_device(const std::filesystem::path& tty, lateness_of lateness)
        : fd_(::open(tty.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC)), lateness_(std::move(lateness)) {
        if (fd_ >= 0) thread_ = std::jthread([this](const std::stop_token& stop) { answer(stop); });
    }
    numbering_device(std::uint16_t port, lateness_of lateness)
        : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), lateness_(std::move(lateness)) {
        const int on = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listener_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 1) != 0) return;
        thread_ = std::jthread([this](const std::stop_token& stop) {
            while (!stop.stop_requested() && fd_ < 0) {
                pollfd p{listener_, POLLIN, 0};
                if (::poll(&p, 1, 20) == 1) fd_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            }
            answer(stop);
        });
    }
    ~numbering_device() {
        thread_ = {};  // stop and join before the descriptors go
        if (fd_ >= 0) ::close(fd_);
        if (listener_ >= 0) ::close(listener_);
    }
    numbering_device(const numbering_device&) = delete;
    numbering_device& operator=(const numbering_device&) = delete;
    bool ok() const { return thread_.joinable(); }

private:
    void answer(const std::stop_token& stop) const {
        std::vector<std::uint8_t> buf;
        std::uint16_t number = 0;
        while (!stop.stop_requested()) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) != 1) continue;
            std::uint8_t chunk[64];
            const auto got = ::read(fd_, chunk, sizeof chunk);
            if (got <= 0) continue;
            buf.insert(buf.end(), chunk, chunk + got);
            for (; buf.size() >= 8; ++number) {  // FC 3 requests: 8 bytes each
                std::this_thread::sleep_for(lateness_(number));
                const auto address = static_cast<std::uint16_t>((buf[2] << 8) | buf[3]);
                const auto value = static_cast<std::uint16_t>(number + 1000 * (address - 40));
                std::uint8_t answer[7] = {buf[0], 3, 2, static_cast<std::uint8_t>(value >> 8),
                                          static_cast<std::uint8_t>(value & 0xFF), 0, 0};
                const auto crc = crc16(std::span<const std::uint8_t>(answer, 5));
                answer[5] = static_cast<std::uint8_t>(crc & 0xFF);
                answer[6] = static_cast<std::uint8_t>(crc >> 8);
                if (::write(fd_, answer, sizeof answer) != static_cast<ssize_t>(sizeof answer)) return;
                buf.erase(buf.begin(), buf.begin() + 8);
            }
        }
    }

    int fd_ = -1;
    int listener_ = -1;
    lateness_of lateness_;
    std::jthread thread_;
};

// Against a numbering_device whose first answer is late: the first request
// times out, each later one gets its own answer.
void expect_only_the_first_request_unanswered(blocking_link& l) {
    reply answer;
    EXPECT_EQ(l.exchange(slow_read(), answer), make_error_code(modbus_errc::timeout));
    for (std::uint16_t n = 1; n < 12; ++n) {
        const auto error = l.exchange(slow_read(), answer);
        EXPECT_FALSE(error) << "request " << n << ": " << error.message();
        EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{n}) << "request " << n;
    }
}

// A device that answers one request after the master's timeout (600 ms,
// the timeout is 400 ms): its late answer reaches the line while the master
// waits for the next one, with the same unit, function and length as that
// one's. A master that reads on from there takes every later answer for the
// request after it, well-formed and wrong, for as long as it polls. Here
// every request after the late one gets its own answer.
TEST_F(rtu_link_test, a_late_answer_is_never_taken_for_a_later_request) {
    const auto bus = rtu_bus(19200, false);
    const numbering_device dev(dir_ / "device", [](std::uint16_t n) { return n == 0 ? late : 0ms; });
    ASSERT_TRUE(dev.ok());
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    expect_only_the_first_request_unanswered(l);
}

// A device late every time (600 ms against a 400 ms timeout), read as the
// bus worker reads a device of two blocks: each request asked again at
// once after a timeout. A retry may take the late answer to its first
// attempt (it asks the same); no request ever takes the answer to another.
TEST_F(rtu_link_test, a_retry_takes_a_late_answer_only_to_its_own_question) {
    const auto bus = rtu_bus(19200, false);
    const numbering_device dev(dir_ / "device", [](std::uint16_t) { return late; });
    ASSERT_TRUE(dev.ok());
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    int answered = 0;
    for (int cycle = 0; cycle < 2; ++cycle) {
        for (const int address : {40, 41}) {
            auto r = slow_read();
            r.address = static_cast<std::uint16_t>(address);
            for (int attempt = 0; attempt < 2; ++attempt) {
                r.retry = attempt > 0;
                reply answer;
                if (l.exchange(r, answer)) continue;
                ASSERT_EQ(answer.registers.size(), 1u);
                EXPECT_EQ(answer.registers[0] / 1000, address - 40)
                    << "register " << address << " took the answer to register " << 40 + answer.registers[0] / 1000;
                ++answered;
                break;
            }
        }
    }
    // Each retry here takes the late answer to its first attempt.
    EXPECT_GE(answered, 2) << "the reads must be answered for the check to mean anything";
}

// Two units on the line, asked in turn; unit 1's first answer comes 600 ms
// late (the timeout is 400 ms) and lands in unit 2's exchange. It may make
// that exchange fail (a frame of another unit), never pass for its answer,
// and no later answer passes for another request's.
TEST_F(rtu_link_test, a_late_answer_of_one_unit_is_never_taken_for_another_request) {
    const auto bus = rtu_bus(19200, false);
    const numbering_device dev(dir_ / "device", [](std::uint16_t n) { return n == 0 ? late : 0ms; });
    ASSERT_TRUE(dev.ok());
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    int answered = 0;
    for (int n = 0; n < 12; ++n) {
        auto r = slow_read();
        r.unit = static_cast<std::uint8_t>(1 + n % 2);
        reply answer;
        const auto error = l.exchange(r, answer);
        if (n == 0) {
            EXPECT_EQ(error, make_error_code(modbus_errc::timeout));
        }
        if (error) continue;
        ++answered;
        // The device answers every request, in order, with its number.
        EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{static_cast<std::uint16_t>(n)})
            << "request " << n << " took another request's answer";
    }
    EXPECT_GE(answered, 9) << "at most the late answer's and its victim's exchanges fail";
}

// A device late every time (600 ms against a 400 ms timeout) is a device
// that does not answer in time: every request times out, none takes the
// answer of the one before.
TEST_F(rtu_link_test, a_device_late_every_time_times_out_every_time) {
    const auto bus = rtu_bus(19200, false);
    const numbering_device dev(dir_ / "device", [](std::uint16_t) { return late; });
    ASSERT_TRUE(dev.ok());
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    ASSERT_TRUE(open_within(l, 5s));
    for (int n = 0; n < 6; ++n) {
        reply answer;
        const auto error = l.exchange(slow_read(), answer);
        EXPECT_EQ(error, make_error_code(modbus_errc::timeout))
            << "request " << n << " got " << (answer.registers.empty() ? -1 : int{answer.registers[0]});
    }
}

TEST_F(rtu_link_test, a_line_that_cannot_be_opened_backs_off_then_opens_when_it_appears) {
    auto bus = rtu_bus(19200, false);
    std::get<config::rtu_link>(bus.link).device = (dir_ / "not-yet").string();
    rtu_link l("line", std::get<config::rtu_link>(bus.link));
    const auto now = steady::now();
    EXPECT_EQ(l.open(now), make_error_code(modbus_errc::connection_failed));
    // The next attempt waits out the back-off: nothing is tried before it.
    fs::create_symlink(fs::read_symlink(dir_ / "master"), dir_ / "not-yet");
    EXPECT_EQ(l.open(now + 50ms), make_error_code(modbus_errc::connection_failed));
    EXPECT_FALSE(l.connected());
    EXPECT_FALSE(l.open(now + 100ms));
    EXPECT_TRUE(l.connected());
}

// Two buses on one serial port under two names (a by-id link and the node
// itself): the second cannot open it while the first has it, and can once
// the first let it go.
TEST_F(rtu_link_test, a_port_another_bus_has_open_under_another_name_does_not_open) {
    auto first = rtu_bus(19200, false);
    auto second = first;
    fs::create_symlink(dir_ / "master", dir_ / "by-id");
    std::get<config::rtu_link>(second.link).device = (dir_ / "by-id").string();
    rtu_link a("line", std::get<config::rtu_link>(first.link));
    rtu_link b("other", std::get<config::rtu_link>(second.link));
    const auto now = steady::now();
    ASSERT_FALSE(a.open(now));
    EXPECT_EQ(b.open(now), make_error_code(modbus_errc::connection_failed));
    EXPECT_FALSE(b.connected());
    a.close();
    EXPECT_FALSE(b.open(now + 100ms));  // after the back-off
    EXPECT_TRUE(b.connected());
}

// A reload that moves a bus from one name of its port to another starts the
// new worker only once the old one let the port go: retiring_workers::busy
// takes the two names for one link (and the new worker does not run into
// the old one's lock and warn that the port is in use).
TEST_F(rtu_link_test, two_names_of_one_serial_port_are_one_link) {
    auto node = rtu_bus(19200, false);
    auto by_id = node;
    fs::create_symlink(dir_ / "master", dir_ / "by-id");
    std::get<config::rtu_link>(by_id.link).device = (dir_ / "by-id").string();
    EXPECT_TRUE(same_link(link_of(node), link_of(by_id)));
    auto other = node;
    std::get<config::rtu_link>(other.link).device = "/dev/null";
    EXPECT_FALSE(same_link(link_of(node), link_of(other)));
    // A port that is not there (yet) is known by its name alone.
    auto absent = node;
    std::get<config::rtu_link>(absent.link).device = (dir_ / "absent").string();
    EXPECT_TRUE(same_link(link_of(absent), link_of(absent)));
    EXPECT_FALSE(same_link(link_of(absent), link_of(node)));
    // Modbus TCP: host and port.
    EXPECT_TRUE(same_link(link_of(tcp_bus(502, config::tcp_framing::mbap)),
                          link_of(tcp_bus(502, config::tcp_framing::rtu))));
    EXPECT_FALSE(same_link(link_of(tcp_bus(502, config::tcp_framing::mbap)),
                           link_of(tcp_bus(503, config::tcp_framing::mbap))));
}

TEST(rtu_over_tcp_link, exchanges_through_the_converter_and_reconnects_when_it_comes_back) {
    const auto port = testing::free_tcp_port();
    const auto bus = tcp_bus(port, config::tcp_framing::rtu);
    auto sim = std::make_unique<simulator>(served(bus, {device()}), "line");
    sim->start();
    rtu_over_tcp_link l("line", std::get<config::tcp_link>(bus.link));
    ASSERT_TRUE(open_within(l, 10s));
    EXPECT_TRUE(l.connected());
    // Behind a converter a unit nobody has is silent, as on a line, and the
    // connection stays up for the others.
    expect_exchanges(l, make_error_code(modbus_errc::timeout));
    EXPECT_EQ(sim->connections(), 1u);
    l.release();
    EXPECT_TRUE(l.connected()) << "the converter's connection carries every device behind it";

    sim.reset();
    ASSERT_TRUE(testing::wait_until([&] { return !l.connected(); }, 10s));
    EXPECT_EQ(l.open(steady::now()), make_error_code(modbus_errc::connection_failed));
    sim = std::make_unique<simulator>(served(bus, {device()}), "line");
    sim->start();
    ASSERT_TRUE(open_within(l, 15s));
    EXPECT_EQ(l.reconnects(), 1u);
    reply answer;
    EXPECT_FALSE(l.exchange(read_setpoint(device()), answer));
    EXPECT_EQ(answer.registers, std::vector<std::uint16_t>{42});
}

// Behind a converter, lateness is mostly the network's: the late answer
// (600 ms against a 400 ms timeout) is still on its way when the next
// request goes. It is not taken for that one's, nor for any later one's.
TEST(rtu_over_tcp_link, a_late_answer_is_never_taken_for_a_later_request) {
    const auto port = testing::free_tcp_port();
    const numbering_device dev(port, [](std::uint16_t n) { return n == 0 ? late : 0ms; });
    ASSERT_TRUE(dev.ok());
    rtu_over_tcp_link l("line", std::get<config::tcp_link>(tcp_bus(port, config::tcp_framing::rtu).link));
    ASSERT_TRUE(open_within(l, 10s));
    expect_only_the_first_request_unanswered(l);
}

TEST(make_link, picks_the_backend_the_bus_names) {
    EXPECT_NE(dynamic_cast<driven_link<tcp_stream_link>*>(make_link(tcp_bus(1502)).get()), nullptr);
    EXPECT_NE(dynamic_cast<rtu_over_tcp_link*>(make_link(tcp_bus(1502, config::tcp_framing::rtu)).get()), nullptr);
    config::bus serial;
    serial.name = "line";
    serial.link = config::rtu_link{};
    EXPECT_NE(dynamic_cast<rtu_link*>(make_link(serial).get()), nullptr);
}

}  // namespace
}  // namespace fieldbridge::modbus
