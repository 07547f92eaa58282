// What the log says of a failed subscription (mqtt/subscription_failure.hpp).
#include "mqtt/subscription_failure.hpp"

#include <gtest/gtest.h>

#include "mqtt/properties.hpp"

namespace fieldbridge::mqtt {
namespace {

action::subscribe_completed answered(std::vector<std::string> filters, std::vector<std::uint8_t> codes) {
    return {7, std::move(codes), make_error_code(mqtt_errc::subscription_refused), std::move(filters)};
}

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

TEST(subscription_failure, names_each_refused_filter_with_the_brokers_code_and_not_those_it_took) {
    EXPECT_EQ(subscription_failure(answered({"a/#", "b/#", "c/#"}, {0x01, 0x80, 0x80}), v311),
              "the broker refused the subscription to 'b/#' (0x80), 'c/#' (0x80)");
    // 5.0 says why.
    EXPECT_EQ(subscription_failure(answered({"a/#", "b/#", "c/#"}, {0x01, 0x87, 0xA2}), v5),
              "the broker refused the subscription to 'b/#' (0x87 not authorized), 'c/#' (0xA2 " +
                  reason_code_error(0xA2).message() + ")");
}

TEST(subscription_failure, a_subscribe_never_sent_names_every_filter_and_why) {
    const action::subscribe_completed c{0, {}, make_error_code(mqtt_errc::subscribe_too_large), {"a/#", "b/#"}};
    EXPECT_EQ(subscription_failure(c, v5),
              "cannot subscribe to 'a/#', 'b/#': " + make_error_code(mqtt_errc::subscribe_too_large).message());
}

TEST(subscription_failure, lists_at_most_the_given_number_then_how_many_more) {
    std::vector<std::string> filters;
    std::vector<std::uint8_t> codes;
    for (int i = 0; i < 8; ++i) {
        filters.push_back("d" + std::to_string(i) + "/#");
        codes.push_back(0x80);
    }
    EXPECT_EQ(subscription_failure(answered(filters, codes), v311, 3),
              "the broker refused the subscription to 'd0/#' (0x80), 'd1/#' (0x80), 'd2/#' (0x80) and 5 more");
    EXPECT_EQ(subscription_failure(answered(filters, codes), v311, 0),
              "the broker refused the subscription to 'd0/#' (0x80) and 7 more");
}

TEST(subscription_failure, a_long_filter_is_cut) {
    const std::string filter(70000, 'f');
    const auto text = subscription_failure(answered({filter}, {0x80}), v311);
    EXPECT_EQ(text, "the broker refused the subscription to '" + filter.substr(0, 128) + "... (70000 bytes)' (0x80)");
}

TEST(subscription_failure, a_code_without_its_filter_is_named_by_position) {
    // A broker that answers with more codes than the SUBSCRIBE had filters.
    EXPECT_EQ(subscription_failure(answered({"a/#"}, {0x00, 0x80}), v311),
              "the broker refused the subscription to filter 2 (0x80)");
}

TEST(subscription_failure, a_refusal_without_a_refused_code_names_the_filters) {
    EXPECT_EQ(subscription_failure(answered({"a/#"}, {0x01}), v311), "the broker refused the subscription to 'a/#'");
    EXPECT_EQ(subscription_failure(answered({}, {0x01}), v311), "the broker refused the subscription to no filter");
}

TEST(subscription_failure, an_unsubscribe_refusal_names_the_refused_filters_with_their_codes) {
    const action::unsubscribe_refused r{{"a/#", "b/#", "c/#"}, {0x00, 0x87, 0x11}};
    EXPECT_EQ(unsubscribe_failure(r), "the broker refused to unsubscribe from 'b/#' (0x87 not authorized); their "
                                      "messages may go on arriving");
    // More codes than filters: the extra ones by their place.
    const action::unsubscribe_refused extra{{"a/#"}, {0x00, 0x80}};
    EXPECT_EQ(unsubscribe_failure(extra, 1),
              "the broker refused to unsubscribe from filter 2 (0x80 " + reason_code_error(0x80).message() +
                  "); their messages may go on arriving");
}

}  // namespace
}  // namespace fieldbridge::mqtt
