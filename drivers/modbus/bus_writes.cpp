// bus_worker's write path: writes and one-shot reads queued from other
// threads, and how the loop carries them out between polls (bus_worker.hpp).
#include "drivers/modbus/bus_worker.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/log_context.hpp"
#include "config/names.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/poll_writes.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/request.hpp"
#include "drivers/modbus/write_plan.hpp"

namespace fieldbridge::modbus {
namespace {

namespace asio = boost::asio;

// The read of one point (its registers, or its bit) on device d, at its own
// address.
read_request own_read(const config::point& p) {
    return read_request{p.kind, p.address, modbus::register_count(p), {}};
}

// The same as a poll plans it: a bit read starts at the device's
// bit_alignment when that fits its max_bits (a device that answers a read at
// another start with the wrong bits).
read_request planned_read(const config::device& d, const config::point& p) {
    auto plan = plan_reads({p}, limits_of(d));
    return plan.size() == 1 ? std::move(plan.front()) : own_read(p);
}

// What a point read from `start` answered: its registers, or one 0/1 word for its bit.
std::vector<std::uint16_t> point_words(const config::point& p, std::uint16_t start, const reply& answer) {
    if (config::is_bit_kind(p.kind)) {
        const std::size_t at = p.address - start;
        return {static_cast<std::uint16_t>(at < answer.bits.size() && answer.bits[at] != 0 ? 1 : 0)};
    }
    return answer.registers;
}

}  // namespace

void bus_worker::write(std::size_t device, std::size_t point, value v, point_handler done) {
    queue(pending_request{device, point, std::move(v), std::move(done)});
}

void bus_worker::read(std::size_t device, std::size_t point, point_handler done) {
    queue(pending_request{device, point, std::nullopt, std::move(done)});
}

void bus_worker::queue(pending_request r) {
    if (r.device >= devices_.size() || r.point >= devices_[r.device].points.size()) {
        r.done(point_result{make_error_code(modbus_errc::invalid_point), {}});
        return;
    }
    {
        std::unique_lock lock(mutex_);
        if (stopping_) {
            const auto unsent = unsent_;
            lock.unlock();
            finish(r.done, point_result{unsent, {}});
            return;
        }
        writes_.push_back(std::move(r));
    }
    ring(false);
}

asio::awaitable<void> bus_worker::run_writes(link& line) {
    // At most a few: at normal rates a command goes before the next block,
    // and a stream of them still leaves every block its turn.
    for (std::size_t n = 0; n < writes_between_reads; ++n) {
        pending_request w;
        {
            std::lock_guard lock(mutex_);
            if (writes_.empty() || stopping_) co_return;
            w = std::move(writes_.front());
            writes_.pop_front();
        }
        auto outcome = co_await perform(line, w);
        // (Exception 11 is a Modbus gateway's word for no answer from the device behind it.)
        const bool unanswered = outcome.error == make_error_code(modbus_errc::timeout) ||
                                outcome.error == make_error_code(modbus_errc::gateway_target_failed);
        finish(w.done, std::move(outcome));
        // A device that does not answer costs the line a timeout per
        // request: no more of them before the other devices' next read.
        if (unanswered) co_return;
    }
}

asio::awaitable<point_result> bus_worker::perform(link& line, pending_request& w) {
    const auto& d = devices_[w.device];
    const auto& p = d.points[w.point];
    const log_scope on_device(log_field::device, d.name);
    const log_scope on_point(log_field::point, p.name);
    // Writes queued before the device went offline would each cost the line
    // a timeout: answered now, as the core refuses commands for it.
    if (w.v && w.device < health_.size() && health_[w.device].state() == device_state::offline) {
        co_return point_result{make_error_code(modbus_errc::device_offline), {}};
    }
    if (const auto error = co_await open(line, w.device)) co_return point_result{error, {}};
    reply answer;
    if (w.v) {
        const auto method = write_method_for(d, p);
        if (!method) co_return point_result{method.error(), {}};
        std::uint16_t current = 0;
        if (method->read_first) {
            if (const auto error = co_await attempted_exchange(line, w.device, read_of(d, own_read(p)), answer,
                                                               request_attempts::kind::read))
                co_return point_result{error, {}};
            current = answer.registers.at(0);
        }
        const auto write = write_request(d, p, *w.v, current);
        if (!write) co_return point_result{write.error(), {}};
        // Changed, or maybe changed (no answer): what a poll read before is stale.
        written_.push_back({w.device, written_by(p)});
        bool sent = false;
        if (const auto error =
                co_await attempted_exchange(line, w.device, *write, answer, request_attempts::kind::write, &sent)) {
            // A stop (a reload's, the gateway's) that cut the exchange short
            // must not pass for a failed write: sending it again may write twice.
            const bool cut = sent && error == make_error_code(modbus_errc::connection_failed) && stop_requested();
            co_return point_result{cut ? make_error_code(modbus_errc::write_cut_short) : error, {}};
        }
    }
    // Read (back) what the device now holds, as a poll reads it. Refused
    // from an aligned start (exception 2: the device lacks a bit below the
    // point), it is read at the point's own address, as a poll's split does.
    const auto own = read_at_own_address_.contains({w.device, w.point});
    auto read = own ? own_read(p) : planned_read(d, p);
    const auto kind = request_attempts::kind::read;
    auto error = co_await attempted_exchange(line, w.device, read_of(d, read), answer, kind);
    if (error == make_error_code(modbus_errc::illegal_data_address) && read.start != p.address) {
        read_at_own_address_.emplace(w.device, w.point);
        read = own_read(p);
        error = co_await attempted_exchange(line, w.device, read_of(d, read), answer, kind);
    }
    if (error) {
        const bool cut = w.v && stop_requested() && !is_exception(error);
        co_return point_result{cut ? make_error_code(modbus_errc::written_not_read_back) : error, {}, w.v.has_value()};
    }
    co_return point_result{{}, point_words(p, read.start, answer), w.v.has_value()};
}

// Every request of a write or read waits for the device's pauses as a
// poll's do: a device that needs request_delay between requests misses a
// read-back sent straight after the write's answer. A stop during the
// pause sends nothing: answered with the reason queued writes get.
bus_worker::awaitable_error bus_worker::paced_exchange(link& line, std::size_t device, const request& r,
                                                       reply& answer, bool* sent) {
    const bool go = co_await pace(devices_[device], line);
    if (!go) co_return unsent_reason();
    if (sent != nullptr) *sent = true;
    const auto error = co_await exchange(line, device, r, answer);
    co_return error;
}

bus_worker::awaitable_error bus_worker::attempted_exchange(link& line, std::size_t device, const request& r,
                                                          reply& answer, request_attempts::kind k, bool* sent) {
    request_attempts attempts(devices_[device], k);
    while (true) {
        auto attempt = r;
        attempt.retry = attempts.made() > 0;
        if (attempt.retry) {
            device_counters_[device].retries.fetch_add(1, std::memory_order_relaxed);
            if (const auto error = co_await open(line, device)) co_return error;
        }
        const auto error = co_await paced_exchange(line, device, attempt, answer, sent);
        // Busy: the device did not take it, so it did not go out as far as a
        // stop's answer is concerned ("may have been written").
        if (sent != nullptr && error == make_error_code(modbus_errc::server_device_busy)) *sent = false;
        if (stop_requested()) co_return error;
        const auto next = attempts.after(error, std::chrono::steady_clock::now());
        if (!next.again || !co_await wait_until(next.not_before)) co_return error;
    }
}

std::error_code bus_worker::unsent_reason() {
    std::lock_guard lock(mutex_);
    return unsent_ ? unsent_ : make_error_code(modbus_errc::not_sent);
}

void bus_worker::fail_unsent() {
    std::deque<pending_request> unsent;
    std::error_code why;
    {
        std::lock_guard lock(mutex_);
        unsent.swap(writes_);
        why = unsent_;
    }
    for (auto& w : unsent) finish(w.done, point_result{why, {}});
}

}  // namespace fieldbridge::modbus
