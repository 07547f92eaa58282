// split_host_port over the forms operators write and the ones it refuses;
// and the invariant that what it accepts, written back as HOST:PORT (IPv6
// in brackets), parses to the same host and port.
#include "config/host_port.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::config {
namespace {

struct accepted {
    const char* text;
    port_rule rule;
    const char* host;
    std::optional<std::uint16_t> port;
};

TEST(host_port, the_forms_operators_write_are_split) {
    const accepted cases[] = {
        {"broker-b", port_rule::optional, "broker-b", std::nullopt},
        {"broker-c:8884", port_rule::optional, "broker-c", 8884},
        {"10.0.0.12:8883", port_rule::needed, "10.0.0.12", 8883},
        {"[::1]:9108", port_rule::needed, "::1", 9108},
        {"[fe80::1%eth0]:1", port_rule::needed, "fe80::1%eth0", 1},
        {"::1", port_rule::optional, "::1", std::nullopt},
        {"[::1]", port_rule::optional, "::1", std::nullopt},
        {"2001:db8::5", port_rule::optional, "2001:db8::5", std::nullopt},
        {"h:65535", port_rule::needed, "h", 65535},
    };
    for (const auto& c : cases) {
        const auto got = split_host_port(c.text, c.rule);
        ASSERT_TRUE(std::holds_alternative<host_port>(got)) << c.text;
        EXPECT_EQ(std::get<host_port>(got).host, c.host) << c.text;
        EXPECT_EQ(std::get<host_port>(got).port, c.port) << c.text;
    }
}

TEST(host_port, what_is_not_an_address_is_refused_with_the_reason) {
    const std::pair<const char*, host_port_error> cases[] = {
        {"", host_port_error::not_a_host},         {":502", host_port_error::not_a_host},
        {"a b:502", host_port_error::not_a_host},  {"a/b", host_port_error::not_a_host},
        {"http://x", host_port_error::bad_port},   {"[::1", host_port_error::not_a_host},
        {"[::1]x", host_port_error::not_a_host},   {"[]:502", host_port_error::not_a_host},
        {"host:", host_port_error::bad_port},      {"host:0", host_port_error::bad_port},
        {"host:65536", host_port_error::bad_port}, {"host:99999999999999999999", host_port_error::bad_port},
        {"host:+5", host_port_error::bad_port},    {"host:5x", host_port_error::bad_port},
        {"[::1]:", host_port_error::bad_port},
    };
    for (const auto& [text, why] : cases) {
        const auto got = split_host_port(text, port_rule::optional);
        ASSERT_TRUE(std::holds_alternative<host_port_error>(got)) << text;
        EXPECT_EQ(std::get<host_port_error>(got), why) << text;
    }
    EXPECT_EQ(std::get<host_port_error>(split_host_port("broker", port_rule::needed)),
              host_port_error::missing_port);
    EXPECT_EQ(std::get<host_port_error>(split_host_port("::1", port_rule::needed)),
              host_port_error::missing_port);
}

TEST(host_port, what_is_accepted_round_trips) {
    const char* hosts[] = {"a", "broker.example", "10.0.0.1", "::1", "fe80::1%eth0", "2001:db8::"};
    for (const char* host : hosts) {
        for (unsigned port : {1U, 502U, 65535U}) {
            const std::string h = host;
            const auto text =
                (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port);
            const auto got = split_host_port(text, port_rule::needed);
            ASSERT_TRUE(std::holds_alternative<host_port>(got)) << text;
            EXPECT_EQ(std::get<host_port>(got).host, h) << text;
            EXPECT_EQ(std::get<host_port>(got).port, port) << text;
        }
    }
}

}  // namespace
}  // namespace fieldbridge::config
