// bus_worker: one thread per bus (a serial line or one TCP connection)
// owning its link (link.hpp: the transport's backend). It polls the devices
// of its bus on their schedule with merged block reads, retries and
// per-device timeouts (request_policy), and hands every device poll to the
// core as a poll_result through the result handler, which it calls on the
// worker thread (the handler posts to the core; it must not block). At most
// results_in_flight_limit(devices) results are out at once (result_credits):
// a core that falls behind holds the worker back.
//
// A device that fails (timeout, exception, garbage) yields quality bad for
// the points of the failed block only and costs at most
// timeout * (1 + retries) per block; the other devices keep their schedule.
//
// Stopping: request_stop() returns at once and the thread ends after the
// request in flight (up to its device timeout), so an owner that must stay
// responsive hands the worker to retiring_workers to be joined elsewhere.
//
// Thread-safety: start() and stop() from the owning thread (or the one it
// handed the worker to); request_stop(), silence() and counters() from any
// thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <deque>

#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/request.hpp"
#include "drivers/modbus/result_credits.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

class link;

class bus_worker {
public:
    using result_handler = std::function<void(poll_result)>;
    using point_handler = std::function<void(point_result)>;  // called on the worker thread
    // Makes the link the worker talks through, on the worker thread.
    using link_factory = std::function<std::unique_ptr<link>(const config::bus&)>;

    // With poll = false the worker only serves read() and write() (one-shot
    // commissioning on a bus nobody else polls).
    bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll = true);
    // Talks through the link make_link gives instead of the backend the
    // bus's configuration names (a test's fake link).
    bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll,
               link_factory links);
    ~bus_worker();
    bus_worker(const bus_worker&) = delete;
    bus_worker& operator=(const bus_worker&) = delete;

    // Reads device `device` refused before (exception 2, learned by an
    // earlier run): its plan reads them in parts from the first poll. Call
    // before start().
    void remember_refused(std::size_t device, std::vector<refused_read> reads);

    void start();
    // Whether start() started the thread (and it has not been joined yet).
    bool started() const { return thread_.joinable(); }
    // Tells the thread to stop and returns at once; a blocking request in
    // flight still runs to its end. No poll result is handed over once this
    // returns (it would describe a configuration being replaced); the
    // handler of a write in flight still gets its outcome.
    void request_stop();
    // No handler at all is called once this returns: for an owner that is
    // about to go away while the thread may still be inside a request.
    void silence();
    // request_stop(), then joins the thread: waits at most for the request in flight.
    void stop();

    bus_counters counters() const;
    // Of the device with this index (into the devices given at construction).
    device_counters counters(std::size_t device) const;
    // How many times a poll result waited for the core to finish with earlier ones.
    std::uint64_t held_back() const { return credits_->waits(); }

    // Queues a write of v to point `point` of device `device` (indexes into
    // the devices given at construction). Writes go before polls, one at a
    // time, each followed by a read-back of the point. Coils use FC5, one
    // register FC6, several FC16; a bit of a holding register is written by
    // reading the register (FC3) and writing it back changed (FC6), which is
    // not atomic against another master. Thread-safe.
    void write(std::size_t device, std::size_t point, value v, point_handler done);
    // Queues a read of one point, served like a write (before polls).
    void read(std::size_t device, std::size_t point, point_handler done);
    const std::string& name() const { return bus_.name; }
    const config::bus& settings() const { return bus_; }

private:
    struct counter_cells {
        std::atomic<std::uint64_t> polls{0}, requests{0}, failures{0}, timeouts{0}, exceptions{0}, reconnects{0};
        std::atomic<std::int64_t> busy_us{0};
    };
    struct device_cells {
        std::atomic<std::uint64_t> polls{0}, requests{0}, retries{0}, timeouts{0}, exceptions{0}, other_errors{0},
            missed_polls{0};
        std::atomic<std::int64_t> last_poll_us{0};
        std::atomic<std::int64_t> last_success_ms{0};  // since the epoch; 0: never
    };
    struct pending_request {
        std::size_t device;
        std::size_t point;
        std::optional<value> v;  // nullopt: a read
        point_handler done;
    };
    void run_writes(link& line);
    point_result perform(link& line, pending_request& w);

    void run();
    void queue(pending_request r);
    // Hands a poll result to the owner; false once stopping (not handed over).
    bool hand_over(poll_result r);
    // Tells a write's or read's handler its outcome, unless silenced.
    void finish(const point_handler& done, point_result r);
    // Counts one request's outcome (error empty: answered) for the bus and the device.
    void account(std::size_t device, std::chrono::steady_clock::time_point started, std::error_code error);
    // Sleeps until `until` or stop(); false when stopping.
    bool sleep_until(std::chrono::steady_clock::time_point until);
    bool stop_requested();
    // Opens the link unless it is open, and counts the reconnects it made.
    std::error_code open(link& line);
    // Waits for the device's pauses and the link's silence before a
    // request; false when stopping.
    bool pace(const config::device& d, const link& line);
    // Waits until `until` or stop(), ignoring queued writes; false when stopping.
    bool wait_until(std::chrono::steady_clock::time_point until);
    // One request on the link, timed and counted for the bus and the device.
    std::error_code exchange(link& line, std::size_t device, const request& r, reply& answer);

    config::bus bus_;
    std::vector<config::device> devices_;
    result_handler on_result_;
    std::shared_ptr<result_credits> credits_;
    bool poll_;
    link_factory make_link_;
    counter_cells counters_;
    std::unique_ptr<device_cells[]> device_counters_;
    std::vector<std::vector<refused_read>> refused_;  // per device; read by the worker thread once started
    std::atomic<std::int64_t> started_us_{0};  // steady clock at start(); 0: not started
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    std::deque<pending_request> writes_;  // guarded by mutex_
    // Held while a handler runs, so that request_stop() and silence()
    // return only once no handler of the kind they end is running.
    std::mutex deliver_mutex_;
    bool results_off_ = false;   // guarded by deliver_mutex_
    bool handlers_off_ = false;  // guarded by deliver_mutex_
    // Worker thread only: for request_delay / switch_delay, and the link's
    // reconnects already counted.
    int last_unit_ = -1;
    std::chrono::steady_clock::time_point last_request_end_{};
    std::uint64_t link_reconnects_ = 0;
    std::thread thread_;
};

}  // namespace fieldbridge::modbus
