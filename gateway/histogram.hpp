// histogram: how long something took, counted into fixed buckets as the
// Prometheus exposition format wants them (cumulative `le` buckets, a sum
// and a count). The bounds are the same for every histogram of the gateway,
// from 1 ms to 10 s, so a histogram is a small fixed block with no heap of
// its own (one per device). Plain data; not thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fieldbridge::gateway {

class histogram {
public:
    // Upper bounds of the buckets, in seconds; a last bucket (+Inf) takes the rest.
    static constexpr std::array<double, 13> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

    void observe(std::chrono::duration<double> d);

    // Observations at or below bounds[i] (i < bounds.size()), or all of them
    // (i == bounds.size(), the +Inf bucket): cumulative, as exposed.
    std::uint64_t at_or_below(std::size_t i) const;
    std::uint64_t count() const { return count_; }
    double sum_seconds() const { return sum_; }

    bool operator==(const histogram&) const = default;

private:
    std::array<std::uint64_t, bounds.size() + 1> buckets_{};  // per bucket, not cumulative
    std::uint64_t count_ = 0;
    double sum_ = 0.0;
};

}  // namespace fieldbridge::gateway
