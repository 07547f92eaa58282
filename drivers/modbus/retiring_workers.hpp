// retiring_workers: bus workers that were told to stop and are joined off
// their owner's thread. A worker may be inside a blocking libmodbus request
// for up to its device's timeout (a minute at most); the core thread, which
// feeds the service watchdog and answers the control socket, must never wait
// for that. Each retiring worker gets a short-lived thread of its own that
// joins and destroys it, then tells the owner through the `gone` handler.
//
// Thread-safety: members from the owning thread. The joining threads share
// only an internal state that outlives this object; once abandon() (or the
// destructor) returned, no worker handler and no `gone` handler runs again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "config/model.hpp"
#include "drivers/modbus/bus_worker.hpp"

namespace fieldbridge::modbus {

class retiring_workers {
public:
    // Called on the joining thread once the worker is gone: must not block
    // (post to the owner).
    using gone_handler = std::function<void(const std::string& bus)>;

    retiring_workers();
    ~retiring_workers();  // abandon()
    retiring_workers(const retiring_workers&) = delete;
    retiring_workers& operator=(const retiring_workers&) = delete;

    // Tells w to stop (it hands over no poll result from now on; the writes
    // it still queues are answered with `unsent`, the reason they were not
    // sent) and has it joined and destroyed off this thread; then calls
    // gone(its bus name).
    void retire(std::unique_ptr<bus_worker> w, gone_handler gone = {}, std::error_code unsent = {});

    // Whether a retiring worker still holds the link `bus` uses (the same
    // serial device, or the same host and port): a successor must not open
    // a second connection to a device that takes one master at a time.
    bool busy(const config::bus& bus) const;
    // The buses whose workers are still stopping.
    std::vector<std::string> names() const;
    // Waits until every retiring worker is gone or `deadline` passed;
    // returns the buses still stopping.
    std::vector<std::string> wait_until(std::chrono::steady_clock::time_point deadline);
    // For an owner about to go away: the workers still stopping call no
    // handler any more, and no `gone` handler is called.
    void abandon();

private:
    struct state;
    std::shared_ptr<state> state_;
};

// What identifies the link of a bus: its serial device, or host and port.
// A serial device is also known by its device number, so that two names of
// one port (a /dev/serial/by-id/ link and the node it points to) are one link.
struct link_identity {
    std::string name;                   // "serial:PATH" or "tcp:HOST:PORT"
    std::optional<std::uint64_t> node;  // a serial device's st_rdev, when it exists now
};
link_identity link_of(const config::bus& bus);
bool same_link(const link_identity& a, const link_identity& b);

}  // namespace fieldbridge::modbus
