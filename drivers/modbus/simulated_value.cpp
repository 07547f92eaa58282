#include "drivers/modbus/simulated_value.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

namespace fieldbridge::modbus {

double waveform_value(const config::simulation& s, double seconds) {
    using w = config::simulation::waveform;
    const double period = std::max(0.001, std::chrono::duration<double>(s.period).count());
    switch (s.wave) {
        case w::constant:
            return s.value;
        case w::counter:
            return s.value + std::floor(seconds) * s.step;
        case w::sine:
            return s.value + s.amplitude * std::sin(2 * std::numbers::pi * seconds / period);
        case w::ramp:
            return s.value + s.amplitude * (seconds / period - std::floor(seconds / period));
    }
    return s.value;
}

value simulated_value(const config::point& p, double seconds) {
    if (p.type == config::data_type::string) return p.name;
    if (p.type == config::data_type::boolean) return waveform_value(*p.simulate, seconds) != 0.0;
    double x = waveform_value(*p.simulate, seconds);
    if (p.minimum) x = std::max(x, *p.minimum);
    if (p.maximum) x = std::min(x, *p.maximum);
    return x;
}

}  // namespace fieldbridge::modbus
