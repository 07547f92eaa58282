#include "config/diagnostic_list.hpp"

#include "common/shortened.hpp"
#include "config/limits.hpp"

namespace fieldbridge::config {

std::string kept_message(std::string message) {
    if (message.size() <= limits::max_diagnostic_bytes) return message;
    return shortened(message, limits::max_diagnostic_bytes - 32);
}

void diagnostic_list::add(const source_mark& at, std::string message) {
    if (kept_.size() >= limits::max_diagnostics) {
        ++not_kept_;
        return;
    }
    kept_.push_back(diagnostic{shortened(at.file, 1024), at.line, at.column, kept_message(std::move(message))});
}

}  // namespace fieldbridge::config
