// The example messages `fieldbridge check` prints: made by the mapper the
// service runs, for each payload format, from a configuration as loaded.
#include "gateway/payload_examples.hpp"

#include <gtest/gtest.h>

#include <map>

#include "config/loader.hpp"
#include "config/names.hpp"

namespace fieldbridge::gateway {
namespace {

const std::chrono::system_clock::time_point at{std::chrono::milliseconds{1500}};

std::string examples_of(const std::string& publish) {
    const auto cfg = config::load_string(publish + R"(
buses:
  line: { type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  m1:
    bus: line
    unit_id: 1
    points:
      - { name: v, register: input, address: 0, type: float32, unit: V, simulate: { value: 229.5 } }
      - { name: on, register: coil, address: 3 }
      - { name: a, register: holding, address: 1 }
      - { name: b, register: holding, address: 2, qos: 2 }
  m2:
    bus: line
    unit_id: 2
    points:
      - { name: other, register: holding, address: 0 }
)",
                                         "plant.yaml");
    return example_messages(cfg, at);
}

TEST(payload_examples, json_shows_the_first_devices_messages_a_bad_reading_and_its_availability) {
    const auto out = examples_of("publish: { format: json }");
    EXPECT_NE(out.find("Example messages of device m1 (publish.format: json"), std::string::npos) << out;
    EXPECT_NE(out.find("  fieldbridge/m1/v  (qos 1)\n    "
                       R"({"quality":"good","ts":"1970-01-01T00:00:01.500Z","unit":"V","value":229.5})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("... and 1 more like these"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("quality":"bad")"), std::string::npos) << out;
    EXPECT_NE(out.find("fieldbridge/m1/availability  (qos 1, retained)"), std::string::npos) << out;
    EXPECT_EQ(out.find("m2"), std::string::npos) << "the first device only:\n" << out;
}

TEST(payload_examples, the_device_format_shows_one_message_with_every_point) {
    const auto out = examples_of("publish: { format: device }");
    EXPECT_NE(out.find("  fieldbridge/m1  (qos 2)\n    "
                       R"({"device":"m1","points":{"v":229.5,"on":false,"a":0,"b":0},"ts":"1970-01-01T00:00:01.500Z"})"),
              std::string::npos)
        << out;
}

TEST(payload_examples, the_template_format_shows_each_template_filled_in) {
    const auto out = examples_of("publish: { format: template, template: \"{{point}}={{value}}\\n{{ts_ms}}\" }");
    EXPECT_NE(out.find("  fieldbridge/m1/v  (qos 1)\n    v=229.5\n    1500\n"), std::string::npos) << out;
    EXPECT_NE(out.find("    v=\n    1500\n"), std::string::npos) << "a bad value is empty text:\n" << out;
}

TEST(payload_examples, the_raw_format_says_that_a_bad_reading_is_not_published) {
    const auto out = examples_of("publish: { format: raw }");
    EXPECT_NE(out.find("  fieldbridge/m1/v  (qos 1)\n    229.5\n"), std::string::npos) << out;
    EXPECT_NE(out.find("(nothing: format raw does not publish a bad reading)"), std::string::npos) << out;
}

TEST(payload_examples, the_sparkplug_format_shows_births_data_by_alias_death_and_the_will) {
    const auto out = examples_of("publish: { format: sparkplug }\nsparkplug: { group_id: plant1 }");
    for (const std::string part : {
             "  spBv1.0/plant1/NBIRTH/fieldbridge  (qos 0)\n    seq 0:\n    bdSeq Int64 = 0\n"
             "    Node Control/Rebirth Boolean = false\n",
             "  spBv1.0/plant1/DDATA/fieldbridge/m1  (qos 0)\n    seq 2:\n    alias 1 = 229.5\n",
             "    alias 1 = null, Quality 0\n",
             "  spBv1.0/plant1/DDEATH/fieldbridge/m1  (qos 0)\n",
             "  spBv1.0/plant1/NDEATH/fieldbridge  (qos 1)\n    seq none:\n    bdSeq Int64 = 0\n",
         }) {
        EXPECT_NE(out.find(part), std::string::npos) << part << " in:\n" << out;
    }
    EXPECT_NE(out.find("spBv1.0/plant1/DBIRTH/fieldbridge/m1  (qos 0)\n    seq 1:\n    v (alias 1) "), std::string::npos)
        << out;
}

// examples/formats/: one configuration per format, each loading without a
// warning and making the messages its comment promises.
TEST(payload_examples, each_shipped_format_example_loads_and_makes_its_shape) {
    const std::map<std::string, std::string> first_payload = {
        {"json", R"({"quality":"good","ts":"1970-01-01T00:00:01.500Z","unit":"V","value":230.0})"},
        {"raw", "230.0"},
        {"device", R"({"device":"meter1","points":{"voltage":230.0,"energy":1000.0,"running":false},)"
                   R"("ts":"1970-01-01T00:00:01.500Z"})"},
        {"template", R"({"v":230.0,"q":"good","t":1500,"tag":"meter1.voltage"})"},
        {"sparkplug", "seq 2:\n    alias 1 = 230\n    alias 2 = 1000\n    alias 3 = false"},
    };
    for (const auto& [format, payload] : first_payload) {
        const auto cfg = config::load_file(FIELDBRIDGE_SOURCE_DIR "/examples/formats/" + format + ".yaml");
        EXPECT_TRUE(cfg.warnings.empty()) << format;
        EXPECT_EQ(config::to_string(cfg.publish.format), format);
        const auto out = example_messages(cfg, at);
        EXPECT_NE(out.find("\n    " + payload + "\n"), std::string::npos) << format << ":\n" << out;
    }
}

}  // namespace
}  // namespace fieldbridge::gateway
