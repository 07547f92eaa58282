#include "drivers/modbus/bus_worker.hpp"

#include <algorithm>
#include <exception>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/log_context.hpp"
#include "config/names.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/poll_schedule.hpp"
#include "drivers/modbus/poll_writes.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/request_policy.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {
namespace {

using steady = std::chrono::steady_clock;
namespace asio = boost::asio;

// Keeps what this loop's log lines are about across a wait: the poll thread
// may run other buses' loops in between, and each one puts its own back
// when it resumes.
class log_context_keeper {
public:
    log_context_keeper() : saved_(current_log_context()) {}
    void resumed() { current_log_context() = saved_; }

private:
    log_context saved_;
};

// Waits on `timer` until `until` or until it is cancelled.
asio::awaitable<void> wait_on(asio::steady_timer& timer, steady::time_point until) {
    log_context_keeper context;
    timer.expires_at(until);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    context.resumed();
}

// How often an offline device, and a block it does not answer
// (silent_blocks), is asked: offline_poll_interval when it is longer than
// poll_interval; 0 (not slowed) when it is not.
std::chrono::milliseconds slowed_interval(const config::device& d) {
    return d.offline_poll_interval > d.poll_interval ? d.offline_poll_interval : std::chrono::milliseconds(0);
}

}  // namespace

bus_worker::bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll)
    : bus_worker(std::move(bus), std::move(devices), std::move(on_result), poll,
                 [](const config::bus& b, const asio::any_io_executor&) -> std::unique_ptr<link> { return make_link(b); }) {}

bus_worker::bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll,
                       link_factory links, std::shared_ptr<poll_thread> shared)
    : bus_(std::move(bus)),
      devices_(std::move(devices)),
      on_result_(std::move(on_result)),
      credits_(result_credits::make(results_in_flight_limit(devices_.size()))),
      poll_(poll),
      make_link_(std::move(links)),
      runner_(shared != nullptr ? std::move(shared) : std::make_shared<poll_thread>()),
      device_counters_(std::make_unique<device_cells[]>(devices_.size())),
      refused_(devices_.size()),
      unsent_(make_error_code(modbus_errc::not_sent)) {}

void bus_worker::remember_refused(std::size_t device, std::vector<refused_read> reads) {
    if (device < refused_.size()) refused_[device] = std::move(reads);
}

bus_worker::~bus_worker() { stop(); }

void bus_worker::start() {
    if (started_ || devices_.empty()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
        unsent_ = make_error_code(modbus_errc::not_sent);
    }
    credits_->resume();
    {
        std::lock_guard lock(deliver_mutex_);
        results_off_ = false;
        handlers_off_ = false;
    }
    {
        std::lock_guard lock(waits_->mutex);
        waits_->ended = false;
    }
    started_us_ = std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count();
    started_ = true;
    asio::co_spawn(runner_->executor(), run(), [w = waits_](const std::exception_ptr& e) {
        {
            std::lock_guard lock(w->mutex);
            w->ended = true;
            w->ended_cv.notify_all();
        }
        if (e) std::rethrow_exception(e);  // ends the process, as an exception on a thread of its own would
    });
}

void bus_worker::ring(const std::shared_ptr<poll_thread>& runner, const std::weak_ptr<waits>& w, bool stopping) {
    if (runner == nullptr) return;
    asio::post(runner->executor(), [w, stopping] {
        const auto on = w.lock();
        if (on == nullptr) return;
        if (on->bell != nullptr) on->bell->cancel();
        if (!stopping) return;
        if (on->pause != nullptr) on->pause->cancel();
        if (on->line != nullptr) on->line->cancel();
    });
}

void bus_worker::ring(bool stopping) { ring(runner_, waits_, stopping); }

void bus_worker::request_stop(std::error_code unsent) {
    {
        std::lock_guard lock(mutex_);
        unsent_ = unsent;
    }
    request_stop();
}

void bus_worker::request_stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ring(true);
    credits_->interrupt();
    {
        std::lock_guard lock(deliver_mutex_);
        results_off_ = true;
    }
    // Answered now, not once the request in flight is over (up to a
    // device timeout): every command gets its reply.
    fail_unsent();
}

void bus_worker::silence() {
    credits_->interrupt();
    std::lock_guard lock(deliver_mutex_);
    results_off_ = true;
    handlers_off_ = true;
}

void bus_worker::stop() {
    request_stop();
    if (!started_) return;
    {
        std::unique_lock lock(waits_->mutex);
        waits_->ended_cv.wait(lock, [this] { return waits_->ended; });
    }
    started_ = false;
    fail_unsent();
}

bus_worker::awaitable_bool bus_worker::hand_over(poll_result r) {
    while (true) {
        r.receipt = credits_->try_take([runner = runner_, w = std::weak_ptr<waits>(waits_)] { ring(runner, w, false); });
        if (r.receipt != nullptr) break;
        if (stop_requested()) co_return false;
        // The core holds too many: wait for one to come back.
        co_await wait_on(*waits_->bell, steady::time_point::max());
    }
    std::lock_guard lock(deliver_mutex_);
    if (results_off_) co_return false;
    on_result_(std::move(r));
    co_return true;
}

void bus_worker::finish(const point_handler& done, point_result r) {
    std::lock_guard lock(deliver_mutex_);
    if (!handlers_off_) done(std::move(r));
}

bus_counters bus_worker::counters() const {
    bus_counters c;
    c.polls = counters_.polls.load(std::memory_order_relaxed);
    c.requests = counters_.requests.load(std::memory_order_relaxed);
    c.failures = counters_.failures.load(std::memory_order_relaxed);
    c.timeouts = counters_.timeouts.load(std::memory_order_relaxed);
    c.exceptions = counters_.exceptions.load(std::memory_order_relaxed);
    c.reconnects = counters_.reconnects.load(std::memory_order_relaxed);
    c.busy = std::chrono::microseconds(counters_.busy_us.load(std::memory_order_relaxed));
    if (const auto started = started_us_.load(); started != 0) {
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch());
        c.running = now - std::chrono::microseconds(started);
    }
    return c;
}

device_counters bus_worker::counters(std::size_t device) const {
    device_counters c;
    if (device >= devices_.size()) return c;
    const auto& d = device_counters_[device];
    c.polls = d.polls.load(std::memory_order_relaxed);
    c.requests = d.requests.load(std::memory_order_relaxed);
    c.retries = d.retries.load(std::memory_order_relaxed);
    c.timeouts = d.timeouts.load(std::memory_order_relaxed);
    c.exceptions = d.exceptions.load(std::memory_order_relaxed);
    c.other_errors = d.other_errors.load(std::memory_order_relaxed);
    c.missed_polls = d.missed_polls.load(std::memory_order_relaxed);
    c.last_poll_duration = std::chrono::microseconds(d.last_poll_us.load(std::memory_order_relaxed));
    if (const auto ms = d.last_success_ms.load(std::memory_order_relaxed); ms != 0) {
        c.last_success = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
    }
    const std::lock_guard lock(d.held_mutex);
    c.held_reads = d.held;
    return c;
}

void bus_worker::account(std::size_t device, steady::time_point started, std::error_code error) {
    const auto now = steady::now();
    last_request_end_ = now;
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    counters_.busy_us.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(now - started).count(),
                                std::memory_order_relaxed);
    auto& d = device_counters_[device];
    d.requests.fetch_add(1, std::memory_order_relaxed);
    if (!error) {
        const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        d.last_success_ms.store(wall.count(), std::memory_order_relaxed);
        return;
    }
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    if (error == make_error_code(modbus_errc::timeout)) {
        counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
        d.timeouts.fetch_add(1, std::memory_order_relaxed);
    } else if (is_exception(error)) {
        counters_.exceptions.fetch_add(1, std::memory_order_relaxed);
        d.exceptions.fetch_add(1, std::memory_order_relaxed);
    } else {
        d.other_errors.fetch_add(1, std::memory_order_relaxed);
    }
}

bool bus_worker::stop_requested() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

bus_worker::awaitable_bool bus_worker::sleep_until(steady::time_point until) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || !writes_.empty()) co_return !stopping_;
    }
    co_await wait_on(*waits_->bell, until);
    co_return !stop_requested();
}

bus_worker::awaitable_bool bus_worker::wait_until(steady::time_point until) {
    if (stop_requested()) co_return false;
    if (steady::now() < until) co_await wait_on(*waits_->pause, until);
    co_return !stop_requested();
}

// The device's own pauses (request_delay, switch_delay) and the link's
// (the line's silence, connect_pause).
bus_worker::awaitable_bool bus_worker::pace(const config::device& d, const link& line) {
    const auto until = std::max(paced_until(d, last_unit_, last_request_end_), line.ready_at(d.connect_pause));
    last_unit_ = d.unit_id;
    co_return co_await wait_until(until);
}

bus_worker::awaitable_error bus_worker::open(link& line, std::size_t device) {
    log_context_keeper context;
    const auto error = co_await line.async_open(steady::now());
    context.resumed();
    if (const auto n = line.reconnects(); n != link_reconnects_) {
        counters_.reconnects.fetch_add(n - link_reconnects_, std::memory_order_relaxed);
        link_reconnects_ = n;
    }
    if (error) device_counters_[device].other_errors.fetch_add(1, std::memory_order_relaxed);
    co_return error;
}

bus_worker::awaitable_error bus_worker::exchange(link& line, std::size_t device, const request& r, reply& answer) {
    log_context_keeper context;
    const auto started = steady::now();
    const auto error = co_await line.async_exchange(r, answer);
    context.resumed();
    account(device, started, error);
    co_return error;
}

asio::awaitable<void> bus_worker::run() {
    const log_scope on_bus(log_field::bus, bus_.name);  // every line this thread logs names the bus
    std::vector<device_plan> plans;
    std::vector<std::chrono::milliseconds> intervals;
    for (std::size_t di = 0; di < devices_.size(); ++di) {
        const auto& d = devices_[di];
        // A block held back (silent_blocks) is asked as often as an offline device.
        device_plan plan{.silent = silent_blocks(d.offline_after, slowed_interval(d))};
        plan.reads = plan_reads(d.points, limits_of(d));
        apply_refusals(plan.reads, refused_[di], d.points, limits_of(d));
        std::vector<bool> covered(d.points.size(), false);
        for (const auto& r : plan.reads) {
            for (const auto i : r.points) covered[i] = true;
        }
        for (std::size_t i = 0; i < covered.size(); ++i) {
            if (!covered[i]) plan.unreadable.push_back(i);
        }
        plans.push_back(std::move(plan));
        intervals.push_back(d.poll_interval);
    }

    const auto executor = co_await asio::this_coro::executor;
    const auto line = make_link_(bus_, executor);
    asio::steady_timer bell(executor);
    asio::steady_timer pause(executor);
    waits_->bell = &bell;
    waits_->pause = &pause;
    waits_->line = line.get();
    // Wakers find nothing once the loop is over, however it ends.
    struct forget_waits {
        waits& w;
        ~forget_waits() {
            w.bell = nullptr;
            w.pause = nullptr;
            w.line = nullptr;
        }
    } const forget{*waits_};
    poll_schedule schedule(intervals, steady::now());
    health_.assign(devices_.size(), device_health{});
    for (std::size_t i = 0; i < devices_.size(); ++i) health_[i].offline_after = devices_[i].offline_after;
    std::vector<bool> backed_off(devices_.size(), false);

    while (true) {
        co_await run_writes(*line);  // commands go before polls
        if (!poll_) {
            if (!co_await sleep_until(steady::now() + std::chrono::hours(1))) break;
            continue;
        }
        const auto due = schedule.next();
        if (steady::now() < due.at) {
            if (!co_await sleep_until(due.at)) break;
            continue;  // woken by a write, or the poll is due: look again
        }
        const auto& device = devices_[due.device];
        const log_scope on_device(log_field::device, device.name);
        const auto started = steady::now();
        auto polled = co_await poll(*line, due.device, plans[due.device]);
        // Handing over the part read so far would report the other points as
        // missing; the owner stopping us has no use for it either.
        if (!polled) break;
        auto& result = *polled;
        std::sort(result.samples.begin(), result.samples.end(),
                  [](const sample& a, const sample& b) { return a.point < b.point; });
        const auto ended = steady::now();
        result.time = std::chrono::system_clock::now();
        result.duration = std::chrono::duration_cast<std::chrono::microseconds>(ended - started);
        counters_.polls.fetch_add(1, std::memory_order_relaxed);
        device_counters_[due.device].polls.fetch_add(1, std::memory_order_relaxed);
        device_counters_[due.device].last_poll_us.store(result.duration.count(), std::memory_order_relaxed);
        // An offline device (device_health) is polled at
        // offline_poll_interval until it answers, so that its timeouts do not
        // eat the line's time for the others.
        health_[due.device].record(result);
        const bool back_off =
            health_[due.device].state() == device_state::offline && slowed_interval(device).count() > 0;
        if (back_off != backed_off[due.device]) {
            backed_off[due.device] = back_off;
            schedule.set_interval(due.device, back_off ? device.offline_poll_interval : device.poll_interval);
            if (back_off) {
                spdlog::warn("bus {}: device {} is offline; polling it every {} ms until it answers", bus_.name,
                             device.name, device.offline_poll_interval.count());
            } else {
                spdlog::info("bus {}: device {} answers again", bus_.name, device.name);
            }
        }
        schedule.completed(due.device, ended);
        device_counters_[due.device].missed_polls.store(schedule.missed(due.device), std::memory_order_relaxed);
        if (device.close_after_poll) line->release();
        if (!co_await hand_over(std::move(result))) break;
    }
    line->close();
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;  // a write queued from now on is answered at once
    }
    fail_unsent();
}

}  // namespace fieldbridge::modbus
