// bus_worker: the poll loop of one bus (a serial line or one TCP
// connection) owning its link (link.hpp: the transport's backend). The loop
// is a coroutine on a poll_thread: a thread of its own when its link blocks,
// or one shared with other buses when it does not. It polls the devices
// of its bus on their schedule with merged block reads, retries and
// per-device timeouts (request_policy), and hands every device poll to the
// core as a poll_result through the result handler, which it calls on the
// worker thread (the handler posts to the core; it must not block). At most
// results_in_flight_limit(devices) results are out at once (result_credits):
// a core that falls behind holds the worker back.
//
// A device that fails (timeout, exception, garbage) yields quality bad for
// the points of the failed block only and costs at most
// timeout * (1 + retries) per block; on an RTU line the next request to it
// first waits up to one more timeout (two after an answered retry) for its
// late answer (late_answers). The other devices keep their schedule as far
// as the line is free.
//
// Stopping: request_stop() returns at once and the loop ends after the
// request in flight (a blocking link's up to its device timeout, on an RTU
// line plus the late-answer wait before it; a shared link's is cut short), so an owner that must stay responsive hands the
// worker to retiring_workers to be joined elsewhere.
//
// Thread-safety: start() and stop() from the owning thread (or the one it
// handed the worker to), never from the poll thread; request_stop(),
// silence() and counters() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/model.hpp"
#include "drivers/modbus/device_health.hpp"
#include "drivers/modbus/poll_thread.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "drivers/modbus/poll_writes.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/request.hpp"
#include "drivers/modbus/request_policy.hpp"
#include "drivers/modbus/result_credits.hpp"
#include "drivers/modbus/silent_blocks.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

class link;

class bus_worker {
public:
    using result_handler = std::function<void(poll_result)>;
    using point_handler = std::function<void(point_result)>;  // called on the worker thread
    // Makes the link the worker talks through, on the poll thread, for the
    // poll thread's executor.
    using link_factory = std::function<std::unique_ptr<link>(const config::bus&, const boost::asio::any_io_executor&)>;

    // On a thread of its own, through the backend the bus's configuration
    // names. With poll = false the worker only serves read() and write()
    // (one-shot commissioning on a bus nobody else polls).
    bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll = true);
    // Talks through the links `links` makes (a test's fake link, a link
    // that does not block). With `shared`, the loop runs on that poll thread
    // (whose other loops a link that blocks would hold up); without, on a
    // thread of its own.
    bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result, bool poll,
               link_factory links, std::shared_ptr<poll_thread> shared = nullptr);
    ~bus_worker();
    bus_worker(const bus_worker&) = delete;
    bus_worker& operator=(const bus_worker&) = delete;

    // Reads device `device` refused before (exception 2, learned by an
    // earlier run): its plan reads them in parts from the first poll. Call
    // before start().
    void remember_refused(std::size_t device, std::vector<refused_read> reads);

    void start();
    // Whether start() started the loop (and stop() has not waited for its end yet).
    bool started() const { return started_; }
    // Tells the thread to stop and returns at once; a blocking request in
    // flight still runs to its end. No poll result is handed over once this
    // returns (it would describe a configuration being replaced); the
    // handler of a write in flight still gets its outcome, and every write
    // or read still queued is answered here with `unsent` (the reason it was
    // not sent; modbus_errc::not_sent unless given), as is one queued later.
    void request_stop();
    void request_stop(std::error_code unsent);
    // No handler at all is called once this returns: for an owner that is
    // about to go away while the thread may still be inside a request.
    void silence();
    // request_stop(), then waits for the loop to end: at most for the request in flight.
    void stop();

    bus_counters counters() const;
    // Of the device with this index (into the devices given at construction).
    device_counters counters(std::size_t device) const;
    // How many times a poll result waited for the core to finish with earlier ones.
    std::uint64_t held_back() const { return credits_->waits(); }

    // Queues a write of v to point `point` of device `device` (indexes into
    // the devices given at construction). Writes go before polls, one at a
    // time, each followed by a read-back of the point; at most
    // writes_between_reads of them between two block reads, so that polls go
    // on during a stream of commands (the owner bounds the queue). Coils use FC5, one
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
        mutable std::mutex held_mutex;
        std::vector<block_id> held;  // guarded by held_mutex; written when a poll changes it
    };
    struct pending_request {
        std::size_t device;
        std::size_t point;
        std::optional<value> v;  // nullopt: a read
        point_handler done;
    };
    // What the loop waits on, for wakers on other threads. The pointers are
    // set and read on the poll thread only; the rest is guarded by mutex.
    struct waits {
        boost::asio::steady_timer* bell = nullptr;   // a sleep that a write, a credit or stop ends
        boost::asio::steady_timer* pause = nullptr;  // a pause that only stop ends
        link* line = nullptr;
        std::mutex mutex;
        std::condition_variable ended_cv;
        bool ended = false;  // the loop is over
    };
    using awaitable_bool = boost::asio::awaitable<bool>;
    using awaitable_error = boost::asio::awaitable<std::error_code>;

    struct device_plan {
        std::vector<read_request> reads = {};
        std::vector<std::size_t> unreadable = {};  // points no request can address
        silent_blocks silent;
        std::vector<block_report> reports = {};  // the last poll's, one per read
        std::size_t probe = 0;  // the block an offline poll starts at (bus_poll.cpp)
    };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<std::optional<poll_result>> poll(link& line, std::size_t index, device_plan& plan);
    boost::asio::awaitable<void> run_writes(link& line);
    boost::asio::awaitable<point_result> perform(link& line, pending_request& w);
    // Drops the samples of `result` (device `index`) that writes since the
    // last call made stale.
    void forget_overwritten(std::size_t index, poll_result& result);
    void queue(pending_request r);
    // Answers every write and read still queued with the reason they were not sent.
    void fail_unsent();
    // Wakes the loop's sleep on its poll thread (and with `stopping` its
    // pause and its link's request in flight).
    static void ring(const std::shared_ptr<poll_thread>& runner, const std::weak_ptr<waits>& w, bool stopping);
    void ring(bool stopping);
    // Hands a poll result to the owner once a credit is free; false once
    // stopping (not handed over).
    awaitable_bool hand_over(poll_result r);
    // Tells a write's or read's handler its outcome, unless silenced.
    void finish(const point_handler& done, point_result r);
    // Counts one request's outcome (error empty: answered) for the bus and the device.
    void account(std::size_t device, std::chrono::steady_clock::time_point started, std::error_code error);
    // Sleeps until `until`, a queued write or stop(); false when stopping.
    awaitable_bool sleep_until(std::chrono::steady_clock::time_point until);
    bool stop_requested();
    // Opens the link unless it is open, and counts the reconnects it made;
    // when it cannot, the request for `device` that needed it counts as
    // failed (reason other): a device whose polls fail on a link that will
    // not open shows why in its errors.
    awaitable_error open(link& line, std::size_t device);
    // Waits for the device's pauses and the link's silence before a
    // request; false when stopping.
    awaitable_bool pace(const config::device& d, const link& line);
    // Waits until `until` or stop(), ignoring queued writes; false when stopping.
    awaitable_bool wait_until(std::chrono::steady_clock::time_point until);
    // One request on the link, timed and counted for the bus and the device.
    awaitable_error exchange(link& line, std::size_t device, const request& r, reply& answer);
    // pace(), then exchange(): one request of a write or a one-shot read.
    // sent: set once the request goes out (the pause before it was not cut short).
    awaitable_error paced_exchange(link& line, std::size_t device, const request& r, reply& answer,
                                   bool* sent = nullptr);
    // paced_exchange() asked again as request_attempts says for a read or a
    // write of the device (its retries, busy_retry_delay), reopening the
    // link when it broke; no retry once stopping. What a poll's block read,
    // a write and its read-back all go through; the caller opens the link
    // for the first attempt.
    awaitable_error attempted_exchange(link& line, std::size_t device, const request& r, reply& answer,
                                       request_attempts::kind k, bool* sent = nullptr);
    // What a write the stop kept from going out is answered with.
    std::error_code unsent_reason();

    config::bus bus_;
    std::vector<config::device> devices_;
    result_handler on_result_;
    std::shared_ptr<result_credits> credits_;
    bool poll_;
    link_factory make_link_;
    // The loop's thread: the shared one, or one of its own made with the
    // worker (a worker started while the process is short of descriptors
    // still polls and reports its link down).
    std::shared_ptr<poll_thread> runner_;
    counter_cells counters_;
    std::unique_ptr<device_cells[]> device_counters_;
    std::vector<std::vector<refused_read>> refused_;  // per device; read by the worker thread once started
    std::vector<device_health> health_;               // per device, from its polls; the worker thread's
    // (device, point) whose read-back the device refused from its aligned
    // start (exception 2): read at the point's own address from then on.
    // The worker thread's.
    std::set<std::pair<std::size_t, std::size_t>> read_at_own_address_;
    std::atomic<std::int64_t> started_us_{0};  // steady clock at start(); 0: not started
    std::mutex mutex_;
    bool stopping_ = false;  // guarded by mutex_
    std::error_code unsent_;  // guarded by mutex_: what queued writes are answered with once stopping
    std::deque<pending_request> writes_;  // guarded by mutex_
    std::shared_ptr<waits> waits_ = std::make_shared<waits>();
    bool started_ = false;  // owning thread
    // Held while a handler runs, so that request_stop() and silence()
    // return only once no handler of the kind they end is running.
    std::mutex deliver_mutex_;
    bool results_off_ = false;   // guarded by deliver_mutex_
    bool handlers_off_ = false;  // guarded by deliver_mutex_
    // The loop only: for request_delay / switch_delay, and the link's
    // reconnects already counted.
    int last_unit_ = -1;
    std::chrono::steady_clock::time_point last_request_end_{};
    std::uint64_t link_reconnects_ = 0;
    // The loop only: writes sent since the poll in progress last looked
    // (device index, what they changed).
    std::vector<std::pair<std::size_t, written_registers>> written_;
};

}  // namespace fieldbridge::modbus
