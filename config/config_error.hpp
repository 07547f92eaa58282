// config_error: the one exception the configuration loader throws. It carries
// every problem found in one load, each pointing at a file, line and column.
// Value types; no thread-safety concerns of their own.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace fieldbridge::config {

// One problem in a configuration file. line and column are 1-based; 0 when
// unknown. message names the key, what was found and what is expected.
struct diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;
};

// "plant.yaml:12:14: devices.meter1.unit_id: 300 is out of range; expected an integer 1..247"
std::string to_string(const diagnostic& d);

class config_error : public std::runtime_error {
public:
    // what() is every diagnostic, one per line, in the order given.
    explicit config_error(std::vector<diagnostic> diagnostics);

    const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }

private:
    std::vector<diagnostic> diagnostics_;
};

}  // namespace fieldbridge::config
