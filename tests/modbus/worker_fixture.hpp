// worker_fixture: what the bus_worker tests share: the bus a fake link
// stands in for, a plant on one Modbus TCP bus, and waiting (with a
// deadline) for a write's outcome.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/bus_worker.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus::testing_fixture {

// The bus a fake link (fake_link.hpp) stands in for: its address is never dialled.
inline config::bus fake_bus() {
    config::bus b;
    b.name = "line";
    b.link = config::tcp_link{"fake", 1};
    return b;
}

// `devices` on one Modbus TCP bus named "line" at 127.0.0.1:port (the
// simulator serves it, a worker polls it).
inline config::gateway tcp_config(std::uint16_t port, std::vector<config::device> devices) {
    config::gateway g;
    config::bus b;
    b.name = "line";
    b.link = config::tcp_link{"127.0.0.1", port};
    g.buses.push_back(b);
    g.devices = std::move(devices);
    return g;
}

// Writes v to point `point` of the worker's first device and waits up to
// 10 s for the outcome (a timeout error when none came).
inline point_result write_and_wait(bus_worker& worker, std::size_t point, value v) {
    std::mutex m;
    std::condition_variable cv;
    std::optional<point_result> out;
    worker.write(0, point, std::move(v), [&](point_result r) {
        const std::lock_guard lock(m);
        out = std::move(r);
        cv.notify_all();
    });
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return out.has_value(); });
    return out.value_or(point_result{make_error_code(modbus_errc::timeout), {}});
}

}  // namespace fieldbridge::modbus::testing_fixture
