// How long a message answered 0x97 Quota exceeded (MQTT 5.0 PUBACK/PUBREC)
// waits before it goes again: the broker's limit (its in-flight or queued
// messages per client, a rate) frees up with time, not within the
// milliseconds of the next commit. Doubling from one second to a minute:
// the eight tries forwarder::quota_retries allows span about three minutes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace fieldbridge::gateway {

// tries: the 0x97 answers this message has had, from 1.
constexpr std::chrono::milliseconds quota_retry_delay(std::uint32_t tries) {
    constexpr std::chrono::milliseconds first{1000};
    constexpr std::chrono::milliseconds most{60'000};
    const auto doublings = std::min<std::uint32_t>(tries == 0 ? 0 : tries - 1, 6);
    return std::min<std::chrono::milliseconds>(first * (1LL << doublings), most);
}

}  // namespace fieldbridge::gateway
