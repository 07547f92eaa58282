// open_attempts: the attempts to open a link (a Modbus connection, a serial
// line, a converter's TCP connection): when the next one may be made, and
// which outcomes are worth a log line, so that a dead host or an unplugged
// adapter neither spins nor floods the journal.
#pragma once

#include <algorithm>
#include <chrono>
#include <utility>

namespace fieldbridge::modbus {

class open_attempts {
public:
    using clock = std::chrono::steady_clock;

    // Whether an attempt may be made now.
    bool due(clock::time_point now) const { return now >= retry_at_; }

    // The next attempt waits: 100 ms after the first failure, doubling up to 5 s.
    void back_off(clock::time_point now) {
        delay_ = std::clamp(delay_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
        retry_at_ = now + delay_;
    }

    // A failed attempt (backs off): true for the first failure since the
    // link was last open, the one worth a warning.
    bool failed(clock::time_point now) {
        back_off(now);
        return !std::exchange(reported_, true);
    }

    struct opening {
        bool reopened;  // the link was open before: a reconnect
        bool tell;      // the first opening, or the end of failures that were reported
    };
    // A successful attempt: the next failure waits 100 ms again.
    opening opened() {
        const opening o{ever_, reported_ || !ever_};
        ever_ = true;
        reported_ = false;
        delay_ = std::chrono::milliseconds(0);
        return o;
    }

private:
    bool ever_ = false;
    bool reported_ = false;
    std::chrono::milliseconds delay_{0};
    clock::time_point retry_at_{};
};

}  // namespace fieldbridge::modbus
