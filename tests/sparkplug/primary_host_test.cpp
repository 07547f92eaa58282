// The primary host's STATE as the edge node follows it: online and offline
// by the JSON payload of Sparkplug 3.0, stale ones (an older timestamp)
// ignored, a retained STATE delivered again after a reconnect taken, and
// payloads that are no STATE refused with a reason, changing nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sparkplug/primary_host.hpp"

namespace fieldbridge::sparkplug {
namespace {

using change = primary_host::change;

TEST(sparkplug_primary_host, state_online_then_offline_by_its_json_payload) {
    primary_host h("scada1");
    EXPECT_EQ(h.topic(), "spBv1.0/STATE/scada1");
    EXPECT_FALSE(h.online()) << "unknown is offline";
    EXPECT_EQ(h.receive(R"({"online":true,"timestamp":1000})").what, change::online);
    EXPECT_TRUE(h.online());
    EXPECT_EQ(h.receive(R"({"online":true,"timestamp":1001})").what, change::none) << "no change";
    EXPECT_EQ(h.receive(R"({"online":false,"timestamp":1002})").what, change::offline);
    EXPECT_FALSE(h.online());
}

TEST(sparkplug_primary_host, an_older_state_is_stale_and_ignored) {
    primary_host h("scada1");
    EXPECT_EQ(h.receive(R"({"online":true,"timestamp":2000})").what, change::online);
    EXPECT_EQ(h.receive(R"({"online":false,"timestamp":1999})").what, change::none);
    EXPECT_TRUE(h.online());
}

TEST(sparkplug_primary_host, after_a_lost_link_the_same_retained_state_counts_again) {
    primary_host h("scada1");
    ASSERT_EQ(h.receive(R"({"online":true,"timestamp":2000})").what, change::online);
    h.link_lost();
    EXPECT_FALSE(h.online());
    EXPECT_EQ(h.receive(R"({"online":true,"timestamp":2000})").what, change::online);
}

TEST(sparkplug_primary_host, payloads_that_are_no_state_are_refused_and_change_nothing) {
    primary_host h("scada1");
    ASSERT_EQ(h.receive(R"({"online":true,"timestamp":2000})").what, change::online);
    for (const std::string& bad : std::vector<std::string>{"", "ONLINE", "[true]", R"({"online":"false","timestamp":3000})",
                                  R"({"online":false})", R"({"online":false,"timestamp":-5})",
                                  R"({"online":false,"timestamp":1.5})", std::string(5000, ' ')}) {
        const auto v = h.receive(bad);
        EXPECT_EQ(v.what, change::none) << bad;
        EXPECT_FALSE(v.error.empty()) << bad;
        EXPECT_TRUE(h.online()) << bad;
    }
}

}  // namespace
}  // namespace fieldbridge::sparkplug
