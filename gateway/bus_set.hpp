// The bus workers of the running configuration: one per bus that has
// devices (those of Modbus TCP buses share one poll thread, the others have
// a thread each), the route from each configured device to its worker and its index
// there, and what a reload keeps polling or restarts. A worker that is
// replaced is handed to retiring_workers (joined off the core thread) and
// its bus's generation is bumped, so that poll results it posted before it
// was told to stop can be told apart and dropped; the writes still queued on
// it are answered with why they were not sent (modbus_errc::restarted_by_reload,
// or gateway_stopping at shutdown).
//
// Thread-safety: members from the core thread. The result and gone handlers
// are called on worker and joining threads; they must post to the core.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/retiring_workers.hpp"
#include "gateway/store/message_store.hpp"

namespace fieldbridge::gateway {

// The devices of cfg on the named bus, in configuration order.
std::vector<config::device> devices_on(const config::gateway& cfg, const std::string& bus);

// Whether a reload from `before` to `after` keeps the worker of `bus`
// polling: the bus and its devices are the same in both.
bool keeps_polling(const config::gateway& before, const config::gateway& after, const std::string& bus);

// How long the process waits, after the core loop ended, for workers still
// inside a request (a device timeout may be up to a minute).
inline constexpr auto retiring_wait = std::chrono::seconds(5);

class bus_set {
public:
    // On the worker thread: a poll result of `bus`, tagged with the
    // generation its worker was created in.
    using result_handler =
        std::function<void(const std::string& bus, std::uint64_t generation, modbus::poll_result)>;
    using gone_handler = modbus::retiring_workers::gone_handler;

    // gone: a worker retired by a reload has finished (see start_waiting).
    bus_set(result_handler on_result, gone_handler gone);

    // Creates a worker for every bus of cfg with devices that has none yet
    // (those kept by retire_changed() keep polling as they are) and routes
    // the devices to them. refused: the store's remembered refused reads.
    // With start_now, a new worker starts at once unless a retiring one
    // still holds its link; otherwise start_all() starts them. Returns one
    // line per bus whose worker could not be made (its devices not polled);
    // not_started() gives the same buses, each with why.
    std::vector<std::string> build(const config::gateway& cfg, const std::vector<store::refused_read>& refused,
                                   bool start_now);
    void start_all();
    // Retires the workers whose bus is not kept from `before` to `next`
    // (keeps_polling); returns how many.
    std::size_t retire_changed(const config::gateway& before, const config::gateway& next);
    // A retired worker let go of its link: starts the workers that waited for it.
    void start_waiting();
    // Shutdown: every worker retires, no device is routed any more.
    void retire_all();
    // After the core loop: waits until `deadline` for retiring workers;
    // those still inside a request are silenced and their buses returned.
    std::vector<std::string> finish(std::chrono::steady_clock::time_point deadline);

    // The worker of configured device `device` (an index into the
    // configuration's devices) and its index there; nullptr when not polled.
    std::pair<modbus::bus_worker*, std::size_t> route(std::size_t device) const;
    // Queues a write of *v (or a read, without v) of one point of configured
    // device `device` on its bus (bus_worker::write/read; done runs on the
    // worker thread). False, and done is not called, when no worker polls it.
    bool access(std::size_t device, std::size_t point, std::optional<modbus::value> v,
                modbus::bus_worker::point_handler done);
    // The counters of configured device `device`; zero when no worker polls it.
    modbus::device_counters counters(std::size_t device) const;
    // Whether a result tagged with `generation` comes from the bus's current worker.
    bool current(const std::string& bus, std::uint64_t generation) const;

    // The buses the last build() could not make a worker for, each with why
    // ("bus <name>: cannot start its worker (<reason>)").
    const std::map<std::string, std::string>& not_started() const { return not_started_; }
    const std::vector<std::unique_ptr<modbus::bus_worker>>& workers() const { return workers_; }
    std::vector<std::string> stopping() const { return retiring_.names(); }

private:
    // Makes (and, with start_now, starts) the worker of `bus`, whose devices
    // are cfg.devices[global[...]]; throws when no thread or descriptor can be had.
    void add_worker(const config::gateway& cfg, const config::bus& bus, const std::vector<std::size_t>& global,
                    const std::vector<store::refused_read>& refused, bool start_now);

    result_handler on_result_;
    gone_handler gone_;
    // Made with the first Modbus TCP bus; each of its workers holds it too.
    std::shared_ptr<modbus::poll_thread> tcp_thread_;
    std::vector<std::unique_ptr<modbus::bus_worker>> workers_;
    std::vector<std::pair<modbus::bus_worker*, std::size_t>> routes_;
    std::map<std::string, std::uint64_t> generation_;
    std::map<std::string, std::string> not_started_;
    modbus::retiring_workers retiring_;
};

}  // namespace fieldbridge::gateway
