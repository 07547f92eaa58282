#include "config/shared_lists.hpp"

#include <functional>
#include <unordered_map>
#include <vector>

namespace fieldbridge::config {
namespace {

// Of the fields that tell lists apart most often; equal lists hash equal.
std::size_t hash_of(const point_list& list) {
    std::size_t h = list.size();
    const auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    for (const auto& p : list) {
        mix(std::hash<std::string>{}(p.name));
        mix(p.address);
        mix(static_cast<std::size_t>(p.kind));
        mix(static_cast<std::size_t>(p.type));
    }
    return h;
}

}  // namespace

void share_equal_point_lists(gateway& gw) {
    std::unordered_map<std::size_t, std::vector<const point_list*>> kept;
    const auto share = [&kept](point_list& list) {
        if (list.empty()) return;
        auto& bucket = kept[hash_of(list)];
        for (const auto* other : bucket) {
            if (other->shares_with(list)) return;
            if (*other == list) {
                list = *other;
                return;
            }
        }
        bucket.push_back(&list);
    };
    for (auto& p : gw.profiles) share(p.points);
    for (auto& d : gw.devices) share(d.points);
}

}  // namespace fieldbridge::config
