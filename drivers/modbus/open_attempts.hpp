// open_attempts: the attempts to open a link (a Modbus connection, a serial
// line, a converter's TCP connection): when the next one may be made, and
// which outcomes are worth a log line, so that a dead host or an unplugged
// adapter neither spins nor floods the journal.
//
// An opening alone does not end the back-off: a serial server or PLC that
// accepts a TCP connection and closes it at once (no free slot, a client
// filter) would otherwise be reconnected in a tight loop. The back-off
// starts over once the connection proved itself: the peer answered on it
// (proven()), or it stayed up for stable_after. A connection that breaks
// before either counts as a failed attempt (broke()).
// Pure: no I/O; `now` is given.
#pragma once

#include <algorithm>
#include <chrono>
#include <utility>

namespace fieldbridge::modbus {

class open_attempts {
public:
    using clock = std::chrono::steady_clock;

    // How long a connection must stay up, without an answer, to count as good.
    static constexpr std::chrono::seconds stable_after{10};

    // Whether an attempt may be made now.
    bool due(clock::time_point now) const { return now >= retry_at_; }

    // The next attempt waits: 100 ms after the first failure, doubling up to 5 s.
    void back_off(clock::time_point now) {
        delay_ = std::clamp(delay_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
        retry_at_ = now + delay_;
    }

    // A failed attempt at `now` (backs off): true for the first failure
    // since a connection last proved itself, the one worth a warning.
    bool failed(clock::time_point now) {
        back_off(now);
        open_ = false;
        if (reported_) return false;
        reported_ = true;
        told_opening_ = false;
        return true;
    }

    struct opening {
        bool reopened;  // the link was open before: a reconnect
        bool tell;      // the first opening, or the first one after failures that were reported
    };
    // A connection opened at `now`. The back-off goes on until it proves itself.
    opening opened(clock::time_point now) {
        const opening o{ever_, !ever_ || (reported_ && !told_opening_)};
        if (o.tell) told_opening_ = true;
        ever_ = true;
        open_ = true;
        proven_ = false;
        opened_at_ = now;
        return o;
    }

    // The peer answered on the open connection: the next failure waits
    // 100 ms again, and is told again.
    void proven() {
        if (!open_) return;
        proven_ = true;
        delay_ = std::chrono::milliseconds(0);
        reported_ = false;
    }
    // Whether the open connection proved itself (answered) yet.
    bool answered() const { return open_ && proven_; }

    // The open connection broke (the peer closed it, a reset, a half-open
    // link) at `now`. One that proved itself, or stayed up stable_after, may
    // be reopened at once; one that did not is a failed attempt and backs
    // off. True when worth a warning: the first break since a connection
    // last proved itself.
    bool broke(clock::time_point now) {
        if (!open_) return false;
        if (proven_ || now - opened_at_ >= stable_after) {
            open_ = false;
            delay_ = std::chrono::milliseconds(0);
            retry_at_ = now;
            reported_ = false;
            return true;
        }
        return failed(now);
    }

    // The connection was closed on purpose (the device asked, the worker
    // stops): neither a failure nor a proof.
    void closed() { open_ = false; }

private:
    bool ever_ = false;
    bool open_ = false;
    bool proven_ = false;
    bool reported_ = false;      // a failure was told and no connection proved itself since
    bool told_opening_ = false;  // an opening was told since that failure
    std::chrono::milliseconds delay_{0};
    clock::time_point retry_at_{};
    clock::time_point opened_at_{};
};

}  // namespace fieldbridge::modbus
