// What the forwarder counts, as plain data for the status report.
#pragma once

#include <cstdint>

namespace fieldbridge::gateway {

struct forwarder_stats {
    std::uint64_t submitted = 0;
    std::uint64_t stored = 0;
    std::uint64_t refused = 0;       // not stored (queue full by policy, disk full)
    std::uint64_t delivered = 0;     // acknowledged by the broker
    std::uint64_t refused_by_broker = 0;  // answered with a refusal (MQTT 5.0), deleted
    // Deleted unsent: no server takes them (a topic with a control
    // character, from a configuration that did not pass `check`).
    std::uint64_t unsendable = 0;
    std::uint64_t quota_retries = 0;      // answered 0x97 Quota exceeded (MQTT 5.0) and queued again
    std::uint64_t ledger_errors = 0; // commits that failed (nothing was sent after them)
    std::uint64_t resyncs = 0;       // sessions rebuilt from the store after a failed commit
    std::uint64_t direct = 0;        // QoS 0 messages handed to the client without the store
    std::uint64_t qos0_lost = 0;     // of those, lost: the link dropped before they were written
    std::uint64_t historical = 0;    // of delivered: marked historical (store.order: fresh_first)
    std::uint64_t splits = 0;        // backlogs split when the link came back (fresh_first)
};

}  // namespace fieldbridge::gateway
