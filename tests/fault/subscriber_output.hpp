// What `mosquitto_sub -F "%t %q %p"` printed, one message per line, as the
// fault tests read it.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace fieldbridge::fault_test {

struct received {
    std::string topic;
    int qos = -1;
    std::string payload;
};

inline std::vector<received> parse(const std::string& output) {
    std::vector<received> out;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        received r;
        if (!(fields >> r.topic >> r.qos)) continue;
        std::getline(fields >> std::ws, r.payload);
        out.push_back(r);
    }
    return out;
}

}  // namespace fieldbridge::fault_test
