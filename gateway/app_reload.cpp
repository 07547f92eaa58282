// Reloading the configuration file. Reading and checking a large file takes
// seconds (docs/performance.md, "Loading a large configuration"): it runs on
// a thread of its own, so that meanwhile the core thread keeps taking poll
// results, moving the uplink and commands, and pinging the watchdog. What it
// gives is applied on the core thread. One read at a time: a reload asked
// while one runs is answered by the next read, which starts when the
// running one is applied (the file may have changed after it was read).
#include <exception>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/topic.hpp"
#include "gateway/app.hpp"
#include "gateway/app_parts.hpp"
#include "gateway/availability.hpp"
#include "gateway/config_reload.hpp"

namespace fieldbridge::gateway {
namespace {

using system = std::chrono::system_clock;

nlohmann::json shutting_down() { return {{"reloaded", false}, {"error", "the gateway is shutting down"}}; }

}  // namespace

void app::reload(reload_answer answer) {
    auto& p = *parts_;
    if (stopping_) return answer(shutting_down());
    p.reload_waiting.push_back(std::move(answer));
    if (!p.reload_loading) read_for_reload();
}

// The waiting answers go with this read (kept here: the reading thread
// holds nothing of the core's); its outcome is applied and answered on the
// core thread, even while stopping (then as refused).
void app::read_for_reload() {
    auto& p = *parts_;
    p.reload_loading = true;
    spdlog::info("reload: reading {}", config_path_);
    p.reload_answering = std::exchange(p.reload_waiting, {});
    auto done = [this](reload_candidate candidate) {
        on_core([this, candidate = std::move(candidate)]() mutable { reload_read(std::move(candidate)); }, true);
    };
    // The thread of the read before has posted its outcome and is ending.
    if (p.reload_thread.thread.joinable()) p.reload_thread.thread.join();
    try {
        p.reload_thread.thread = std::thread([path = config_path_, done] { done(load_for_reload(path)); });
    } catch (const std::system_error& e) {
        // No thread to be had: read here (the core waits for it, as it did).
        spdlog::warn("reload: no thread for reading the file ({}); reading it on the core thread", e.what());
        done(load_for_reload(config_path_));
    }
}

void app::reload_read(reload_candidate candidate) {
    auto& p = *parts_;
    nlohmann::json outcome;
    try {
        outcome = stopping_ ? shutting_down() : apply_reload(std::move(candidate));
    } catch (const std::exception& e) {
        // Out of memory, or a bound the loader did not see: said, not thrown
        // out of the core loop (which would end the service uncleanly).
        spdlog::error("reload failed: {}", e.what());
        ++p.reload_failures;
        p.last_reload_error = std::string("reload failed: ") + e.what();
        outcome = {{"reloaded", false}, {"error", p.last_reload_error}};
    }
    for (const auto& answer : std::exchange(p.reload_answering, {})) answer(outcome);
    p.reload_loading = false;
    if (!p.reload_waiting.empty() && !stopping_) return read_for_reload();
    reloads_end();
}

// The gateway stops: every reload asked and not answered is refused now,
// while the control server can still answer (the outcome of a read under
// way, should it come, finds nobody waiting). The read itself is not
// interrupted: the parts' end waits for its thread.
void app::reloads_end() {
    auto& p = *parts_;
    for (const auto& answer : std::exchange(p.reload_answering, {})) answer(shutting_down());
    for (const auto& answer : std::exchange(p.reload_waiting, {})) answer(shutting_down());
}

// Buses whose settings and devices are the same keep polling; the others are stopped
// and started anew (bus_set). A refused file changes nothing.
nlohmann::json app::apply_reload(reload_candidate candidate) {
    auto& p = *parts_;
    if (candidate.next) {
        if (auto why = needs_restart(cfg_, *candidate.next)) {
            candidate.next.reset();
            candidate.refusal = std::move(*why);
        }
    }
    if (!candidate.next) {
        spdlog::error("reload refused, the running configuration stays: {}", candidate.refusal);
        p.last_reload_error = candidate.refusal;
        ++p.reload_failures;
        return {{"reloaded", false}, {"error", std::move(candidate.refusal)}};
    }
    const auto restarted = p.buses.retire_changed(cfg_, *candidate.next);
    const auto kept = p.buses.workers().size();
    p.dispatcher.give_up_all("the configuration was reloaded before the device came back");
    const auto old_status = config::status_topic(cfg_);
    cfg_ = std::move(*candidate.next);
    if (!sparkplug() && config::status_topic(cfg_) != old_status) {
        // The broker keeps the last will this connection gave, on the old
        // topic. Closed without a DISCONNECT, the link has the broker publish
        // it (the old topic says offline); the next connection gives the new
        // will and its birth goes to the new topic.
        spdlog::info("the gateway's status topic moved from {} to {}: reconnecting so that the last will moves too",
                     old_status, status_topic(cfg_));
        p.client.set_will(gateway_will(cfg_));
        p.client.drop_link(std::make_error_code(std::errc::connection_aborted));
    }
    p.topics = std::make_shared<const point_topics>(cfg_);
    // Built first: a device whose bus cannot start is said offline (or not born), never online first.
    const auto not_started = build_buses(true);  // the reload is done, and says so
    p.publisher.reconfigure(cfg_, p.topics, system::now(), p.buses.not_started());
    p.dispatcher.reconfigure(cfg_, p.topics);
    if (sparkplug()) sparkplug_reconfigured();
    p.dispatcher.subscribe();
    ++p.reloads;
    p.last_reload_error = fmt::format("{}", fmt::join(not_started, "; "));
    spdlog::info("configuration reloaded: {} bus(es) kept polling, {} stopped, {} started; {} device(s)", kept,
                 restarted, p.buses.workers().size() - kept, cfg_.devices.size());
    nlohmann::json done = {{"reloaded", true}, {"buses_kept", kept}, {"devices", cfg_.devices.size()}};
    if (!not_started.empty()) done["error"] = p.last_reload_error;
    return done;
}

}  // namespace fieldbridge::gateway
