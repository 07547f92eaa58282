// What /metrics exposes as counters must never go down (Prometheus takes a
// decrease for a restart of the process and reads a jump of the whole
// count). A few of the gateway's counts are net figures that it corrects
// downward and counts again later: messages handed to the MQTT client and
// taken back when the link drops (mqtt published), QoS 0 messages counted
// delivered and put back unwritten (queue delivered, historical), drops of
// a store transaction that was rolled back (queue dropped by max_messages,
// max_megabytes, max_age). The exposed value is the highest the net figure
// has shown: it stands still while the taken-back part is counted again.
// `fieldbridge status` shows the net figures. Pure.
#pragma once

#include <cstdint>

#include "gateway/status_report.hpp"

namespace fieldbridge::gateway {

class counter_floors {
public:
    // s with each corrected count raised to the highest it has shown.
    status_snapshot raised(status_snapshot s);

private:
    std::uint64_t published_ = 0;
    std::uint64_t delivered_ = 0;
    std::uint64_t historical_ = 0;
    std::uint64_t dropped_by_rows_ = 0;
    std::uint64_t dropped_by_bytes_ = 0;
    std::uint64_t dropped_by_age_ = 0;
};

}  // namespace fieldbridge::gateway
