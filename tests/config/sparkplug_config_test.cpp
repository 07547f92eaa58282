// The sparkplug section and publish.format: sparkplug: the ids and their
// defaults, and what a Sparkplug edge node cannot be (an id that is not a
// name, a persistent session); the section without the format is a warning.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "gateway/config_reload.hpp"
#include "tests/config/load_errors.hpp"

namespace fieldbridge::config {
namespace {

using testing::errors_of;

const std::string devices = R"(
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: v, register: input, address: 0, type: float32 }
)";

TEST(sparkplug_config, the_group_defaults_to_fieldbridge_and_the_edge_node_to_the_client_id) {
    const auto g = load_string("mqtt: { client_id: gw-7 }\npublish: { format: sparkplug }\n" + devices, "plant.yaml");
    EXPECT_EQ(g.publish.format, payload_format::sparkplug);
    EXPECT_EQ(g.sparkplug.group_id, "fieldbridge");
    EXPECT_EQ(edge_node_id(g.sparkplug, g.mqtt), "gw-7");
    EXPECT_TRUE(g.warnings.empty());
    const auto set = load_string(
        "publish: { format: sparkplug }\nsparkplug: { group_id: plant1, edge_node_id: line-2 }\n" + devices,
        "plant.yaml");
    EXPECT_EQ(set.sparkplug.group_id, "plant1");
    EXPECT_EQ(edge_node_id(set.sparkplug, set.mqtt), "line-2");
}

TEST(sparkplug_config, ids_that_are_not_names_are_refused_where_they_stand) {
    EXPECT_NE(errors_of("publish: { format: sparkplug }\nsparkplug: { group_id: \"a/b\" }\n" + devices)
                  .find("plant.yaml:2:"),
              std::string::npos);
    EXPECT_NE(errors_of("publish: { format: sparkplug }\nsparkplug: { edge_node_id: \"gw+\" }\n" + devices)
                  .find("sparkplug.edge_node_id: name \"gw+\" is not allowed"),
              std::string::npos);
    // The client id stands in for the edge node id: then it must be a name too.
    EXPECT_NE(errors_of("mqtt: { client_id: \"gw#1\" }\npublish: { format: sparkplug }\n" + devices)
                  .find("is the Sparkplug edge node id"),
              std::string::npos);
    // ... but not when the edge node id is set, nor with another format.
    EXPECT_NO_THROW(load_string("mqtt: { client_id: \"gw 1\" }\npublish: { format: sparkplug }\n"
                                "sparkplug: { edge_node_id: gw1 }\n" + devices, "plant.yaml"));
    EXPECT_NO_THROW(load_string("mqtt: { client_id: \"gw 1\" }\n" + devices, "plant.yaml"));
}

TEST(sparkplug_config, a_persistent_session_is_refused) {
    EXPECT_NE(errors_of("mqtt: { clean_session: false }\npublish: { format: sparkplug }\n" + devices)
                  .find("a Sparkplug edge node connects with a clean session"),
              std::string::npos);
    EXPECT_NE(errors_of("mqtt: { protocol: \"5\", session_expiry: 60s }\npublish: { format: sparkplug }\n" + devices)
                  .find("session ends with its connection"),
              std::string::npos);
    EXPECT_NO_THROW(load_string("mqtt: { protocol: \"5\", session_expiry: 0s }\npublish: { format: sparkplug }\n" +
                                    devices, "plant.yaml"));
}

TEST(sparkplug_config, the_section_without_the_format_is_a_warning) {
    const auto g = load_string("sparkplug: { group_id: plant1 }\n" + devices, "plant.yaml");
    ASSERT_EQ(g.warnings.size(), 1u);
    EXPECT_NE(g.warnings.front().find("plant.yaml:1:"), std::string::npos) << g.warnings.front();
    EXPECT_NE(g.warnings.front().find("used only with format: sparkplug"), std::string::npos) << g.warnings.front();
}

TEST(sparkplug_config, a_reload_cannot_switch_to_or_from_sparkplug_or_change_its_ids) {
    const auto json = load_string(devices, "plant.yaml");
    const auto spb = load_string("publish: { format: sparkplug }\n" + devices, "plant.yaml");
    const auto other = load_string("publish: { format: sparkplug }\nsparkplug: { group_id: g2 }\n" + devices, "plant.yaml");
    EXPECT_TRUE(fieldbridge::gateway::needs_restart(json, spb));
    EXPECT_TRUE(fieldbridge::gateway::needs_restart(spb, json));
    EXPECT_TRUE(fieldbridge::gateway::needs_restart(spb, other));
    EXPECT_FALSE(fieldbridge::gateway::needs_restart(spb, spb));
}

}  // namespace
}  // namespace fieldbridge::config
