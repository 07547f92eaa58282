// late_answers: on a line without transaction ids (RTU, and RTU frames
// behind a converter), which request may be sent at once and which must
// first wait for a late answer to go by.
//
// A unit that failed to answer in time (or answered with a broken frame)
// may still answer, up to one more response timeout after its answer was
// due (the request went out, plus a timeout). That answer
// carries the unit's id, the function and often the length of the next
// request to it: read on from there it would pass for that one's answer,
// well-formed and wrong, and every answer after it for the request after
// its own. So after a failure, the next request to that unit waits until
// the late answer's time is up (the link drops what comes meanwhile).
// Except a retry of the very request that failed, asked at once: a late
// answer to its first attempt answers the same question. Once a retry was
// answered, that answer may have been the late one and the retry's own may
// still come: the next request waits two response timeouts from then.
// Requests to other units go at once: a late frame of another unit fails
// the unit check instead of passing for their answer. But that costs the
// other unit its request (on RS485 the late frame may also collide with the
// request on the wire), so a unit seen to answer late is remembered: stray
// bytes on the line (dropped before a request, or an answer that did not
// fit) while its late answer could still come. From then on, every request
// to any unit waits for that unit's late answer, and a unit that answers
// late costs its own time only. The stray bytes may have been another
// master's or noise: a unit whose late answer's time then passes with
// nothing on the line is forgotten again, so that a unit that never answers
// costs the others at most one such wait per stray frame. An answer later
// than these waits still passes for the next one's: nothing on the line
// tells it apart.
// Pure: no I/O; `now` is given.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <chrono>
#include <optional>
#include <system_error>
#include <vector>

#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/request.hpp"

namespace fieldbridge::modbus {

class late_answers {
public:
    using clock = std::chrono::steady_clock;

    // Until when the line must be watched, and what comes dropped, before
    // `r` is sent; a time already past: nothing to wait for.
    clock::time_point wait_before(const request& r) const {
        const auto& u = units_[r.unit];
        clock::time_point until{};
        if (!(r.retry && u.failed && same_question(u.asked, r))) until = u.until;
        for (const auto other : answers_late_) {
            if (other != r.unit) until = std::max(until, units_[other].until);
        }
        return until;
    }

    // Bytes no request asked for came on the line between `since` and now
    // (dropped before a request): every unit whose late answer could come
    // then answers late.
    void stray_came(clock::time_point since) { late_frame_came(since, std::nullopt); }

    // Nothing came on the line between `since` and `now` (a wait before a
    // request that dropped nothing): a unit seen answering late whose whole
    // late answer's time lay in there did not answer late this time, and is
    // forgotten. (One whose time began before `since` may have answered
    // into the exchange that ended then.)
    void quiet_between(clock::time_point since, clock::time_point now) {
        std::erase_if(answers_late_, [&](std::uint8_t id) {
            const auto& u = units_[id];
            return u.due >= since && u.until > u.due && u.until <= now;
        });
    }

    // What the wait before a request found by `now`: `dropped` bytes that
    // came since the last exchange ended (stray_came), or none (quiet_between).
    void waited(std::size_t dropped, clock::time_point now) {
        if (dropped > 0) {
            stray_came(last_ended_);
        } else {
            quiet_between(last_ended_, now);
        }
    }

    // What became of `r`, sent at `sent`, by `now` (when the exchange ended).
    void exchanged(const request& r, std::error_code error, clock::time_point sent, clock::time_point now) {
        last_ended_ = now;
        // An answer that did not fit may be another unit's late frame.
        if (error == make_error_code(modbus_errc::invalid_response)) late_frame_came(sent, r.unit);
        auto& u = units_[r.unit];
        const bool unanswered = error && !is_exception(error) && error != make_error_code(modbus_errc::connection_failed);
        if (unanswered) {
            // A broken answer is known early; the late one's time runs from
            // when the answer was due.
            const auto due = std::max(now, sent + r.timeout);
            u = unit{due, due + r.timeout, r, true};
        } else if (r.retry && u.failed && same_question(u.asked, r)) {
            u = unit{now, now + 2 * r.timeout, r, false};
        } else {
            u = unit{};
        }
    }

    // Units seen answering late (wait_before makes every request wait for them).
    bool answers_late(std::uint8_t id) const {
        return std::find(answers_late_.begin(), answers_late_.end(), id) != answers_late_.end();
    }

private:
    // Every unit but `except` whose late answer could still come after
    // `since` is taken to answer late.
    void late_frame_came(clock::time_point since, std::optional<std::uint8_t> except) {
        for (std::size_t other = 0; other < units_.size(); ++other) {
            const auto id = static_cast<std::uint8_t>(other);
            if (id != except && units_[other].until > since && !answers_late(id)) answers_late_.push_back(id);
        }
    }

    struct unit {
        clock::time_point due{};    // from when a late answer is awaited
        clock::time_point until{};  // until when
        request asked{};      // the last request that failed, or the retry answered
        bool failed = false;  // `asked` failed: a retry of it goes at once
    };

    static bool same_question(const request& a, const request& b) {
        return a.function == b.function && a.address == b.address && a.count == b.count && a.category == b.category &&
               a.values == b.values;
    }

    std::array<unit, 256> units_{};
    std::vector<std::uint8_t> answers_late_;  // at most 256 ids
    clock::time_point last_ended_{};          // when the last exchange ended
};

}  // namespace fieldbridge::modbus
