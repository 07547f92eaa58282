// The MQTT client settings and the forwarder's window a configuration asks
// for (gateway/client_options): what mqtt.max_inflight reaches.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "gateway/client_options.hpp"

namespace fieldbridge::gateway {
namespace {

config::gateway load(const std::string& mqtt_section) {
    return config::load_string(mqtt_section + R"(
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: a, register: holding, address: 0 }
)",
                               "plant.yaml");
}

TEST(client_options, the_in_flight_limit_is_64_unless_configured) {
    const auto cfg = load("");
    EXPECT_EQ(client_options_from(cfg).max_inflight, 64u);
    EXPECT_EQ(forwarder_window(cfg), 1000u);
}

TEST(client_options, the_forwarder_hands_the_client_twice_a_large_in_flight_limit) {
    for (const auto& [limit, window] : {std::pair{1u, 1000u}, std::pair{500u, 1000u}, std::pair{501u, 1002u},
                                       std::pair{4096u, 8192u}, std::pair{65535u, 131070u}}) {
        const auto cfg = load("mqtt: { max_inflight: " + std::to_string(limit) + " }\n");
        EXPECT_EQ(client_options_from(cfg).max_inflight, limit);
        EXPECT_EQ(forwarder_window(cfg), window) << limit;
    }
}

TEST(client_options, an_in_flight_limit_out_of_range_is_refused_at_its_line) {
    for (const std::string bad : {"0", "65536", "-1", "many", "1.5"}) {
        try {
            (void)load("mqtt:\n  max_inflight: " + bad + "\n");
            ADD_FAILURE() << bad << " loaded";
        } catch (const config::config_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("plant.yaml:2:"), std::string::npos) << what;
            EXPECT_NE(what.find("max_inflight"), std::string::npos) << what;
        }
    }
}

}  // namespace
}  // namespace fieldbridge::gateway
