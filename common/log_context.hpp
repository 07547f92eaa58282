// log_context: what a log line is about (the bus, device and point), kept
// per thread while code for them runs, so that the journal sink can attach
// them as structured fields (BUS=, DEVICE=, POINT=) to every line logged in
// between, whoever logs it. A bus worker names its bus for its whole run and
// each device while it polls it; the core names the device whose result or
// command it is handling. Header-only; thread-local, no locking.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace fieldbridge {

enum class log_field : std::size_t { bus, device, point };
inline constexpr std::size_t log_field_count = 3;

// The current thread's fields; an empty string is a field not set.
using log_context = std::array<std::string, log_field_count>;

inline log_context& current_log_context() {
    static thread_local log_context context;
    return context;
}

// Sets one field for its lifetime and restores the previous value after.
class log_scope {
public:
    log_scope(log_field field, std::string_view value) : field_(field) {
        auto& slot = current_log_context()[static_cast<std::size_t>(field)];
        previous_ = std::move(slot);
        slot.assign(value);
    }
    ~log_scope() { current_log_context()[static_cast<std::size_t>(field_)] = std::move(previous_); }
    log_scope(const log_scope&) = delete;
    log_scope& operator=(const log_scope&) = delete;

private:
    log_field field_;
    std::string previous_;
};

}  // namespace fieldbridge
