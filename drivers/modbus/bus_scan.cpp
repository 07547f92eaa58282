#include "drivers/modbus/bus_scan.hpp"

#include <thread>

#include "drivers/modbus/link.hpp"

namespace fieldbridge::modbus {

result<std::vector<unit_result>> scan_link(link& line, const scan_options& o,
                                           const std::function<void(const unit_result&)>& each) {
    using clock = link::clock;
    if (const auto error = line.open(clock::now()))
        return fail(error);
    std::vector<unit_result> units;
    for (unsigned unit = o.first; unit <= o.last; ++unit) {
        unit_result u;
        u.unit = static_cast<std::uint8_t>(unit);
        for (const auto& probe : scan_probes(u.unit, o.timeout)) {
            probe_result r{probe.function, probe.address, {}, 0};
            r.error = line.open(clock::now());
            if (!r.error) {
                std::this_thread::sleep_until(
                    line.ready_at(std::chrono::milliseconds(0)));  // the line's silence
                reply answer;
                r.error = line.exchange(probe, answer);
                if (!r.error && !answer.registers.empty())
                    r.value = answer.registers.front();
            }
            u.probes.push_back(r);
            if (!probe_again(r))
                break;
        }
        if (each)
            each(u);
        units.push_back(std::move(u));
    }
    line.close();
    return units;
}

result<std::vector<unit_result>> scan_bus(const config::bus& bus, const scan_options& o,
                                          const std::function<void(const unit_result&)>& each) {
    const auto line = make_link(bus);
    return scan_link(*line, o, each);
}

}  // namespace fieldbridge::modbus
