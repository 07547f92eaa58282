// bus_worker's poll of one device: its block reads with their retries,
// the exception-2 split, an offline device's one block a poll, and the
// blocks held back by silent_blocks (bus_worker.hpp).
#include "drivers/modbus/bus_worker.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/names.hpp"
#include "drivers/modbus/block_answer.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/poll_writes.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/request_policy.hpp"

namespace fieldbridge::modbus {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// One poll of device `index`: every block read of its plan, each with its
// retries (of an offline device, up to the first block that gets no
// answer); nullopt when stopped in the middle.
asio::awaitable<std::optional<poll_result>> bus_worker::poll(link& line, std::size_t index, device_plan& plan) {
    const auto& device = devices_[index];
    reply answer;

    poll_result result;
    result.device = device.name;
    result.samples.reserve(device.points.size());
    for (const auto i : plan.unreadable) {
        result.samples.push_back(sample{i, {}, quality{false, make_error_code(modbus_errc::not_readable)}});
    }

    written_.clear();
    plan.reports.clear();
    // An offline device's poll starts at plan.probe, the block after the one
    // that last got no answer, so that its blocks are tried in turn: one
    // that never answers cannot keep the device offline.
    const bool offline = health_[index].state() == device_state::offline;
    const std::size_t from = offline && !plan.reads.empty() ? plan.probe % plan.reads.size() : 0;
    bool answered_any = false;
    // A block this poll leaves out: reported not asked, its points bad for `why`.
    const auto leave_out = [&](const read_request& r, modbus_errc why) {
        plan.reports.push_back({{r.kind, r.start, r.count}, block_outcome::not_asked});
        for (const auto i : r.points) result.samples.push_back(sample{i, {}, quality{false, make_error_code(why)}});
    };
    for (std::size_t ri = 0; ri < plan.reads.size(); ++ri) {
        const auto read = plan.reads[ri];
        const block_id block{read.kind, read.start, read.count};
        if (ri < from) {
            leave_out(read, modbus_errc::device_offline);
            continue;
        }
        if (!plan.silent.due(block, steady::now())) {
            leave_out(read, modbus_errc::block_silent);
            continue;
        }
        // A command does not wait for a long poll to finish (before the
        // first block, run() has just let the queued ones in).
        if (ri > 0) co_await run_writes(line);
        forget_overwritten(index, result);
        // The link down: no point in asking now.
        auto error = co_await open(line, index);
        if (!error) {
            error = co_await attempted_exchange(line, index, read_of(device, read), answer,
                                                request_attempts::kind::read, nullptr);
        }
        if (stop_requested()) co_return std::nullopt;  // stopped in the middle: not reported
        if (error == make_error_code(modbus_errc::illegal_data_address)) {
            // A merged read that spans registers the device does not
            // have: read its parts instead, now and from now on.
            const refused_read refused{read.kind, read.start, read.count};
            const auto before = plan.reads.size();
            apply_refusals(plan.reads, {refused}, device.points, limits_of(device));
            // Split in parts, or a lone bit read moved from its aligned
            // start to its point's address (one read still).
            const auto& now_first = plan.reads[ri];
            if (plan.reads.size() != before || now_first.start != read.start || now_first.count != read.count) {
                spdlog::warn("bus {}: device {} refused the read of {} register(s) at {} (exception 2); reading "
                             "it in {} part(s) from now on, the first {} at {}",
                             bus_.name, device.name, read.count, read.start, plan.reads.size() - before + 1,
                             now_first.count, now_first.start);
                result.refused.push_back(refused);
                --ri;
                continue;
            }
        }
        // No usable answer: none in time, a Modbus gateway's exception 11
        // (the device behind it did not answer), or a garbled one (a bad CRC,
        // length or unit id: a wrong baud rate or parity, a failing
        // transceiver), which costs the line as much. Exception 10 (no path)
        // says nothing of the block.
        const bool no_answer = error == make_error_code(modbus_errc::timeout) ||
                               error == make_error_code(modbus_errc::gateway_target_failed) ||
                               error == make_error_code(modbus_errc::invalid_response);
        const bool answered =
            !error || (is_exception(error) && !no_answer && error != make_error_code(modbus_errc::gateway_path_unavailable));
        answered_any = answered_any || answered;
        plan.reports.push_back(
            {block, answered ? block_outcome::answered : no_answer ? block_outcome::no_answer : block_outcome::not_asked});
        for (const auto i : read.points) {
            sample s;
            s.point = i;
            if (error) {
                s.quality = quality{false, error};
            } else {
                const auto& p = device.points[i];
                auto words = config::is_bit_kind(read.kind) ? point_bit(read, p, answer.bits)
                                                            : point_registers(read, p, answer.registers);
                if (words) {
                    s.words = std::move(*words);
                } else {
                    s.quality = quality{false, words.error()};
                }
            }
            result.samples.push_back(std::move(s));
        }
        if (no_answer && offline && !answered_any) {
            // An offline device gets one block's worth of the line a poll
            // (its retries, no late-answer waits of further blocks): the
            // rest is not asked until a block answers again. Once one has,
            // in this poll, the device is back and the rest is read.
            plan.probe = ri + 1;
            for (std::size_t rest = ri + 1; rest < plan.reads.size(); ++rest) {
                leave_out(plan.reads[rest], modbus_errc::device_offline);
            }
            break;
        }
    }
    const auto changes = plan.silent.record(plan.reports, steady::now());
    for (const auto& c : changes) {
        const auto& b = plan.reports[c.report].block;
        if (c.silent) {
            spdlog::warn("bus {}: device {} did not answer the read of {} in its last {} polls while "
                         "answering its others; asking it every {} ms until it answers",
                         bus_.name, device.name, to_string(b), device.offline_after,
                         device.offline_poll_interval.count());
        } else {
            spdlog::info("bus {}: device {} answers the read of {} again", bus_.name, device.name, to_string(b));
        }
    }
    // A plan that changed forgets held blocks without a change to report.
    // `held` is written on this thread only; the lock is for readers.
    if (auto held = plan.silent.held(); !changes.empty() || held.size() != device_counters_[index].held.size()) {
        auto& cells = device_counters_[index];
        const std::lock_guard lock(cells.held_mutex);
        cells.held = std::move(held);
    }
    co_return result;
}

// Samples of `result` read before a write of their registers went to the
// device: the write's read-back has the point's value, and these would
// follow it with the old one (poll_writes.hpp).
void bus_worker::forget_overwritten(std::size_t index, poll_result& result) {
    std::vector<written_registers> mine;
    for (const auto& [device, registers] : written_) {
        if (device == index) mine.push_back(registers);
    }
    written_.clear();
    const auto good = [&result] {
        return std::count_if(result.samples.begin(), result.samples.end(),
                             [](const sample& s) { return s.quality.good; });
    };
    const auto good_before = good();
    drop_overwritten(result.samples, devices_[index].points, mine);
    // What was read counts as an answer of the device, kept or not.
    if (good() != good_before) result.overwritten_good = true;
}

}  // namespace fieldbridge::modbus
