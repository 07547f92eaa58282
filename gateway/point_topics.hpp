// Every point's publish topic, expanded once per configuration and kept
// back to back in one string. The mapper (where a point's value goes) and
// the command table (which point a command topic names) share one: at
// 100,000 points the topics are about 4 MB, kept once. Pure; read-only
// after construction, so it may be shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"

namespace fieldbridge::gateway {

class point_topics {
public:
    // Points are numbered device after device, in the configuration's
    // order. A device on a bus the configuration does not have (the loader
    // refuses that) keeps its numbers and has empty topics.
    // The loader bounds the topics' bytes in all (limits::max_topic_bytes);
    // past 4 GiB this throws std::length_error.
    explicit point_topics(const config::gateway& cfg);

    // Points of all devices.
    std::size_t size() const { return ends_.size(); }
    // The number of point `point` of device `device` (indexes into
    // gateway.devices and its points).
    std::size_t index(std::size_t device, std::size_t point) const { return first_[device] + point; }
    // The device and point of a number below size().
    std::pair<std::size_t, std::size_t> locate(std::size_t index) const;
    std::string_view topic(std::size_t index) const {
        const std::size_t begin = index == 0 ? 0 : ends_[index - 1];
        return std::string_view(text_).substr(begin, ends_[index] - begin);
    }
    std::string_view topic(std::size_t device, std::size_t point) const { return topic(index(device, point)); }
    // Whether the device's bus is configured (else its topics are empty).
    bool placed(std::size_t device) const { return placed_[device]; }
    // The longest topic.
    std::size_t longest() const { return longest_; }

private:
    std::string text_;
    std::vector<std::uint32_t> ends_;   // where each point's topic ends in text_
    std::vector<std::uint32_t> first_;  // each device's first point number, then size()
    std::vector<bool> placed_;
    std::size_t longest_ = 0;
};

}  // namespace fieldbridge::gateway
