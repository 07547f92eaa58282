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

gateway compact_copy(const gateway& gw) {
    gateway copy = gw;
    std::unordered_map<const point*, point_list> copied;
    const auto fresh = [&copied](point_list& list) {
        if (list.empty()) return;
        const auto* key = list.items().data();
        if (const auto it = copied.find(key); it != copied.end()) {
            list = it->second;
            return;
        }
        point_list own(std::vector<point>(list.begin(), list.end()));
        copied.emplace(key, own);
        list = std::move(own);
    };
    for (auto& p : copy.profiles) fresh(p.points);
    for (auto& d : copy.devices) fresh(d.points);
    return copy;
}

}  // namespace fieldbridge::config
