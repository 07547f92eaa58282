#include "gateway/point_topics.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "config/topic.hpp"

namespace fieldbridge::gateway {

point_topics::point_topics(const config::gateway& cfg) {
    std::size_t count = 0;
    for (const auto& d : cfg.devices) count += d.points.size();
    ends_.reserve(count);
    first_.reserve(cfg.devices.size() + 1);
    placed_.reserve(cfg.devices.size());
    for (const auto& d : cfg.devices) {
        first_.push_back(static_cast<std::uint32_t>(ends_.size()));
        const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& b) { return b.name == d.bus; });
        placed_.push_back(bus != cfg.buses.end());
        for (const auto& p : d.points) {
            if (bus != cfg.buses.end()) {
                const auto topic = config::point_topic(cfg.publish, d, p, *bus);
                if (topic.size() > std::numeric_limits<std::uint32_t>::max() - text_.size()) {
                    throw std::length_error("the points' topics come to more than 4 GiB");
                }
                text_ += topic;
                longest_ = std::max(longest_, topic.size());
            }
            ends_.push_back(static_cast<std::uint32_t>(text_.size()));
        }
    }
    first_.push_back(static_cast<std::uint32_t>(ends_.size()));
    text_.shrink_to_fit();
}

std::pair<std::size_t, std::size_t> point_topics::locate(std::size_t index) const {
    // The last device whose first point is at or before index (devices
    // without points share their first number with the next device).
    const auto after = std::upper_bound(first_.begin(), first_.end() - 1, static_cast<std::uint32_t>(index));
    const auto device = static_cast<std::size_t>(after - first_.begin()) - 1;
    return {device, index - first_[device]};
}

}  // namespace fieldbridge::gateway
