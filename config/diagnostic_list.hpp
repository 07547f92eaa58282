// Diagnostics as a load keeps them: the first limits::max_diagnostics, each
// message cut to limits::max_diagnostic_bytes, the rest counted. A file of
// 200 000 points whose topics clash makes 200 000 messages, each quoting a
// topic of up to 65 535 bytes: kept whole, they would take gigabytes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "config/config_error.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

// A message as kept: at most limits::max_diagnostic_bytes, its length named
// when cut.
std::string kept_message(std::string message);

class diagnostic_list {
public:
    void add(const source_mark& at, std::string message);

    // Every diagnostic added, kept or not.
    std::size_t count() const noexcept { return kept_.size() + not_kept_; }
    std::size_t not_kept() const noexcept { return not_kept_; }
    const std::vector<diagnostic>& kept() const noexcept { return kept_; }
    std::vector<diagnostic> take() { return std::move(kept_); }

private:
    std::vector<diagnostic> kept_;
    std::size_t not_kept_ = 0;
};

inline void add(diagnostic_list& out, const source_mark& at, std::string message) { out.add(at, std::move(message)); }

}  // namespace fieldbridge::config
