// Reconnect delays: exponential from `min` to `max`, each drawn uniformly
// from [delay/2, delay] ("equal jitter") so that a fleet of gateways that
// lost the same broker does not reconnect in lockstep. Pure given its
// random engine; one owner, not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace fieldbridge::mqtt {

class backoff {
public:
    backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed);

    // The delay before the next attempt; grows with every call until reset().
    std::chrono::milliseconds next();
    // After a successful connection.
    void reset() { attempt_ = 0; }
    unsigned attempts() const { return attempt_; }

private:
    std::chrono::milliseconds min_;
    std::chrono::milliseconds max_;
    unsigned attempt_ = 0;
    std::mt19937_64 random_;
};

}  // namespace fieldbridge::mqtt
