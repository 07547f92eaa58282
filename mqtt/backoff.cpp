#include "mqtt/backoff.hpp"

#include <algorithm>

namespace fieldbridge::mqtt {

backoff::backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed)
    : min_(std::max(min, std::chrono::milliseconds(1))), max_(std::max(max, min_)), random_(seed) {}

std::chrono::milliseconds backoff::next() {
    const unsigned shift = std::min(attempt_, 30u);
    ++attempt_;
    const auto grown = min_.count() * (std::int64_t{1} << shift);
    const auto ceiling = std::min<std::int64_t>(grown, max_.count());
    std::uniform_int_distribution<std::int64_t> pick(ceiling / 2, ceiling);
    return std::chrono::milliseconds(std::max<std::int64_t>(pick(random_), 1));
}

}  // namespace fieldbridge::mqtt
