#include "gateway/bus_set.hpp"

#include <algorithm>
#include <iterator>

#include <spdlog/spdlog.h>

#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "gateway/refused_reads.hpp"

namespace fieldbridge::gateway {

std::vector<config::device> devices_on(const config::gateway& cfg, const std::string& bus) {
    std::vector<config::device> out;
    for (const auto& d : cfg.devices) {
        if (d.bus == bus) out.push_back(d);
    }
    return out;
}

bool keeps_polling(const config::gateway& before, const config::gateway& after, const std::string& bus) {
    const auto find_bus = [&](const config::gateway& g) {
        return std::find_if(g.buses.begin(), g.buses.end(), [&](const auto& b) { return b.name == bus; });
    };
    const auto was = find_bus(before);
    const auto is = find_bus(after);
    return was != before.buses.end() && is != after.buses.end() && *was == *is &&
           devices_on(before, bus) == devices_on(after, bus);
}

bus_set::bus_set(result_handler on_result, gone_handler gone)
    : on_result_(std::move(on_result)), gone_(std::move(gone)) {}

std::vector<std::string> bus_set::build(const config::gateway& cfg, const std::vector<store::refused_read>& refused,
                                        bool start_now) {
    std::vector<std::string> not_started;
    not_started_.clear();
    routes_.assign(cfg.devices.size(), {nullptr, 0});
    for (const auto& bus : cfg.buses) {
        std::vector<std::size_t> global;
        for (std::size_t i = 0; i < cfg.devices.size(); ++i) {
            if (cfg.devices[i].bus == bus.name) global.push_back(i);
        }
        if (global.empty()) {
            spdlog::warn("bus {} has no devices; not polled", bus.name);
            continue;
        }
        auto it = std::find_if(workers_.begin(), workers_.end(),
                               [&](const auto& w) { return w->name() == bus.name; });
        if (it == workers_.end()) {
            try {
                add_worker(cfg, bus, global, refused, start_now);
            } catch (const std::exception& e) {
                // No descriptor or thread to be had: this bus is not polled
                // (its commands are refused as such), the others are, and a
                // reload goes on to its end. (A worker that started runs.)
                const bool made = !workers_.empty() && workers_.back()->name() == bus.name;
                if (!made || !workers_.back()->started()) {
                    if (made) workers_.pop_back();
                    const auto& why = not_started_[bus.name] =
                        "bus " + bus.name + ": cannot start its worker (" + e.what() + ")";
                    not_started.push_back(why + "; its devices are not polled");
                    spdlog::error("{}", not_started.back());
                    continue;
                }
            }
            it = std::prev(workers_.end());
        }
        for (std::size_t local = 0; local < global.size(); ++local)
            routes_[global[local]] = {it->get(), local};
    }
    return not_started;
}

void bus_set::add_worker(const config::gateway& cfg, const config::bus& bus, const std::vector<std::size_t>& global,
                         const std::vector<store::refused_read>& refused, bool start_now) {
    // Runs on the worker thread: the handler posts to the core.
    auto on_result = [handler = on_result_, bus_name = bus.name, generation = generation_[bus.name]](
                         modbus::poll_result r) { handler(bus_name, generation, std::move(r)); };
    if (modbus::shares_poll_thread(bus)) {
        if (tcp_thread_ == nullptr) tcp_thread_ = std::make_shared<modbus::poll_thread>();
        workers_.push_back(std::make_unique<modbus::bus_worker>(bus, devices_on(cfg, bus.name), on_result, true,
                                                                modbus::make_shared_link, tcp_thread_));
    } else {
        workers_.push_back(std::make_unique<modbus::bus_worker>(bus, devices_on(cfg, bus.name), on_result));
    }
    for (std::size_t local = 0; local < global.size(); ++local) {
        workers_.back()->remember_refused(local, refused_for(refused, cfg.devices[global[local]].name));
    }
    if (start_now && retiring_.busy(bus)) {
        // A device on a line or port that takes one master at a time
        // must not see a second connection while the old one waits
        // for its answer: started when the old worker is gone.
        spdlog::info("bus {}: waiting for its previous worker to finish the request in flight", bus.name);
    } else if (start_now) {
        workers_.back()->start();
    }
}

void bus_set::start_all() {
    for (auto& w : workers_) w->start();
}

std::size_t bus_set::retire_changed(const config::gateway& before, const config::gateway& next) {
    std::size_t retired = 0;
    std::vector<std::unique_ptr<modbus::bus_worker>> kept;
    for (auto& w : workers_) {
        if (keeps_polling(before, next, w->name())) {
            kept.push_back(std::move(w));
            continue;
        }
        // Not joined here: its request in flight may take up to the
        // device's timeout, longer than the watchdog allows the core.
        ++generation_[w->name()];
        retiring_.retire(std::move(w), gone_, make_error_code(modbus::modbus_errc::restarted_by_reload));
        ++retired;
    }
    workers_ = std::move(kept);
    // Until build() routes the next configuration, no device has a worker.
    routes_.assign(routes_.size(), {nullptr, 0});
    return retired;
}

void bus_set::start_waiting() {
    for (auto& w : workers_) {
        if (!w->started() && !retiring_.busy(w->settings())) w->start();
    }
}

void bus_set::retire_all() {
    routes_.assign(routes_.size(), {nullptr, 0});
    for (auto& w : workers_) retiring_.retire(std::move(w), {}, make_error_code(modbus::modbus_errc::gateway_stopping));
    workers_.clear();
}

std::vector<std::string> bus_set::finish(std::chrono::steady_clock::time_point deadline) {
    retire_all();
    auto left = retiring_.wait_until(deadline);
    retiring_.abandon();
    return left;
}

std::pair<modbus::bus_worker*, std::size_t> bus_set::route(std::size_t device) const {
    if (device >= routes_.size()) return {nullptr, 0};
    return routes_[device];
}

bool bus_set::access(std::size_t device, std::size_t point, std::optional<modbus::value> v,
                     modbus::bus_worker::point_handler done) {
    const auto [worker, local] = route(device);
    if (worker == nullptr) return false;
    if (v) {
        worker->write(local, point, std::move(*v), std::move(done));
    } else {
        worker->read(local, point, std::move(done));
    }
    return true;
}

modbus::device_counters bus_set::counters(std::size_t device) const {
    const auto [worker, local] = route(device);
    return worker != nullptr ? worker->counters(local) : modbus::device_counters{};
}

bool bus_set::current(const std::string& bus, std::uint64_t generation) const {
    const auto it = generation_.find(bus);
    return (it == generation_.end() ? 0 : it->second) == generation;
}

}  // namespace fieldbridge::gateway
