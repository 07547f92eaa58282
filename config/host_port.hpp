// host_port: a network address as an operator writes it — "HOST",
// "HOST:PORT", "[IPV6]:PORT" or a bare IPv6 address ("::1", whose colons
// are not a port) — split into host and port. One parser for every such
// setting and option (broker failover, metrics.listen, `scan --tcp`). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace fieldbridge::config {

struct host_port {
    std::string host;  // without the brackets of an IPv6 literal
    std::optional<std::uint16_t> port;
};

enum class host_port_error : std::uint8_t {
    not_a_host,    // empty, or a space, tab or '/' in it
    bad_port,      // something after the ':' that is not 1..65535
    missing_port,  // port_needed and none given
};

enum class port_rule : std::uint8_t { optional, needed };

std::variant<host_port, host_port_error> split_host_port(std::string_view text, port_rule rule);

}  // namespace fieldbridge::config
