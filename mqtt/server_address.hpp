// Where the broker is and how to reach it over TLS: plain data, shared by
// the client's options, its transports and its statistics.
#pragma once

#include <cstdint>
#include <string>

namespace fieldbridge::mqtt {

struct server_address {
    std::string host;
    std::uint16_t port = 1883;
    bool operator==(const server_address&) const = default;
};

struct tls_options {
    bool enabled = false;
    std::string ca_file;    // empty: the system trust store
    std::string cert_file;  // client certificate for mutual TLS (optional)
    std::string key_file;
    bool verify_hostname = true;
};

}  // namespace fieldbridge::mqtt
