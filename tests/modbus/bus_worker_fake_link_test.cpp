// The bus worker's poll loop and write path through a scripted fake link:
// faults a real peer cannot be made to show on demand (a connection that
// drops in the middle of a request, every request timing out), the busy
// retry, the exception-2 split, the device's close_after_poll, and the
// write function each setting asks for. No socket; the worker's thread is
// waited on with deadlines.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "common/log_context.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "tests/modbus/fake_link.hpp"
#include "tests/modbus/fake_link_rig.hpp"
#include "tests/modbus/worker_fixture.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge::modbus {
namespace {

using namespace std::chrono_literals;
using testing_fixture::fake_bus;
using testing_fixture::write_and_wait;
using fc = function_code;

config::point holding(std::string name, std::uint16_t address, config::data_type type = config::data_type::uint16) {
    config::point p;
    p.name = std::move(name);
    p.kind = config::register_kind::holding_register;
    p.address = address;
    p.type = type;
    return p;
}

// Two holding registers read in one merged block (0..5), and a coil.
config::device plant() {
    config::device d;
    d.name = "plant";
    d.bus = "line";
    d.unit_id = 3;
    d.poll_interval = 1ms;
    d.retries = 2;
    d.busy_retry_delay = 1ms;
    d.offline_poll_interval = 0ms;
    config::point coil;
    coil.name = "pump";
    coil.kind = config::register_kind::coil;
    coil.address = 7;
    coil.type = config::data_type::boolean;
    d.points = {holding("a", 0), holding("b", 5), coil};
    return d;
}

TEST(bus_worker_fake_link, a_core_that_falls_behind_holds_the_worker_back_at_its_bound_of_results) {
    rig r(plant(), true, true);  // results kept with their credits: a core that has not got to them
    answer_every_request_with(*r.peer, 4);
    r.worker.start();
    const auto bound = results_in_flight_limit(1);
    ASSERT_TRUE(r.got.wait_for(bound));
    // The next poll's result waits for a credit, and nothing more comes.
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return r.worker.held_back() >= 1; }, 10s));
    EXPECT_EQ(r.got.all().size(), bound);
    // Held for well past a poll interval (1 ms): at least one grid point of
    // the next poll has gone by unpolled, however soon this thread got here.
    const auto held_since = std::chrono::steady_clock::now();
    ASSERT_TRUE(fieldbridge::testing::wait_until(
        [&] { return std::chrono::steady_clock::now() - held_since >= 5 * r.device.poll_interval; }, 10s));
    EXPECT_EQ(r.got.all().size(), bound);
    // The core takes them: the worker goes on, and the poll slots it could
    // not keep while held back are counted.
    r.got.release();
    ASSERT_TRUE(r.got.wait_for(bound + 3));
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return r.worker.counters(0).missed_polls > 0; }, 10s));
    r.worker.stop();
}

TEST(bus_worker_fake_link, a_worker_waiting_for_a_credit_stops_at_once) {
    rig r(plant(), true, true);
    answer_every_request_with(*r.peer, 4);
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(results_in_flight_limit(1)));
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return r.worker.held_back() >= 1; }, 10s));
    r.worker.stop();  // returns: the stop ends the wait for a credit
    EXPECT_EQ(r.got.all().size(), results_in_flight_limit(1));
}

TEST(bus_worker_fake_link, a_connection_that_drops_mid_request_is_reopened_and_the_request_retried) {
    rig r(plant());
    int calls = 0;
    r.peer->respond_with([&calls](const request& q, reply& answer) {
        if (++calls == 1) return make_error_code(modbus_errc::connection_failed);  // gone during the first request
        answer.registers.assign(q.count, 9);
        answer.bits.assign(q.count, 1);
        return std::error_code{};
    });
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(2));
    r.worker.stop();
    const auto polls = r.got.all();
    EXPECT_TRUE(all_good(polls.front())) << "the retry on the new connection answered";
    EXPECT_EQ(polls.front().samples.at(0).words, std::vector<std::uint16_t>{9});
    EXPECT_EQ(r.peer->opened(), 2);
    EXPECT_EQ(r.worker.counters().reconnects, 1u);
    EXPECT_EQ(r.worker.counters(0).retries, 1u);
    EXPECT_EQ(r.worker.counters(0).other_errors, 1u);
}

TEST(bus_worker_fake_link, when_every_request_times_out_each_block_costs_one_plus_retries_requests_and_goes_bad) {
    auto d = plant();
    d.retries = 2;
    rig r(d);
    time_out_every_request(*r.peer);
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(3));
    r.worker.stop();
    const auto polls = r.got.all();
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(polls[i].samples.size(), 3u);
        for (const auto& s : polls[i].samples) EXPECT_EQ(s.quality.error, make_error_code(modbus_errc::timeout));
    }
    // Two blocks (coil 7, then registers 0..5: by function code), three
    // attempts each, per poll.
    const auto asked = r.peer->requests();
    ASSERT_GE(asked.size(), 3u * 2u * 3u);
    for (std::size_t i = 0; i < std::size_t{3} * 2u * 3u; ++i) {
        EXPECT_EQ(asked[i].function, (i / 3) % 2 == 0 ? fc::read_coils : fc::read_holding_registers) << "request " << i;
    }
    const auto c = r.worker.counters(0);
    EXPECT_EQ(c.requests, c.timeouts);
    EXPECT_GE(c.retries, 3u * 2u * 2u);
    EXPECT_EQ(r.worker.counters().reconnects, 0u) << "timeouts alone do not make the fake reconnect";
}

TEST(bus_worker_fake_link, a_busy_device_is_asked_again_and_other_exceptions_are_not) {
    rig r(plant());
    r.peer->respond_with([n = 0](const request& q, reply& answer) mutable {
        if (q.function == fc::read_holding_registers) {
            // busy, answer, busy, answer, ...
            if (++n % 2 == 1) return make_error_code(modbus_errc::server_device_busy);
            answer.registers.assign(q.count, 1);
            return std::error_code{};
        }
        return make_error_code(modbus_errc::server_device_failure);  // the coil: exception 4
    });
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(2));
    r.worker.stop();
    const auto first = r.got.all().front();
    EXPECT_TRUE(first.samples.at(0).quality.good);
    EXPECT_TRUE(first.samples.at(1).quality.good);
    EXPECT_EQ(first.samples.at(2).quality.error, make_error_code(modbus_errc::server_device_failure));
    const auto asked = r.peer->requests();
    // Per poll: FC1 once (exception 4), then FC3 twice (busy, then answered).
    ASSERT_GE(asked.size(), 3u);
    EXPECT_EQ(asked[0].function, fc::read_coils);
    EXPECT_EQ(asked[1].function, fc::read_holding_registers);
    EXPECT_EQ(asked[2].function, fc::read_holding_registers);
    if (asked.size() > 3) {
        EXPECT_EQ(asked[3].function, fc::read_coils);
    }
}

// The first poll reports `refused` and reads every point all the same (the
// new reads asked in it); the polls after it report nothing and read all.
void expect_learned_in_the_first_poll(const std::vector<poll_result>& polls, const refused_read& refused) {
    ASSERT_FALSE(polls.empty());
    ASSERT_EQ(polls[0].refused.size(), 1u);
    EXPECT_EQ(polls[0].refused[0], refused);
    EXPECT_TRUE(all_good(polls[0]));
    for (std::size_t i = 1; i < polls.size(); ++i) {
        EXPECT_TRUE(polls[i].refused.empty()) << "learned once";
        EXPECT_TRUE(all_good(polls[i]));
    }
}

TEST(bus_worker_fake_link, a_merged_read_refused_with_exception_2_is_read_in_parts_and_reported_once) {
    rig r(plant());
    r.peer->respond_with([](const request& q, reply& answer) {
        if (q.function == fc::read_holding_registers && q.count > 1) {
            return make_error_code(modbus_errc::illegal_data_address);
        }
        answer.registers.assign(q.count, static_cast<std::uint16_t>(q.address + 100));
        answer.bits.assign(q.count, 0);
        return std::error_code{};
    });
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(3));
    r.worker.stop();
    const auto polls = r.got.all();
    expect_learned_in_the_first_poll(polls, refused_read{config::register_kind::holding_register, 0, 6});
    EXPECT_EQ(polls.at(0).samples.at(0).words, std::vector<std::uint16_t>{100});
    EXPECT_EQ(polls.at(0).samples.at(1).words, std::vector<std::uint16_t>{105});
    std::size_t merged = 0;
    for (const auto& q : r.peer->requests()) merged += q.function == fc::read_holding_registers && q.count > 1 ? 1 : 0;
    EXPECT_EQ(merged, 1u) << "the merged read is never asked again";
}

// A lone coil read from its aligned start (bit_alignment) and refused with
// exception 2 is read at the point's own address: the same number of
// reads, a new one all the same. It is read so in the same poll, and
// reported to be remembered across restarts, as a split is.
TEST(bus_worker_fake_link, a_lone_bit_read_refused_from_its_aligned_start_is_moved_and_reported_once) {
    auto d = plant();
    d.bit_alignment = 8;
    rig r(d);
    r.peer->respond_with([](const request& q, reply& answer) {
        if (q.function == fc::read_coils && q.address != 7) return make_error_code(modbus_errc::illegal_data_address);
        answer.registers.assign(q.count, 0);
        answer.bits.assign(q.count, 1);
        return std::error_code{};
    });
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(3));
    r.worker.stop();
    expect_learned_in_the_first_poll(r.got.all(), refused_read{config::register_kind::coil, 0, 8});
    std::vector<std::pair<std::uint16_t, std::uint16_t>> reads;  // (start, count) of the first coil reads
    for (const auto& q : r.peer->requests()) {
        if (q.function == fc::read_coils && reads.size() < 3) reads.emplace_back(q.address, q.count);
    }
    EXPECT_EQ(reads, (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{0, 8}, {7, 1}, {7, 1}}));
}

// Keeps each line logged with the log_context of the thread that logged
// it, in place of the default logger while it lives.
class context_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    struct line {
        std::string text;
        log_context context;
    };
    std::vector<line> lines() {
        std::lock_guard lock(lines_mutex_);
        return lines_;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::lock_guard lock(lines_mutex_);
        lines_.push_back({std::string(msg.payload.data(), msg.payload.size()), current_log_context()});
    }
    void flush_() override {}

private:
    std::mutex lines_mutex_;
    std::vector<line> lines_;
};

class context_log {
public:
    context_log() : previous_(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
    }
    ~context_log() { spdlog::set_default_logger(previous_); }
    context_log(const context_log&) = delete;
    context_log& operator=(const context_log&) = delete;
    std::shared_ptr<context_sink> sink() const { return sink_; }

private:
    std::shared_ptr<context_sink> sink_ = std::make_shared<context_sink>();
    std::shared_ptr<spdlog::logger> previous_;
};

// What the journal's BUS= and DEVICE= fields come from: the worker names its
// bus for its whole run and each device while it polls it.
TEST(bus_worker_fake_link, lines_logged_on_the_worker_name_its_bus_and_the_device_it_polls) {
    const context_log log;
    auto d = plant();
    d.offline_after = 1;
    d.offline_poll_interval = 50ms;
    rig r(d);
    time_out_every_request(*r.peer);
    r.worker.start();
    const auto offline_line = [&]() -> std::optional<context_sink::line> {
        for (const auto& l : log.sink()->lines()) {
            if (l.text.find("is offline") != std::string::npos) return l;
        }
        return std::nullopt;
    };
    ASSERT_TRUE(fieldbridge::testing::wait_until([&] { return offline_line().has_value(); }, 10s));
    r.worker.stop();
    const auto line = *offline_line();
    EXPECT_EQ(line.context[static_cast<std::size_t>(log_field::bus)], "line") << line.text;
    EXPECT_EQ(line.context[static_cast<std::size_t>(log_field::device)], "plant") << line.text;
    EXPECT_EQ(line.context[static_cast<std::size_t>(log_field::point)], "") << line.text;
    EXPECT_EQ(current_log_context(), log_context{}) << "the test's own thread has none";
}

TEST(bus_worker_fake_link, close_after_poll_releases_the_link_after_every_poll) {
    auto d = plant();
    d.close_after_poll = true;
    rig r(d);
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(3));
    r.worker.stop();
    EXPECT_GE(r.peer->released(), 3);
}

TEST(bus_worker_fake_link, writes_use_the_function_each_setting_asks_for_and_are_read_back) {
    struct case_ {
        config::write_function f;
        bool mask_write;
        std::vector<fc> bit_write;  // requests for the bit of a register, read-back included
        std::vector<fc> coil_write;
        std::vector<fc> register_write;
    };
    const std::vector<case_> cases{
        {config::write_function::automatic, false,
         {fc::read_holding_registers, fc::write_single_register, fc::read_holding_registers},
         {fc::write_single_coil, fc::read_coils},
         {fc::write_single_register, fc::read_holding_registers}},
        {config::write_function::fc16, false,
         {fc::read_holding_registers, fc::write_multiple_registers, fc::read_holding_registers},
         {fc::write_multiple_coils, fc::read_coils},
         {fc::write_multiple_registers, fc::read_holding_registers}},
        {config::write_function::automatic, true,
         {fc::mask_write_register, fc::read_holding_registers},
         {fc::write_single_coil, fc::read_coils},
         {fc::write_single_register, fc::read_holding_registers}},
    };
    for (const auto& c : cases) {
        auto d = plant();
        d.write_function = c.f;
        d.mask_write = c.mask_write;
        auto flag = holding("flag", 20, config::data_type::boolean);
        flag.bit = 2;
        d.points.push_back(flag);
        rig r(d, false);
        r.peer->respond_with([](const request& q, reply& answer) {
            answer.registers.assign(q.count, 0b0001);
            answer.bits.assign(q.count, 1);
            return std::error_code{};
        });
        r.worker.start();
        const auto functions = [&r](std::size_t from) {
            std::vector<fc> f;
            const auto asked = r.peer->requests();
            for (std::size_t i = from; i < asked.size(); ++i) f.push_back(asked[i].function);
            return f;
        };
        auto w = write_and_wait(r.worker, 3, value{true});
        EXPECT_FALSE(w.error) << w.error.message();
        EXPECT_EQ(functions(0), c.bit_write);
        if (!c.mask_write) {
            // The other bits survive: bit 0 was set before, bit 2 is added.
            EXPECT_EQ(r.peer->requests().at(1).values, std::vector<std::uint16_t>{0b0101});
        }
        auto before = r.peer->requests().size();
        w = write_and_wait(r.worker, 2, value{true});
        EXPECT_FALSE(w.error) << w.error.message();
        EXPECT_EQ(w.readback, std::vector<std::uint16_t>{1});
        EXPECT_EQ(functions(before), c.coil_write);
        before = r.peer->requests().size();
        w = write_and_wait(r.worker, 0, value{std::uint64_t{7}});
        EXPECT_FALSE(w.error) << w.error.message();
        EXPECT_EQ(functions(before), c.register_write);
        r.worker.stop();
    }
}

// A write's read-back of a coil starts where a poll's read does (at
// bit_alignment); a device that refuses that read with exception 2 (it
// lacks a bit below the point) is asked at the point's own address, as a
// poll's split does, and the read-back is the point's bit.
TEST(bus_worker_fake_link, a_read_back_refused_from_its_aligned_start_is_asked_at_the_points_address) {
    auto d = plant();
    d.bit_alignment = 8;
    rig r(d, false);
    r.peer->respond_with([](const request& q, reply& answer) {
        if (q.function == fc::read_coils && q.address != 7) return make_error_code(modbus_errc::illegal_data_address);
        answer.registers.assign(q.count, 0);
        answer.bits.assign(q.count, 1);
        return std::error_code{};
    });
    r.worker.start();
    const auto w = write_and_wait(r.worker, 2, value{true});
    // Learned: the next read-back goes to the point's address at once.
    const auto again = write_and_wait(r.worker, 2, value{true});
    r.worker.stop();
    EXPECT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.readback, std::vector<std::uint16_t>{1});
    EXPECT_EQ(again.readback, std::vector<std::uint16_t>{1});
    std::vector<std::pair<std::uint16_t, std::uint16_t>> reads;  // (start, count) of each coil read
    for (const auto& q : r.peer->requests()) {
        if (q.function == fc::read_coils) reads.emplace_back(q.address, q.count);
    }
    EXPECT_EQ(reads, (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{0, 8}, {7, 1}, {7, 1}}));
}

// A command meets the device as a poll does: a write answered busy
// (exception 6: not taken) is sent again after busy_retry_delay, and a
// read-back that gets no answer is asked again, within the device's
// retries; a write that gets no answer is never sent twice (it may have
// been taken).
TEST(bus_worker_fake_link, a_write_busy_is_sent_again_a_read_back_lost_is_asked_again_a_write_lost_is_not) {
    const auto count = [](fake_peer& peer, fc f) {
        std::size_t n = 0;
        for (const auto& q : peer.requests()) n += q.function == f ? 1u : 0u;
        return n;
    };
    {
        rig r(plant(), false);  // retries: 2
        r.peer->respond_with([writes = 0, reads = 0](const request& q, reply& answer) mutable {
            if (q.function == fc::write_single_coil && ++writes == 1) {
                return make_error_code(modbus_errc::server_device_busy);
            }
            if (q.function == fc::read_coils && ++reads == 1) return make_error_code(modbus_errc::timeout);
            answer.bits.assign(q.count, 1);
            return std::error_code{};
        });
        r.worker.start();
        const auto w = write_and_wait(r.worker, 2, value{true});
        r.worker.stop();
        EXPECT_FALSE(w.error) << w.error.message();
        EXPECT_EQ(w.readback, std::vector<std::uint16_t>{1});
        EXPECT_EQ(count(*r.peer, fc::write_single_coil), 2u);
        EXPECT_EQ(count(*r.peer, fc::read_coils), 2u);
        EXPECT_EQ(r.worker.counters(0).retries, 2u);
    }
    {
        rig r(plant(), false);
        r.peer->respond_with([](const request& q, reply& answer) {
            if (q.function == fc::write_single_coil) return make_error_code(modbus_errc::timeout);
            answer.bits.assign(q.count, 1);
            return std::error_code{};
        });
        r.worker.start();
        const auto w = write_and_wait(r.worker, 2, value{true});
        r.worker.stop();
        EXPECT_EQ(w.error, make_error_code(modbus_errc::timeout));
        EXPECT_EQ(count(*r.peer, fc::write_single_coil), 1u);
    }
}

bool is_write(const request& q) {
    return q.function == fc::write_single_register || q.function == fc::write_single_coil ||
           q.function == fc::write_multiple_registers || q.function == fc::write_multiple_coils;
}

// A write the device answered stays written when what follows it fails:
// the outcome says so, and the caller must not take it for a refused write.
TEST(bus_worker_fake_link, a_write_the_device_took_is_marked_written_when_its_read_back_fails) {
    const std::vector<std::error_code> read_back_errors{make_error_code(modbus_errc::illegal_data_address),
                                                        make_error_code(modbus_errc::timeout)};
    for (const auto& read_back_error : read_back_errors) {
        rig r(plant(), false);
        r.peer->respond_with([&](const request& q, reply& answer) {
            if (!is_write(q)) return read_back_error;
            answer.registers.assign(q.count, 1);
            answer.bits.assign(q.count, 1);
            return std::error_code{};
        });
        r.worker.start();
        const auto w = write_and_wait(r.worker, 0, value{std::uint64_t{1}});
        r.worker.stop();
        EXPECT_EQ(w.error, read_back_error);
        EXPECT_TRUE(w.written) << read_back_error.message();
        EXPECT_TRUE(is_write(r.peer->requests().at(0)));
    }
    // Refused by the device: not written.
    rig r(plant(), false);
    r.peer->respond_with([](const request&, reply&) { return make_error_code(modbus_errc::illegal_data_value); });
    r.worker.start();
    const auto w = write_and_wait(r.worker, 0, value{std::uint64_t{1}});
    r.worker.stop();
    EXPECT_EQ(w.error, make_error_code(modbus_errc::illegal_data_value));
    EXPECT_FALSE(w.written);
}

// A device that stops answering degrades only itself: its writes do not
// take the line's time from the other devices' polls.
TEST(bus_worker_fake_link, a_write_that_gets_no_answer_lets_a_poll_go_before_the_next_write) {
    auto d = plant();
    d.offline_after = 100;  // not offline during the test
    rig r(d);
    time_out_every_request(*r.peer);
    std::mutex m;
    std::condition_variable cv;
    std::vector<point_result> outcomes;
    for (int i = 0; i < 3; ++i) {
        r.worker.write(0, 0, value{std::uint64_t{1}}, [&](point_result o) {
            const std::lock_guard lock(m);
            outcomes.push_back(std::move(o));
            cv.notify_all();
        });
    }
    r.worker.start();  // the three wait from the first turn on
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return outcomes.size() == 3; }));
    }
    r.worker.stop();
    for (const auto& o : outcomes) EXPECT_EQ(o.error, make_error_code(modbus_errc::timeout));
    // Each write is one request (a write is never repeated: it may have
    // been taken), then a read before the next.
    const auto asked = r.peer->requests();
    EXPECT_EQ(std::count_if(asked.begin(), asked.end(), is_write), 3);
    for (std::size_t i = 1; i < asked.size(); ++i) {
        EXPECT_FALSE(is_write(asked[i - 1]) && is_write(asked[i]))
            << "request " << i << ": a write went right after another that got no answer";
    }
}

TEST(bus_worker_fake_link, a_write_for_a_device_the_worker_holds_offline_is_answered_without_being_sent) {
    auto d = plant();
    d.offline_after = 1;
    rig r(d);
    time_out_every_request(*r.peer);
    r.worker.start();
    ASSERT_TRUE(r.got.wait_for(1)) << "a poll that went bad";
    const auto w = write_and_wait(r.worker, 0, value{std::uint64_t{1}});
    r.worker.stop();
    EXPECT_EQ(w.error, make_error_code(modbus_errc::device_offline)) << w.error.message();
    EXPECT_FALSE(w.written);
    const auto asked = r.peer->requests();
    EXPECT_EQ(std::count_if(asked.begin(), asked.end(), is_write), 0);
}

// Offline, a device that still does not answer costs one block a poll: the
// blocks after the first one that gets no answer are not asked, and each
// poll starts at the block after the one that last got none.
// A garbled answer (bad CRC or length: a wrong baud rate) is no answer too.
TEST(bus_worker_fake_link, an_offline_device_that_does_not_answer_is_asked_one_block_a_poll) {
    for (const auto no_answer : {modbus_errc::timeout, modbus_errc::invalid_response}) {
        SCOPED_TRACE(make_error_code(no_answer).message());
        auto d = plant();  // two blocks, by kind: the coil (FC1) first, then holding registers 0..5 (FC3)
        d.offline_after = 1;
        rig r(d);
        r.peer->respond_with([no_answer](const request&, reply&) { return make_error_code(no_answer); });
        r.worker.start();
        ASSERT_TRUE(r.got.wait_for(5));
        r.worker.stop();
        const auto polls = r.got.all();
        const auto per_block = static_cast<std::ptrdiff_t>(d.retries) + 1;
        const auto asked = r.peer->requests();
        const auto of = [&](fc f) {
            return std::count_if(asked.begin(), asked.end(),
                                 [f](const request& q) { return q.function == f; });
        };
        // The first poll (the device not offline yet) asks both blocks, each
        // later one block, in turn; a poll cut short by the stop may have asked
        // one more.
        const auto n_polls = static_cast<std::ptrdiff_t>(polls.size());
        EXPECT_GE(of(fc::read_coils) + of(fc::read_holding_registers), (n_polls + 1) * per_block);
        EXPECT_LE(of(fc::read_coils) + of(fc::read_holding_registers), (n_polls + 2) * per_block);
        for (std::size_t n = 0; n < polls.size(); ++n) {
            ASSERT_EQ(polls[n].samples.size(), 3u);
            for (const auto& s : polls[n].samples) {
                EXPECT_FALSE(s.quality.good);
                const bool coil = s.point == 2;
                const bool was_asked = n == 0 || (coil == (n % 2 == 1));
                EXPECT_EQ(s.quality.error,
                          make_error_code(was_asked ? no_answer : modbus_errc::device_offline))
                    << "poll " << n << ", point " << s.point;
            }
        }
    }
}

TEST(bus_worker_fake_link, a_write_whose_link_drops_gets_the_error_and_no_read_back) {
    rig r(plant(), false);
    r.peer->respond_with([](const request&, reply&) { return make_error_code(modbus_errc::connection_failed); });
    r.worker.start();
    const auto w = write_and_wait(r.worker, 0, value{std::uint64_t{1}});
    r.worker.stop();
    EXPECT_EQ(w.error, make_error_code(modbus_errc::connection_failed));
    EXPECT_EQ(r.peer->requests().size(), 1u);
}

}  // namespace
}  // namespace fieldbridge::modbus
