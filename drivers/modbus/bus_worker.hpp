// bus_worker: one thread per bus (a serial line or one TCP connection)
// owning its libmodbus context. It polls the devices of its bus on their
// schedule with merged block reads, retries and per-device timeouts, and
// hands every device poll to the core as a poll_result through the result
// handler, which it calls on the worker thread (the handler posts to the
// core; it must not block).
//
// A device that fails (timeout, exception, garbage) yields quality bad for
// the points of the failed block only and costs at most
// timeout * (1 + retries) per block; the other devices keep their schedule.
//
// Thread-safety: start() and stop() from the owning thread; counters() from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <deque>

#include "config/model.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

struct quality {
    bool good = true;
    std::error_code error;  // why the reading is bad
};

struct sample {
    std::size_t point = 0;              // index into the device's points
    std::vector<std::uint16_t> words;   // the point's registers; one 0/1 word for a coil or discrete input
    modbus::quality quality;
};

struct poll_result {
    std::string device;
    std::chrono::system_clock::time_point time;  // when the poll ended
    std::vector<sample> samples;
    std::chrono::microseconds duration{};
};

struct bus_counters {
    std::uint64_t polls = 0;       // device polls completed
    std::uint64_t requests = 0;    // Modbus requests sent (retries included)
    std::uint64_t failures = 0;    // requests that failed
    std::uint64_t timeouts = 0;
    std::uint64_t exceptions = 0;  // Modbus exception responses
    std::uint64_t reconnects = 0;  // connections (re)opened after the first
};

// The outcome of a write: the error, or the point's registers read back
// after the write (one 0/1 word for a coil).
struct write_result {
    std::error_code error;
    std::vector<std::uint16_t> readback;
};

class bus_worker {
public:
    using result_handler = std::function<void(poll_result)>;
    using write_handler = std::function<void(write_result)>;  // called on the worker thread

    bus_worker(config::bus bus, std::vector<config::device> devices, result_handler on_result);
    ~bus_worker();
    bus_worker(const bus_worker&) = delete;
    bus_worker& operator=(const bus_worker&) = delete;

    void start();
    // Wakes the thread and joins it; waits at most for the request in flight.
    void stop();

    bus_counters counters() const;

    // Queues a write of v to point `point` of device `device` (indexes into
    // the devices given at construction). Writes go before polls, one at a
    // time, each followed by a read-back of the point. Coils use FC5, one
    // register FC6, several FC16; a bit of a holding register is written by
    // reading the register (FC3) and writing it back changed (FC6), which is
    // not atomic against another master. Thread-safe.
    void write(std::size_t device, std::size_t point, value v, write_handler done);
    const std::string& name() const { return bus_.name; }

private:
    struct counter_cells {
        std::atomic<std::uint64_t> polls{0}, requests{0}, failures{0}, timeouts{0}, exceptions{0}, reconnects{0};
    };
    class connection;
    struct pending_write {
        std::size_t device;
        std::size_t point;
        value v;
        write_handler done;
    };
    void run_writes(connection& link);
    write_result perform(connection& link, pending_write& w);

    void run();
    // Sleeps until `until` or stop(); false when stopping.
    bool sleep_until(std::chrono::steady_clock::time_point until);
    bool stop_requested();
    bool pace(const config::device& d);

    config::bus bus_;
    std::vector<config::device> devices_;
    result_handler on_result_;
    counter_cells counters_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    std::deque<pending_write> writes_;  // guarded by mutex_
    // Worker thread only: for request_delay / switch_delay.
    int last_unit_ = -1;
    std::chrono::steady_clock::time_point last_request_end_{};
    std::thread thread_;
};

}  // namespace fieldbridge::modbus
