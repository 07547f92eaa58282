#include "config/config_error.hpp"

#include <utility>

namespace fieldbridge::config {

std::string to_string(const diagnostic& d) {
    std::string out = d.file.empty() ? std::string("<config>") : d.file;
    if (d.line > 0) {
        out += ':' + std::to_string(d.line);
        if (d.column > 0) out += ':' + std::to_string(d.column);
    }
    out += ": ";
    out += d.message;
    return out;
}

namespace {

std::string join(const std::vector<diagnostic>& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics) {
        if (!out.empty()) out += '\n';
        out += to_string(d);
    }
    return out.empty() ? std::string("invalid configuration") : out;
}

}  // namespace

config_error::config_error(std::vector<diagnostic> diagnostics)
    : std::runtime_error(join(diagnostics)), diagnostics_(std::move(diagnostics)) {}

}  // namespace fieldbridge::config
