// request_policy: what the bus worker does around one request, decided from
// values and a `now` (no link, no clock, no thread): whether a failed
// request is asked again and when, and how long a device's own pauses hold
// the next request back.
//
// Retries: a request is asked at most 1 + retries times. A timeout, a
// garbled answer or a connection that broke mid-request is asked again at
// once; exception 6 (server busy) is asked again after busy_delay (the
// same wait every time, bounded by the retries); any other exception
// would only be repeated and ends the request. A write is asked again only
// after exception 6: the device said it did not take it; after no answer,
// a garbled one or a broken connection it may have, and a second write
// could act twice.
#pragma once

#include <chrono>
#include <system_error>

#include "config/model.hpp"

namespace fieldbridge::modbus {

class request_attempts {
public:
    using clock = std::chrono::steady_clock;

    enum class kind { read, write };

    request_attempts(int retries, std::chrono::milliseconds busy_delay, kind k = kind::read);
    // Of device d: its retries and busy_retry_delay.
    explicit request_attempts(const config::device& d, kind k = kind::read)
        : request_attempts(d.retries, d.busy_retry_delay, k) {}

    struct next {
        bool again = false;             // ask again; false: the request is over
        clock::time_point not_before{}; // when to ask again
    };
    // The attempt just made ended at `now` with `error` (empty: answered).
    next after(std::error_code error, clock::time_point now);

    // Attempts made so far; an attempt after the first is a retry.
    int made() const { return made_; }

private:
    int retries_;
    std::chrono::milliseconds busy_delay_;
    kind kind_;
    int made_ = 0;
};

// When the next request to device d may start: request_delay after the
// last request on the bus ended when that one went to d too, switch_delay
// when it went to another unit (or none went yet: last_unit < 0).
std::chrono::steady_clock::time_point paced_until(const config::device& d, int last_unit,
                                                  std::chrono::steady_clock::time_point last_request_end);

}  // namespace fieldbridge::modbus
