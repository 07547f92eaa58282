// fake_link_rig: a bus worker of one device over a fake link (fake_link.hpp),
// the results it hands over, and the peer's usual scripts, shared by the
// worker's fake-link tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "tests/modbus/fake_link.hpp"
#include "tests/modbus/worker_fixture.hpp"

namespace fieldbridge::modbus {

// Keeps every result handed over; with keep_credits, holds each one's
// credit (as a core that has not got to it yet) until release().
class results {
public:
    explicit results(bool keep_credits = false) : keep_credits_(keep_credits) {}
    bus_worker::result_handler handler() {
        return [this](poll_result r) {
            std::lock_guard lock(mutex_);
            if (keep_credits_) {
                held_.push_back(std::move(r.receipt));
            } else {
                r.receipt.reset();
            }
            got_.push_back(std::move(r));
            changed_.notify_all();
        };
    }
    void release() {
        std::lock_guard lock(mutex_);
        held_.clear();
    }
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
    }
    std::vector<poll_result> all() {
        std::lock_guard lock(mutex_);
        return got_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<poll_result> got_;
    const bool keep_credits_;
    std::vector<std::shared_ptr<const void>> held_;
};

struct rig {
    explicit rig(config::device d, bool poll = true, bool keep_credits = false)
        : device(std::move(d)),
          peer(std::make_shared<fake_peer>()),
          got(keep_credits),
          worker(testing_fixture::fake_bus(), {device}, got.handler(), poll, fake_link::factory(peer)) {}
    config::device device;
    std::shared_ptr<fake_peer> peer;
    results got;
    bus_worker worker;  // last: stopped before the rest goes
};

inline bool all_good(const poll_result& r) {
    return !r.samples.empty() &&
           std::all_of(r.samples.begin(), r.samples.end(), [](const sample& s) { return s.quality.good; });
}

inline void answer_every_request_with(fake_peer& peer, std::uint16_t v) {
    peer.respond_with([v](const request& q, reply& answer) {
        answer.registers.assign(q.count, v);
        answer.bits.assign(q.count, 1);
        return std::error_code{};
    });
}

// A device that never answers: every request times out.
inline void time_out_every_request(fake_peer& peer) {
    peer.respond_with([](const request&, reply&) { return make_error_code(modbus_errc::timeout); });
}

}  // namespace fieldbridge::modbus
