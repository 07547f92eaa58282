#include "config/host_port.hpp"

#include <charconv>

namespace fieldbridge::config {

std::variant<host_port, host_port_error> split_host_port(std::string_view text, port_rule rule) {
    host_port out;
    std::string_view host = text;
    const bool bracketed = !text.empty() && text.front() == '[';
    const auto colon = text.rfind(':');
    // A port follows the last ':' unless the host is a bare IPv6 address
    // (more than one ':' and no brackets) or the ':' is inside the brackets.
    const bool has_port = colon != std::string_view::npos &&
                          (bracketed ? colon > 0 && text[colon - 1] == ']' : text.find(':') == colon);
    if (has_port) {
        const auto digits = text.substr(colon + 1);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 1 ||
            value > 65535)
            return host_port_error::bad_port;
        out.port = static_cast<std::uint16_t>(value);
        host = text.substr(0, colon);
    }
    if (bracketed) {
        if (host.size() < 2 || host.back() != ']')
            return host_port_error::not_a_host;
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty() || host.find_first_of(" \t/[]") != std::string_view::npos)
        return host_port_error::not_a_host;
    if (rule == port_rule::needed && !out.port)
        return host_port_error::missing_port;
    out.host = std::string(host);
    return out;
}

}  // namespace fieldbridge::config
