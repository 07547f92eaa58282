// The MQTT client settings and the forwarder's window a configuration asks
// for (gateway/client_options): what mqtt.max_inflight reaches.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "gateway/client_options.hpp"
#include "tests/support/config_builder.hpp"

namespace fieldbridge::gateway {
namespace {

// One device on one TCP bus; the test sets the mqtt section.
testing::config_builder plant() {
    testing::config_builder b;
    b.tcp_bus("line", 1502);
    b.device("m1").set("bus", "line").set("unit_id", 1).point(testing::point_spec("a", "holding", 0, "uint16"));
    return b;
}

config::gateway load(const testing::config_builder& b) { return config::load_string(b.yaml(), "plant.yaml"); }

TEST(client_options, the_in_flight_limit_is_64_unless_configured) {
    const auto cfg = load(plant());
    EXPECT_EQ(client_options_from(cfg).max_inflight, 64u);
    EXPECT_EQ(forwarder_window(cfg), 1000u);
}

TEST(client_options, the_forwarder_hands_the_client_a_large_in_flight_limit) {
    for (const auto& [limit, window] : {std::pair{1, 1000u}, std::pair{1000, 1000u}, std::pair{1001, 1001u},
                                        std::pair{4096, 4096u}, std::pair{16384, 16384u}}) {
        auto b = plant();
        b.mqtt().set("max_inflight", limit);
        const auto cfg = load(b);
        EXPECT_EQ(client_options_from(cfg).max_inflight, static_cast<std::size_t>(limit));
        EXPECT_EQ(forwarder_window(cfg), window) << limit;
    }
}

TEST(client_options, an_in_flight_limit_out_of_range_is_refused_at_its_place) {
    auto b = plant();
    for (const auto bad : {0LL, 16385LL, 65535LL, -1LL}) {
        b.mqtt().set("max_inflight", bad);
        try {
            (void)load(b);
            ADD_FAILURE() << bad << " loaded";
        } catch (const config::config_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("plant.yaml:"), std::string::npos) << what;
            EXPECT_NE(what.find("max_inflight"), std::string::npos) << what;
            EXPECT_NE(what.find("16384"), std::string::npos) << what;
        }
    }
    for (const std::string bad : {"many", "1.5"}) {
        b.mqtt().set("max_inflight", bad);
        EXPECT_THROW((void)load(b), config::config_error) << bad;
    }
}

}  // namespace
}  // namespace fieldbridge::gateway
