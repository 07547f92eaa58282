// The device profiles shipped in examples/profiles/ (written from the
// makers' register maps): each loads through `!include` as a profile, with
// the point count, register kinds, types, word orders and scales its header
// comment states.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/loader.hpp"

namespace fieldbridge::config {
namespace {

gateway load_profile(const std::string& file) {
    const std::string yaml = "mqtt: { host: 127.0.0.1, port: 1883, client_id: t }\n"
                             "profiles:\n"
                             "  p: !include " FIELDBRIDGE_SOURCE_DIR "/examples/profiles/" + file + "\n"
                             "buses:\n"
                             "  b: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                             "devices:\n"
                             "  d: { bus: b, unit_id: 1, profile: p }\n";
    return load_string(yaml, "plant.yaml");
}

const point& find(const gateway& g, const std::string& name) {
    const auto& points = g.devices.at(0).points;
    const auto it = std::find_if(points.begin(), points.end(), [&](const point& p) { return p.name == name; });
    if (it == points.end()) throw std::runtime_error("no point " + name);
    return *it;
}

struct expected_point {
    const char* name;
    register_kind kind;
    std::uint16_t address;
    data_type type;
    word_order order;
    double scale;
};

struct expected_profile {
    const char* file;
    std::size_t points;
    expected_point sample;
};

class shipped_profile : public ::testing::TestWithParam<expected_profile> {};

TEST_P(shipped_profile, loads_with_the_register_map_of_its_datasheet) {
    const auto& e = GetParam();
    gateway g;
    ASSERT_NO_THROW(g = load_profile(e.file)) << e.file;
    EXPECT_TRUE(g.warnings.empty()) << e.file;
    ASSERT_EQ(g.devices.size(), 1u);
    EXPECT_EQ(g.devices[0].points.size(), e.points) << e.file;
    const auto& p = find(g, e.sample.name);
    EXPECT_EQ(p.kind, e.sample.kind) << e.sample.name;
    EXPECT_EQ(p.address, e.sample.address) << e.sample.name;
    EXPECT_EQ(p.type, e.sample.type) << e.sample.name;
    EXPECT_EQ(p.order, e.sample.order) << e.sample.name;
    EXPECT_DOUBLE_EQ(p.scale, e.sample.scale) << e.sample.name;
    for (const auto& q : g.devices[0].points) {
        EXPECT_FALSE(q.unit.empty() && q.type == data_type::float32 && q.name.find("factor") == std::string::npos)
            << e.file << ": " << q.name << " has no unit";
    }
}

INSTANTIATE_TEST_SUITE_P(
    examples, shipped_profile,
    ::testing::Values(
        expected_profile{"eastron-sdm120.yaml", 14,
                         {"active_power", register_kind::input_register, 12, data_type::float32, word_order::abcd, 1.0}},
        expected_profile{"eastron-sdm630.yaml", 30,
                         {"voltage_l1_l2", register_kind::input_register, 200, data_type::float32, word_order::abcd, 1.0}},
        expected_profile{"schneider-iem3250.yaml", 25,
                         {"voltage_l1", register_kind::holding_register, 3027, data_type::float32, word_order::abcd, 1.0}},
        expected_profile{"carlo-gavazzi-em24.yaml", 24,
                         {"current_l1", register_kind::holding_register, 12, data_type::int32, word_order::cdab, 0.001}},
        expected_profile{"autonics-tk.yaml", 12,
                         {"process_value", register_kind::input_register, 1000, data_type::int16, word_order::abcd, 0.1}}),
    [](const ::testing::TestParamInfo<expected_profile>& param) {
        std::string name = param.param.file;
        name = name.substr(0, name.find('.'));
        std::replace(name.begin(), name.end(), '-', '_');
        return name;
    });

TEST(shipped_profiles, the_controller_setpoint_is_writable_and_bounded) {
    const auto g = load_profile("autonics-tk.yaml");
    const auto& sp = find(g, "setpoint");
    EXPECT_TRUE(sp.writable);
    EXPECT_EQ(sp.kind, register_kind::holding_register);
    ASSERT_TRUE(sp.minimum && sp.maximum);
    EXPECT_LT(*sp.minimum, *sp.maximum);
}

}  // namespace
}  // namespace fieldbridge::config
