#include "drivers/modbus/bus_scan.hpp"

#include <thread>

#include "drivers/modbus/link.hpp"

namespace fieldbridge::modbus {
namespace {

std::error_code ask(blocking_link& line, const request& q, reply& answer) {
    if (const auto error = line.open(link::clock::now()))
        return error;
    std::this_thread::sleep_until(line.ready_at(std::chrono::milliseconds(0)));  // the line's silence
    return line.exchange(q, answer);
}

// A probe's outcome; Read Device Identification asked again while more
// objects follow (what was received before a failed follow-up is kept).
probe_result run_probe(blocking_link& line, const request& probe) {
    probe_result r{probe.function, probe.address, {}, 0, {}};
    reply answer;
    r.error = ask(line, probe, answer);
    if (r.error)
        return r;
    if (!answer.registers.empty())
        r.value = answer.registers.front();
    auto asked = probe;
    for (std::size_t pages = 1; probe.function == function_code::read_device_identification; ++pages) {
        auto& objects = answer.identification.objects;
        r.identity.insert(r.identity.end(), objects.begin(), objects.end());
        const auto next = identification_follow_up(asked, answer.identification, pages);
        if (!next)
            break;
        asked = *next;
        answer = {};
        if (ask(line, asked, answer))
            break;
    }
    return r;
}

}  // namespace

result<std::vector<unit_result>> scan_link(blocking_link& line, const scan_options& o,
                                           const std::function<void(const unit_result&)>& each) {
    if (const auto error = line.open(link::clock::now()))
        return fail(error);
    std::vector<unit_result> units;
    for (unsigned unit = o.first; unit <= o.last; ++unit) {
        unit_result u;
        u.unit = static_cast<std::uint8_t>(unit);
        for (const auto& probe : scan_probes(u.unit, o.timeout)) {
            u.probes.push_back(run_probe(line, probe));
            if (!probe_again(u.probes.back()))
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
