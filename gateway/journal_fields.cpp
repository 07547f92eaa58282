#include "gateway/journal_fields.hpp"

namespace fieldbridge::gateway {

std::vector<std::string> journal_fields(log_priority priority, std::string_view message,
                                        const log_context& context, std::string_view identifier) {
    std::vector<std::string> fields;
    fields.reserve(3 + log_field_count);
    fields.push_back("MESSAGE=" + std::string(message));
    fields.push_back("PRIORITY=" + std::to_string(static_cast<int>(priority)));
    fields.push_back("SYSLOG_IDENTIFIER=" + std::string(identifier));
    constexpr const char* names[log_field_count] = {"BUS=", "DEVICE=", "POINT="};
    for (std::size_t i = 0; i < log_field_count; ++i) {
        if (!context[i].empty())
            fields.push_back(names[i] + context[i]);
    }
    return fields;
}

}  // namespace fieldbridge::gateway
