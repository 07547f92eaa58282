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
// the unit check instead of passing for their answer. An answer later
// than these waits still passes for the next one's: nothing on the line
// tells it apart.
// Pure: no I/O; `now` is given.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <system_error>

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
        if (r.retry && u.failed && same_question(u.asked, r)) return {};
        return u.until;
    }

    // What became of `r`, sent at `sent`, by `now`.
    void exchanged(const request& r, std::error_code error, clock::time_point sent, clock::time_point now) {
        auto& u = units_[r.unit];
        const bool unanswered = error && !is_exception(error) && error != make_error_code(modbus_errc::connection_failed);
        if (unanswered) {
            // A broken answer is known early; the late one's time runs from
            // when the answer was due.
            u = unit{std::max(now, sent + r.timeout) + r.timeout, r, true};
        } else if (r.retry && u.failed && same_question(u.asked, r)) {
            u = unit{now + 2 * r.timeout, r, false};
        } else {
            u = unit{};
        }
    }

private:
    struct unit {
        clock::time_point until{};
        request asked{};      // the last request that failed, or the retry answered
        bool failed = false;  // `asked` failed: a retry of it goes at once
    };

    static bool same_question(const request& a, const request& b) {
        return a.function == b.function && a.address == b.address && a.count == b.count && a.category == b.category &&
               a.values == b.values;
    }

    std::array<unit, 256> units_{};
};

}  // namespace fieldbridge::modbus
