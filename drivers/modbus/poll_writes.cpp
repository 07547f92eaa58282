#include "drivers/modbus/poll_writes.hpp"

#include <algorithm>

#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {

written_registers written_by(const config::point& p) {
    return {p.kind, p.address, modbus::register_count(p)};
}

bool overlaps(const written_registers& w, const config::point& p) {
    const auto read = written_by(p);
    return w.kind == read.kind && w.start < read.start + read.count && read.start < w.start + w.count;
}

std::size_t drop_overwritten(std::vector<sample>& samples, const std::vector<config::point>& points,
                             const std::vector<written_registers>& written) {
    if (written.empty()) return 0;
    const auto stale = [&](const sample& s) {
        return s.point < points.size() && std::any_of(written.begin(), written.end(), [&](const auto& w) {
                   return overlaps(w, points[s.point]);
               });
    };
    const auto before = samples.size();
    samples.erase(std::remove_if(samples.begin(), samples.end(), stale), samples.end());
    return before - samples.size();
}

}  // namespace fieldbridge::modbus
