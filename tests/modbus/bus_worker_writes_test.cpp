// The bus worker's writes against the polls around them, through a scripted
// fake link that keeps what is written like a device: a write let in
// between the block reads of a poll, writes queued when the worker stops,
// and a stream of commands on a polled bus. No socket; the worker's thread
// is held and released at a request, and waited on with deadlines.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/retiring_workers.hpp"
#include "tests/modbus/fake_link.hpp"
#include "tests/modbus/worker_fixture.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using testing_fixture::fake_bus;
using fc = function_code;

// Holding registers 0 and 5 read in one block, and the coil "pump" at 7 in
// another (coils are read first): a poll of two block reads.
config::device plant() {
    config::device d;
    d.name = "plant";
    d.bus = "line";
    d.unit_id = 3;
    d.poll_interval = 1ms;
    d.retries = 0;
    d.offline_poll_interval = 0ms;
    config::point a;
    a.name = "a";
    a.kind = config::register_kind::holding_register;
    a.address = 0;
    a.type = config::data_type::uint16;
    auto b = a;
    b.name = "b";
    b.address = 5;
    config::point pump;
    pump.name = "pump";
    pump.kind = config::register_kind::coil;
    pump.address = 7;
    pump.type = config::data_type::boolean;
    d.points = {a, b, pump};
    return d;
}
constexpr std::size_t pump = 2;

// Holds the worker's thread inside a request until the test opens it.
class gate {
public:
    void pass() {
        std::unique_lock lock(mutex_);
        held_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return open_; });
    }
    bool wait_held(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [this] { return held_; });
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool held_ = false;
    bool open_ = false;
};

// A device on the fake link: keeps what is written and answers reads with
// it; the first request of function `hold_at` waits at the gate.
void serve(fake_peer& peer, gate& g, std::optional<fc> hold_at) {
    struct memory {
        std::map<std::uint16_t, std::uint16_t> registers, coils;
        bool held = false;
    };
    peer.respond_with([&g, hold_at, m = std::make_shared<memory>()](const request& q, reply& answer) {
        if (hold_at && q.function == *hold_at && !m->held) {
            m->held = true;
            g.pass();
        }
        switch (q.function) {
            case fc::write_single_coil: m->coils[q.address] = q.values.at(0); break;
            case fc::write_single_register: m->registers[q.address] = q.values.at(0); break;
            case fc::read_coils:
                answer.bits.clear();
                for (std::uint16_t i = 0; i < q.count; ++i) answer.bits.push_back(m->coils[q.address + i] != 0);
                break;
            case fc::read_holding_registers:
                answer.registers.clear();
                for (std::uint16_t i = 0; i < q.count; ++i) answer.registers.push_back(m->registers[q.address + i]);
                break;
            default: return make_error_code(modbus_errc::illegal_function);
        }
        return std::error_code{};
    });
}

// What reached the owner, in the order it did: poll results and the
// outcomes of writes (both handed over on the worker's thread).
class events {
public:
    struct event {
        std::optional<poll_result> poll;
        std::optional<point_result> write;
    };
    bus_worker::result_handler polls() {
        return [this](poll_result r) {
            r.receipt.reset();
            add({std::move(r), std::nullopt});
        };
    }
    bus_worker::point_handler writes() {
        return [this](point_result r) { add({std::nullopt, std::move(r)}); };
    }
    template <class Pred>
    bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(got_); });
    }
    std::vector<event> all() {
        std::lock_guard lock(mutex_);
        return got_;
    }

private:
    void add(event e) {
        std::lock_guard lock(mutex_);
        got_.push_back(std::move(e));
        changed_.notify_all();
    }
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<event> got_;
};

std::size_t count_polls(const std::vector<events::event>& es) {
    std::size_t n = 0;
    for (const auto& e : es) n += e.poll ? 1u : 0u;
    return n;
}
std::size_t count_writes(const std::vector<events::event>& es) {
    std::size_t n = 0;
    for (const auto& e : es) n += e.write ? 1u : 0u;
    return n;
}

const sample* sample_of(const poll_result& r, std::size_t point) {
    for (const auto& s : r.samples) {
        if (s.point == point) return &s;
    }
    return nullptr;
}

struct rig {
    explicit rig(config::device d = plant(), bool poll = true)
        : device(std::move(d)),
          peer(std::make_shared<fake_peer>()),
          worker(fake_bus(), {device}, got.polls(), poll, fake_link::factory(peer)) {}
    config::device device;
    std::shared_ptr<fake_peer> peer;
    gate g;
    events got;
    bus_worker worker;  // last: stopped before the rest goes
};

// A write let in between the blocks of a poll comes after the block that
// read its point: the poll result, handed over after the write's read-back,
// must not carry the value the write replaced (the core would publish the
// old value as a change). The sample is left out; it counts as no failure.
TEST(bus_worker_writes, a_poll_result_carries_no_sample_read_before_a_write_of_its_point) {
    rig r;
    serve(*r.peer, r.g, fc::read_coils);  // block 1 of the first poll waits at the gate
    r.worker.start();
    ASSERT_TRUE(r.g.wait_held());
    r.worker.write(0, pump, value{true}, r.got.writes());  // queued while block 1 is in flight
    r.g.open();
    ASSERT_TRUE(r.got.wait([](const auto& es) { return count_writes(es) == 1 && count_polls(es) >= 3; }));
    r.worker.stop();

    // The write's outcome comes first: the first poll was the one held.
    const auto es = r.got.all();
    ASSERT_TRUE(es.front().write);
    ASSERT_FALSE(es.front().write->error) << es.front().write->error.message();
    EXPECT_EQ(es.front().write->readback, std::vector<std::uint16_t>{1});
    for (std::size_t i = 1; i < es.size(); ++i) {
        ASSERT_TRUE(es[i].poll);
        const auto* s = sample_of(*es[i].poll, pump);
        if (s == nullptr) continue;  // left out: read before the write
        EXPECT_TRUE(s->quality.good);
        EXPECT_EQ(s->words, std::vector<std::uint16_t>{1}) << "poll " << i << " after the write carries the old value";
    }
    // The interrupted poll: the other points as read, pump left out, and no
    // failure counted for it.
    const auto& interrupted = *es.at(1).poll;
    EXPECT_EQ(sample_of(interrupted, pump), nullptr);
    ASSERT_NE(sample_of(interrupted, 0), nullptr);
    EXPECT_TRUE(sample_of(interrupted, 0)->quality.good);
    device_health health;
    health.offline_after = 1;
    health.record(interrupted);
    EXPECT_EQ(health.state(), device_state::online);
    EXPECT_EQ(health.failed_polls, 0u);
    EXPECT_EQ(r.worker.counters(0).timeouts + r.worker.counters(0).other_errors, 0u);
}

// The same with the poll's other block failing (exception 4 to every read
// of the registers): the coil block answered, its sample is left out for
// the write after it, and nothing good is left in the result. The device
// answered all the same: the poll is no failed one (a setpoint written
// every cycle beside a block that always fails must not take the device
// offline, and with it the writes).
TEST(bus_worker_writes, a_poll_whose_only_good_values_a_write_made_stale_still_counts_as_answered) {
    rig r;
    auto device = std::make_shared<fake_peer>();
    serve(*device, r.g, fc::read_coils);
    r.peer->respond_with([device](const request& q, reply& answer) {
        if (q.function == fc::read_holding_registers) return make_error_code(modbus_errc::server_device_failure);
        return device->respond(q, answer);
    });
    r.worker.start();
    ASSERT_TRUE(r.g.wait_held());
    r.worker.write(0, pump, value{true}, r.got.writes());
    r.g.open();
    ASSERT_TRUE(r.got.wait([](const auto& es) { return count_writes(es) == 1 && count_polls(es) >= 2; }));
    r.worker.stop();
    const auto es = r.got.all();
    ASSERT_TRUE(es.front().write);
    ASSERT_FALSE(es.front().write->error) << es.front().write->error.message();
    const auto& interrupted = *es.at(1).poll;
    EXPECT_EQ(sample_of(interrupted, pump), nullptr);
    ASSERT_NE(sample_of(interrupted, 0), nullptr);
    EXPECT_FALSE(sample_of(interrupted, 0)->quality.good);
    EXPECT_TRUE(interrupted.overwritten_good);
    device_health health;
    health.offline_after = 1;
    health.record(interrupted);
    EXPECT_EQ(health.state(), device_state::online);
    EXPECT_EQ(health.failed_polls, 0u);
    // A poll with nothing good and no write is a failed one, as before.
    auto failed = interrupted;
    failed.overwritten_good = false;
    health.record(failed);
    EXPECT_EQ(health.state(), device_state::offline);
}

std::vector<point_result> write_outcomes(const std::vector<events::event>& es) {
    std::vector<point_result> out;
    for (const auto& e : es) {
        if (e.write) out.push_back(*e.write);
    }
    return out;
}

// Every command gets a reply: writes still queued when the worker is told
// to stop are answered with why they were not sent, at once (not after the
// request in flight, which may take a device timeout), and so is one queued
// after; none of them reaches the device.
TEST(bus_worker_writes, writes_still_queued_when_the_worker_stops_are_answered_with_the_reason) {
    rig r;
    serve(*r.peer, r.g, fc::read_coils);  // the first request of the first poll does not end
    r.worker.start();
    ASSERT_TRUE(r.g.wait_held());
    r.worker.write(0, pump, value{true}, r.got.writes());
    r.worker.write(0, 0, value{std::uint64_t{5}}, r.got.writes());
    r.worker.request_stop();
    EXPECT_TRUE(r.got.wait([](const auto& es) { return count_writes(es) == 2; }))
        << "answered while the request in flight still runs";
    r.g.open();
    r.worker.stop();
    r.worker.write(0, 0, value{std::uint64_t{6}}, r.got.writes());
    const auto outcomes = write_outcomes(r.got.all());
    ASSERT_EQ(outcomes.size(), 3u);
    for (const auto& o : outcomes) {
        EXPECT_EQ(o.error, make_error_code(modbus_errc::not_sent));
        EXPECT_TRUE(o.readback.empty());
    }
    for (const auto& q : r.peer->requests()) EXPECT_EQ(q.function, fc::read_coils) << "no write went out";
}

// The owner says why: a reload that replaces the bus's worker (bus_set
// hands it to retiring_workers) answers its queued writes with that, and
// so does a stop that no request holds up, on a worker never started.
TEST(bus_worker_writes, a_worker_retired_by_a_reload_answers_its_queued_writes_with_that_reason) {
    auto peer = std::make_shared<fake_peer>();
    gate g;
    serve(*peer, g, fc::read_coils);
    events got;
    auto worker = std::make_unique<bus_worker>(fake_bus(), std::vector<config::device>{plant()}, got.polls(), true,
                                               fake_link::factory(peer));
    worker->start();
    ASSERT_TRUE(g.wait_held());
    worker->write(0, pump, value{true}, got.writes());
    worker->write(0, 0, value{std::uint64_t{5}}, got.writes());
    std::mutex m;
    std::condition_variable cv;
    bool gone = false;
    retiring_workers retiring;
    retiring.retire(std::move(worker), [&](const std::string&) {
        std::lock_guard lock(m);
        gone = true;
        cv.notify_all();
    }, make_error_code(modbus_errc::restarted_by_reload));
    ASSERT_TRUE(got.wait([](const auto& es) { return count_writes(es) == 2; }));
    g.open();
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return gone; }));
    }
    for (const auto& o : write_outcomes(got.all())) {
        EXPECT_EQ(o.error, make_error_code(modbus_errc::restarted_by_reload));
        EXPECT_EQ(o.error.message(), "the bus was restarted by a configuration reload before the write was sent");
    }

    events never;
    bus_worker idle(fake_bus(), {plant()}, never.polls(), true, fake_link::factory(std::make_shared<fake_peer>()));
    idle.write(0, pump, value{true}, never.writes());
    idle.request_stop(make_error_code(modbus_errc::gateway_stopping));
    idle.stop();
    const auto outcomes = write_outcomes(never.all());
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0].error.message(), "the gateway is stopping; the write was not sent");
}

// A stop (a reload's) that comes while a write is out: the device takes the
// write and answers, and the worker does not read it back. Its outcome says
// the device took it, not that the write failed: an owner told "failed"
// may send it again and write twice.
TEST(bus_worker_writes, a_write_the_device_took_before_a_reload_stopped_the_bus_is_not_reported_failed) {
    auto peer = std::make_shared<fake_peer>();
    gate g;
    serve(*peer, g, fc::write_single_coil);
    events got;
    bus_worker worker(fake_bus(), {plant()}, got.polls(), true, fake_link::factory(peer));
    worker.start();
    worker.write(0, pump, value{true}, got.writes());
    ASSERT_TRUE(g.wait_held());
    worker.request_stop(make_error_code(modbus_errc::restarted_by_reload));
    g.open();
    ASSERT_TRUE(got.wait([](const auto& es) { return count_writes(es) == 1; }));
    worker.stop();
    const auto outcomes = write_outcomes(got.all());
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0].error, make_error_code(modbus_errc::written_not_read_back)) << outcomes[0].error.message();
    EXPECT_TRUE(outcomes[0].written);
    std::size_t writes = 0;
    for (const auto& q : peer->requests()) writes += q.function == fc::write_single_coil ? 1u : 0u;
    EXPECT_EQ(writes, 1u);
}

// A stream of commands that never lets the queue empty (each answered
// write queues the next) still leaves the polls their turn: at most
// writes_between_reads writes go between two block reads.
TEST(bus_worker_writes, polls_go_on_during_a_stream_of_commands) {
    rig r;
    serve(*r.peer, r.g, std::nullopt);
    std::atomic<bool> flooding{true};
    std::atomic<std::uint64_t> written{0};
    std::function<void(point_result)> again = [&](const point_result& w) {
        ++written;
        if (!w.error && flooding) r.worker.write(0, 0, value{written % 1000}, again);
    };
    for (std::uint64_t i = 0; i < 2 * writes_between_reads; ++i) r.worker.write(0, 0, value{i}, again);
    r.worker.start();
    EXPECT_TRUE(r.got.wait([](const auto& es) { return count_polls(es) >= 5; })) << "no poll during the flood";
    const auto during = written.load();
    flooding = false;
    r.worker.stop();
    EXPECT_GE(during, 5 * writes_between_reads);
    // Between the two block reads of a poll (FC1 of 1 bit, then FC3 of 6
    // registers), at most writes_between_reads writes (FC6). Between polls
    // writes go on while no poll is due.
    std::size_t run = 0;
    std::size_t longest = 0;
    for (const auto& q : r.peer->requests()) {
        if (q.function == fc::write_single_register) ++run;
        if (q.function == fc::read_coils) run = 0;
        if (q.function == fc::read_holding_registers && q.count == 6) longest = std::max(longest, run);
    }
    EXPECT_EQ(longest, writes_between_reads);
}

}  // namespace
}  // namespace fieldbridge::modbus
