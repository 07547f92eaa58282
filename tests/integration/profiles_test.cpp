// The device profiles shipped in examples/profiles/, end to end: one device
// of each on a TCP bus, served by `fieldbridge simulate` from the profiles'
// own `simulate` settings, polled by `fieldbridge run`: every point of every
// profile arrives at the broker with quality good, at the topic the point
// map names.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_rig.hpp"
#include "tests/support/subscriber.hpp"
#include "tests/support/wait.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;
using testing::gateway_rig;
using testing::subscriber;
using testing::wait_until;

TEST(shipped_profiles, each_is_served_by_the_simulator_and_every_point_arrives_good) {
    const std::vector<std::string> profiles{"eastron-sdm120", "eastron-sdm630", "schneider-iem3250",
                                            "carlo-gavazzi-em24", "autonics-tk"};
    gateway_rig rig;
    rig.config.client_id("profiles").prefix("p").heartbeat("2s");
    rig.config.tcp_bus("line", rig.modbus_port());
    int unit = 1;
    for (const auto& name : profiles) {
        rig.config.profile_file(name, FIELDBRIDGE_SOURCE_DIR "/examples/profiles/" + name + ".yaml");
        rig.config.device(name).bus("line").unit_id(unit++).profile(name).poll_interval("500ms");
    }
    ASSERT_TRUE(rig.start_simulator()) << rig.simulator().output();
    subscriber sub(rig.broker(), "p/#");
    auto& gw = rig.start_gateway();

    // The point map `check` prints: every point's topic.
    const auto check = testing::run_fieldbridge({"check", rig.write_config()});
    ASSERT_EQ(check.exit_code, 0) << check.output;
    // The map comes before the example messages of the first device.
    const auto map = check.output.substr(0, check.output.find("\nExample messages of device"));
    std::vector<std::string> topics;
    for (const auto& name : profiles) {
        for (std::size_t at = map.find("p/" + name + "/"); at != std::string::npos; at = map.find("p/" + name + "/", at + 1)) {
            topics.push_back(map.substr(at, map.find_first_of(" \n", at) - at));
        }
    }
    ASSERT_GE(topics.size(), 5u * 8u) << check.output;
    const auto good = [&](const std::string& topic) {
        return sub.find(topic, [](const nlohmann::json& j) { return j.at("quality") == "good"; }).has_value();
    };
    EXPECT_TRUE(wait_until([&] { return std::all_of(topics.begin(), topics.end(), good); }, 30s)) << [&] {
        std::string missing;
        for (const auto& t : topics) {
            if (!good(t))
                missing += t + " ";
        }
        return "no good value on: " + missing + "\n" + gw.output();
    }();
    EXPECT_TRUE(gw.running());
}

}  // namespace
}  // namespace fieldbridge
