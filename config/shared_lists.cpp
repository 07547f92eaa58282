#include "config/shared_lists.hpp"

#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fieldbridge::config {
namespace {

// Of every field equality compares but the mark; equal lists hash equal,
// and lists that differ in one field (a scale, a topic) rarely do.
std::size_t hash_of(const point_list& list) {
    std::size_t h = list.size();
    const auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    const auto mix_number = [&mix](double v) { mix(std::hash<double>{}(v)); };
    const auto mix_text = [&mix](std::string_view v) { mix(std::hash<std::string_view>{}(v)); };
    for (const auto& p : list) {
        mix_text(p.name);
        mix(p.address);
        mix(static_cast<std::size_t>(p.kind));
        mix(static_cast<std::size_t>(p.type));
        mix(static_cast<std::size_t>(p.order));
        mix(p.bit ? 1u + *p.bit : 0u);
        mix(p.length);
        mix(static_cast<std::size_t>(p.packing));
        mix_number(p.scale);
        mix_number(p.offset);
        mix_text(p.unit);
        mix(p.topic ? 1u : 0u);
        if (p.topic) mix_text(*p.topic);
        if (const auto* t = p.payload_template.get()) mix_text(t->text);
        mix(static_cast<std::size_t>(p.qos) | (p.retain ? 4u : 0u) | (p.writable ? 8u : 0u));
        mix_number(p.deadband);
        mix_number(p.minimum.value_or(-0.5));
        mix(p.minimum ? 1u : 0u);
        mix_number(p.maximum.value_or(-0.5));
        mix(p.maximum ? 1u : 0u);
        if (p.simulate) {
            mix(1u + static_cast<std::size_t>(p.simulate->wave));
            mix_number(p.simulate->value);
            mix_number(p.simulate->amplitude);
            mix_number(p.simulate->step);
            mix(static_cast<std::size_t>(p.simulate->period.count()));
        }
    }
    return h;
}

}  // namespace

std::size_t share_equal_point_lists(gateway& gw) {
    std::unordered_map<std::size_t, std::vector<const point_list*>> kept;
    std::size_t compared = 0;
    const auto share = [&kept, &compared](point_list& list) {
        if (list.empty()) return;
        auto& bucket = kept[hash_of(list)];
        for (const auto* other : bucket) {
            if (other->shares_with(list)) return;
            ++compared;
            if (*other == list) {
                list = *other;
                return;
            }
        }
        if (bucket.size() < max_lists_per_hash) bucket.push_back(&list);
    };
    for (auto& p : gw.profiles) share(p.points);
    for (auto& d : gw.devices) share(d.points);
    return compared;
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
