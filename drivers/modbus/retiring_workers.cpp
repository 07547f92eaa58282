#include "drivers/modbus/retiring_workers.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <variant>

#include <spdlog/spdlog.h>

namespace fieldbridge::modbus {

link_identity link_of(const config::bus& bus) {
    if (const auto* tcp = std::get_if<config::tcp_link>(&bus.link)) {
        return {"tcp:" + tcp->host + ":" + std::to_string(tcp->port), std::nullopt};
    }
    const auto& device = std::get<config::rtu_link>(bus.link).device;
    link_identity id{"serial:" + device, std::nullopt};
    struct stat st {};
    if (::stat(device.c_str(), &st) == 0 && S_ISCHR(st.st_mode))
        id.node = st.st_rdev;
    return id;
}

bool same_link(const link_identity& a, const link_identity& b) {
    return a.name == b.name || (a.node && b.node && *a.node == *b.node);
}

struct retiring_workers::state {
    struct entry {
        std::string bus;
        link_identity link;
        bus_worker* worker;  // alive while listed: it is destroyed only after leaving the list
        gone_handler gone;
    };
    mutable std::mutex mutex;
    std::condition_variable changed;
    std::list<entry> entries;  // guarded by mutex
    bool abandoned = false;    // guarded by mutex

    // On the joining thread: waits for the worker's request in flight, then
    // unlists it and tells the owner, unless the owner has gone.
    static void reap(const std::shared_ptr<state>& s, std::unique_ptr<bus_worker> w) {
        w->stop();
        {
            std::lock_guard lock(s->mutex);
            const auto it = std::find_if(s->entries.begin(), s->entries.end(),
                                         [&](const entry& e) { return e.worker == w.get(); });
            if (it != s->entries.end()) {
                // Under the lock, so that abandon() returns only once no
                // gone handler runs or will run.
                if (!s->abandoned && it->gone) it->gone(it->bus);
                s->entries.erase(it);
            }
            s->changed.notify_all();
        }
        w.reset();  // its thread is joined: nothing of it runs any more
    }
};

retiring_workers::retiring_workers() : state_(std::make_shared<state>()) {}

retiring_workers::~retiring_workers() { abandon(); }

void retiring_workers::retire(std::unique_ptr<bus_worker> w, gone_handler gone, std::error_code unsent) {
    if (w == nullptr) return;
    if (unsent) {
        w->request_stop(unsent);
    } else {
        w->request_stop();
    }
    {
        std::lock_guard lock(state_->mutex);
        state_->entries.push_back({w->name(), link_of(w->settings()), w.get(), std::move(gone)});
    }
    // The worker travels through a shared owner so that it is not lost (and
    // joined here by its destructor) when no thread can be started.
    auto owned = std::make_shared<std::unique_ptr<bus_worker>>(std::move(w));
    try {
        std::thread([s = state_, owned] { state::reap(s, std::move(*owned)); }).detach();
    } catch (const std::system_error& e) {
        spdlog::error("bus {}: cannot start a thread to stop its worker ({}); waiting for it here",
                      (*owned)->name(), e.what());
        state::reap(state_, std::move(*owned));
    }
}

bool retiring_workers::busy(const config::bus& bus) const {
    const auto link = link_of(bus);
    std::lock_guard lock(state_->mutex);
    return std::any_of(state_->entries.begin(), state_->entries.end(),
                       [&](const state::entry& e) { return same_link(e.link, link); });
}

std::vector<std::string> retiring_workers::names() const {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> out;
    for (const auto& e : state_->entries) out.push_back(e.bus);
    return out;
}

std::vector<std::string> retiring_workers::wait_until(std::chrono::steady_clock::time_point deadline) {
    {
        std::unique_lock lock(state_->mutex);
        state_->changed.wait_until(lock, deadline, [&] { return state_->entries.empty(); });
    }
    return names();
}

void retiring_workers::abandon() {
    std::lock_guard lock(state_->mutex);
    state_->abandoned = true;
    for (const auto& e : state_->entries) e.worker->silence();
}

}  // namespace fieldbridge::modbus
