#include "gateway/held_commands.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace fieldbridge::gateway {

held_commands::hold_result held_commands::hold(command c) {
    const auto mine = size(c.device);
    if (mine >= per_device_) return {refusal::device_full, mine};
    if (size_ >= total_) return {refusal::all_full, size_};
    waiting_[c.device].push_back(std::move(c));
    ++size_;
    return {};
}

held_commands::released held_commands::release(const std::string& device, time_point now) {
    released out;
    const auto it = waiting_.find(device);
    if (it == waiting_.end()) return out;
    for (auto& c : it->second) (c.deadline <= now ? out.expired : out.ready).push_back(std::move(c));
    size_ -= it->second.size();
    waiting_.erase(it);
    return out;
}

std::vector<held_commands::command> held_commands::expire(time_point now) {
    std::vector<command> out;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        auto& queue = it->second;
        // Deadlines of one device need not be in order (a shorter max_age
        // after a reload), so every entry is looked at.
        for (auto c = queue.begin(); c != queue.end();) {
            if (c->deadline <= now) {
                out.push_back(std::move(*c));
                c = queue.erase(c);
            } else {
                ++c;
            }
        }
        it = queue.empty() ? waiting_.erase(it) : std::next(it);
    }
    size_ -= out.size();
    return out;
}

std::vector<held_commands::command> held_commands::take_all() {
    std::vector<command> out;
    out.reserve(size_);
    for (auto& [device, queue] : waiting_) {
        std::move(queue.begin(), queue.end(), std::back_inserter(out));
    }
    waiting_.clear();
    size_ = 0;
    return out;
}

std::optional<held_commands::time_point> held_commands::next_deadline() const {
    std::optional<time_point> next;
    for (const auto& [device, queue] : waiting_) {
        for (const auto& c : queue) {
            if (!next || c.deadline < *next) next = c.deadline;
        }
    }
    return next;
}

std::size_t held_commands::size(const std::string& device) const {
    const auto it = waiting_.find(device);
    return it == waiting_.end() ? 0 : it->second.size();
}

}  // namespace fieldbridge::gateway
