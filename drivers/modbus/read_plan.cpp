#include "drivers/modbus/read_plan.hpp"

#include <algorithm>
#include <array>

#include "config/names.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {
namespace {

constexpr std::uint32_t protocol_max_registers = 125;  // Modbus v1.1b3, 6.3
constexpr std::uint32_t protocol_max_bits = 2000;      // Modbus v1.1b3, 6.1

using config::is_bit_kind;

// The multiple of `alignment` at or below `first` (alignment clamped to 1..16).
std::uint32_t aligned_start(std::uint32_t first, std::uint16_t alignment) {
    const std::uint32_t a = std::clamp<std::uint32_t>(alignment, 1, 16);
    return first - first % a;
}

struct span_of_point {
    std::uint32_t first;
    std::uint32_t last;  // inclusive; 32-bit so that 65535 + 1 does not wrap
    std::size_t index;
};

}  // namespace

std::vector<read_request> plan_reads(const std::vector<config::point>& points, const plan_limits& limits) {
    static constexpr std::array kinds{config::register_kind::coil, config::register_kind::discrete_input,
                                      config::register_kind::holding_register, config::register_kind::input_register};
    std::vector<read_request> plan;
    for (const auto kind : kinds) {
        const bool bits = is_bit_kind(kind);
        const std::uint32_t protocol_max = bits ? protocol_max_bits : protocol_max_registers;
        const std::uint32_t limit =
            std::clamp<std::uint32_t>(bits ? limits.max_bits : limits.max_registers, 1, protocol_max);
        // Where a request of first..last starts: first, or for bits the
        // multiple of the alignment below it (the bits between are read
        // too) unless that would take it past the limit.
        const auto start_of = [&](std::uint32_t first, std::uint32_t last) {
            const auto aligned = bits ? aligned_start(first, limits.bit_alignment) : first;
            return last - aligned + 1 <= limit ? aligned : first;
        };

        std::vector<span_of_point> spans;
        for (std::size_t i = 0; i < points.size(); ++i) {
            const auto& p = points[i];
            if (p.kind != kind) continue;
            const std::uint32_t count = modbus::register_count(p);
            const std::uint32_t last = std::uint32_t{p.address} + count - 1;
            if (count == 0 || count > protocol_max || last > 0xFFFF) continue;
            spans.push_back({p.address, last, i});
        }
        std::stable_sort(spans.begin(), spans.end(), [](const span_of_point& a, const span_of_point& b) {
            return a.first != b.first ? a.first < b.first : a.last < b.last;
        });

        bool open = false;
        std::uint32_t first = 0;
        std::uint32_t last = 0;
        std::vector<std::size_t> members;
        auto close = [&] {
            if (!open) return;
            const auto start = start_of(first, last);
            plan.push_back({kind, static_cast<std::uint16_t>(start), static_cast<std::uint16_t>(last - start + 1),
                            std::move(members)});
            members.clear();
            open = false;
        };
        for (const auto& s : spans) {
            if (open) {
                const std::uint32_t merged_last = std::max(last, s.last);
                const bool near = limits.merge ? s.first <= last + 1 + limits.max_gap
                                               : s.first == first && s.last == last;
                // Merged only when the whole read fits from the aligned start: a
                // request that cannot start aligned holds one point alone.
                const auto aligned_first = bits ? aligned_start(first, limits.bit_alignment) : first;
                if (near && merged_last - aligned_first + 1 <= limit) {
                    last = merged_last;
                    members.push_back(s.index);
                    continue;
                }
                close();
            }
            open = true;
            first = s.first;
            last = s.last;
            members.push_back(s.index);
        }
        close();
    }
    return plan;
}

std::vector<read_request> split_request(const read_request& refused, const std::vector<config::point>& points,
                                        const plan_limits& limits) {
    if (refused.points.size() == 1) {
        // A lone point read from an aligned start: the device lacks a bit
        // below it; read it at its own address.
        const auto i = refused.points.front();
        const auto& p = points.at(i);
        const auto own = modbus::register_count(p);
        if (refused.start == p.address && refused.count == own) return {};
        return {read_request{refused.kind, p.address, static_cast<std::uint16_t>(own), {i}}};
    }
    if (refused.points.empty()) return {};
    std::vector<config::point> members;
    for (const auto i : refused.points) members.push_back(points.at(i));
    auto runs = plan_reads(members, plan_limits{0, refused.count, refused.count, true, limits.bit_alignment});
    if (runs.size() > 1) {
        for (auto& r : runs) {
            for (auto& i : r.points) i = refused.points[i];
        }
        return runs;
    }
    std::vector<read_request> single;
    for (const auto i : refused.points) {
        // Each point as plan_reads reads a lone point (aligned within max_bits).
        auto alone = plan_reads({points.at(i)}, plan_limits{0, limits.max_registers, limits.max_bits, true,
                                                            limits.bit_alignment});
        if (alone.empty()) continue;  // not readable at all (not planned in the first place)
        auto& mine = alone.front();
        // Points on one register (bits of it) share their read, as in plan_reads.
        const auto same = std::find_if(single.begin(), single.end(), [&](const read_request& r) {
            return r.kind == mine.kind && r.start == mine.start && r.count == mine.count;
        });
        if (same != single.end()) {
            same->points.push_back(i);
            continue;
        }
        mine.points = {i};
        single.push_back(std::move(mine));
    }
    // Every point on the same registers as the refused read: nothing smaller to try.
    if (single.size() == 1 && single.front().start == refused.start && single.front().count == refused.count) {
        return {};
    }
    return single;
}

void apply_refusals(std::vector<read_request>& plan, const std::vector<refused_read>& refused,
                    const std::vector<config::point>& points, const plan_limits& limits) {
    if (refused.empty()) return;
    const auto was_refused = [&](const read_request& r) {
        return std::find(refused.begin(), refused.end(), refused_read{r.kind, r.start, r.count}) != refused.end();
    };
    // A part holds fewer points than what it replaces, or is a lone point
    // read at its own address instead of an aligned start (which is not
    // split again), so this ends.
    for (std::size_t i = 0; i < plan.size();) {
        if (!was_refused(plan[i])) {
            ++i;
            continue;
        }
        auto parts = split_request(plan[i], points, limits);
        if (parts.empty()) {
            ++i;
            continue;
        }
        plan.erase(plan.begin() + static_cast<std::ptrdiff_t>(i));
        plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(i), parts.begin(), parts.end());
    }
}

}  // namespace fieldbridge::modbus
