#include "gateway/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace fieldbridge::gateway {

void histogram::observe(std::chrono::duration<double> d) {
    // A clock that stepped back gives a negative duration: count it as none.
    const double seconds = std::isfinite(d.count()) ? std::max(0.0, d.count()) : 0.0;
    const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
    ++buckets_[static_cast<std::size_t>(bucket)];
    ++count_;
    sum_ += seconds;
}

std::uint64_t histogram::at_or_below(std::size_t i) const {
    std::uint64_t n = 0;
    for (std::size_t b = 0; b <= std::min(i, bounds.size()); ++b)
        n += buckets_[b];
    return n;
}

}  // namespace fieldbridge::gateway
