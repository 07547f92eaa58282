// The MQTT 5.0 codec: golden byte arrays for the packets this client sends
// and receives, properties of every wire type, the short forms of acks, and
// the malformed cases named after the normative statements they check.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"

namespace fieldbridge::mqtt {
namespace {

using bytes = std::vector<std::uint8_t>;

decode_result decode5(const bytes& b) { return decode(b, decode_options{protocol_version::v5}); }

packet round_trip(const packet& p) {
    auto wire = encode(p, protocol_version::v5);
    EXPECT_TRUE(wire) << wire.error().message();
    if (!wire) return p;
    const auto d = decode5(*wire);
    EXPECT_TRUE(d.complete()) << d.error.message();
    EXPECT_EQ(d.consumed, wire->size());
    return d.packet;
}

struct golden {
    const char* name;
    packet value;
    bytes wire;
};

std::vector<golden> goldens() {
    std::vector<golden> g;
    {
        connect c;
        c.version = protocol_version::v5;
        c.client_id = "fb";
        c.clean_session = false;
        c.keepalive_seconds = 30;
        c.props = {{prop::session_expiry_interval, std::uint32_t{3600}}, {prop::receive_maximum, std::uint32_t{20}}};
        c.will = will_message{"w", "x", qos::at_least_once, true, {{prop::will_delay_interval, std::uint32_t{5}}}};
        g.push_back({"connect_v5", c,
                     {
                         0x10, 35,                        // CONNECT, remaining length 35
                         0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
                         0x05,                            // protocol level 5
                         0x2C,                            // will retain | will QoS 1 | will; Clean Start 0
                         0x00, 0x1E,                      // keepalive 30 s
                         8,                               // property length
                         0x11, 0x00, 0x00, 0x0E, 0x10,    // session expiry interval 3600
                         0x21, 0x00, 0x14,                // receive maximum 20
                         0x00, 0x02, 'f', 'b',            // client id
                         5,                               // will property length
                         0x18, 0x00, 0x00, 0x00, 0x05,    // will delay interval 5
                         0x00, 0x01, 'w',                 // will topic
                         0x00, 0x01, 'x',                 // will payload
                     }});
    }
    {
        connack c{true, 0, {{prop::receive_maximum, std::uint32_t{1}}, {prop::topic_alias_maximum, std::uint32_t{10}}}};
        g.push_back({"connack_v5", c, {0x20, 9, 0x01, 0x00, 6, 0x21, 0x00, 0x01, 0x22, 0x00, 0x0A}});
    }
    {
        publish p{"a/b", "hi", qos::at_least_once, false, false, 7, {}};
        p.props = {{prop::response_topic, std::string("r")},
                   {prop::correlation_data, std::vector<std::uint8_t>{0xCA, 0xFE}},
                   {prop::user_property, std::pair<std::string, std::string>{"k", "v"}}};
        g.push_back({"publish_v5_properties", p,
                     {
                         0x32, 26,                              // PUBLISH QoS 1, remaining length 26
                         0x00, 0x03, 'a', '/', 'b',             // topic
                         0x00, 0x07,                            // packet id 7
                         16,                                    // property length
                         0x08, 0x00, 0x01, 'r',                 // response topic
                         0x09, 0x00, 0x02, 0xCA, 0xFE,          // correlation data
                         0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',  // user property
                         'h', 'i',                              // payload
                     }});
    }
    g.push_back({"publish_v5_no_properties", publish{"t", "", qos::at_most_once, false, false, 0, {}},
                 {0x30, 4, 0x00, 0x01, 't', 0x00}});
    // [MQTT-3.4.2.1]: success without properties is the 3.1.1 form.
    g.push_back({"puback_v5_short", puback{9, 0, {}}, {0x40, 2, 0x00, 0x09}});
    g.push_back({"puback_v5_refused", puback{9, 0x87, {}}, {0x40, 3, 0x00, 0x09, 0x87}});
    g.push_back({"pubrec_v5_reason_string", pubrec{9, 0x97, {{prop::reason_string, std::string("q")}}},
                 {0x50, 8, 0x00, 0x09, 0x97, 4, 0x1F, 0x00, 0x01, 'q'}});
    g.push_back({"pubrel_v5", pubrel{9, 0, {}}, {0x62, 2, 0x00, 0x09}});
    g.push_back({"pubcomp_v5_not_found", pubcomp{9, 0x92, {}}, {0x70, 3, 0x00, 0x09, 0x92}});
    {
        subscribe s{3, {{"c/#", qos::exactly_once, true, true, 2}}, {}};
        g.push_back({"subscribe_v5_options", s,
                     {0x82, 9, 0x00, 0x03, 0, 0x00, 0x03, 'c', '/', '#', 0x2E}});  // options: RH 2, RAP, NL, QoS 2
    }
    g.push_back({"suback_v5", suback{3, {0x02, 0x87}, {}}, {0x90, 5, 0x00, 0x03, 0, 0x02, 0x87}});
    g.push_back({"unsubscribe_v5", unsubscribe{4, {"x"}, {}}, {0xA2, 6, 0x00, 0x04, 0, 0x00, 0x01, 'x'}});
    g.push_back({"unsuback_v5", unsuback{4, {0x11}, {}}, {0xB0, 4, 0x00, 0x04, 0, 0x11}});
    g.push_back({"disconnect_v5_normal", disconnect{0, {}}, {0xE0, 0}});
    g.push_back({"disconnect_v5_shutting_down", disconnect{0x8B, {{prop::reason_string, std::string("bye")}}},
                 {0xE0, 8, 0x8B, 6, 0x1F, 0x00, 0x03, 'b', 'y', 'e'}});
    g.push_back({"auth_v5", auth{0x18, {{prop::authentication_method, std::string("m")}}},
                 {0xF0, 6, 0x18, 4, 0x15, 0x00, 0x01, 'm'}});
    return g;
}

TEST(codec_v5, golden_packets_encode_to_their_bytes) {
    for (const auto& g : goldens()) {
        const auto wire = encode(g.value, protocol_version::v5);
        ASSERT_TRUE(wire) << g.name << ": " << wire.error().message();
        EXPECT_EQ(*wire, g.wire) << g.name;
    }
}

TEST(codec_v5, golden_bytes_decode_to_their_packets) {
    for (const auto& g : goldens()) {
        const auto d = decode5(g.wire);
        ASSERT_TRUE(d.complete()) << g.name << ": " << d.error.message();
        EXPECT_EQ(d.packet, g.value) << g.name;
        EXPECT_EQ(d.consumed, g.wire.size()) << g.name;
    }
}

TEST(codec_v5, every_golden_split_at_every_byte) {
    for (const auto& g : goldens()) {
        for (std::size_t cut = 0; cut < g.wire.size(); ++cut) {
            const auto d = decode(std::span(g.wire.data(), cut), decode_options{protocol_version::v5});
            EXPECT_EQ(d.status, decode_status::need_more) << g.name << " cut at " << cut;
        }
    }
}

TEST(codec_v5, properties_of_every_wire_type_round_trip) {
    publish p{"t", "x", qos::exactly_once, true, true, 65535, {}};
    p.props = {{prop::payload_format_indicator, std::uint32_t{1}},                // byte
               {prop::topic_alias, std::uint32_t{65535}},                         // two bytes
               {prop::message_expiry_interval, std::uint32_t{0xFFFFFFFF}},        // four bytes
               {prop::subscription_identifier, std::uint32_t{268'435'455}},       // variable byte integer
               {prop::content_type, std::string("application/json")},            // UTF-8
               {prop::correlation_data, std::vector<std::uint8_t>{0, 1, 2, 255}},  // binary
               {prop::user_property, std::pair<std::string, std::string>{"a", "b"}},
               {prop::user_property, std::pair<std::string, std::string>{"a", "c"}}};  // may repeat
    EXPECT_EQ(round_trip(p), packet{p});
    connack c{false, 0x86, {{prop::reason_string, std::string("bad password")}}};
    EXPECT_EQ(round_trip(c), packet{c});
}

// A User Property is 5 bytes on the wire and about 80 decoded: a packet
// keeps max_user_properties of them, the first ones in order; the ones
// after are still checked (a bad one fails the packet) and the properties
// after them still read.
TEST(codec_v5, a_packet_keeps_the_first_max_user_properties_and_reads_past_the_rest) {
    for (const std::size_t count : {max_user_properties, max_user_properties + 1, std::size_t{200'000}}) {
        publish p{"cmd/set", "1", qos::at_least_once, false, false, 7, {}};
        for (std::size_t k = 0; k < count; ++k) {
            p.props.push_back(
                {prop::user_property, std::pair<std::string, std::string>{std::to_string(k), ""}});
        }
        p.props.push_back({prop::response_topic, std::string("replies/1")});
        const auto wire = encode(p, protocol_version::v5);
        ASSERT_TRUE(wire);
        const auto d = decode(std::span(wire->data(), wire->size()), decode_options{protocol_version::v5});
        ASSERT_TRUE(d.complete()) << count;
        const auto& got = std::get<publish>(d.packet);
        ASSERT_EQ(got.props.size(), max_user_properties + 1) << count;
        for (std::size_t k = 0; k < max_user_properties; ++k) {
            ASSERT_EQ(
                got.props[k].value,
                (decltype(property::value){std::pair<std::string, std::string>{std::to_string(k), ""}}));
        }
        EXPECT_EQ(string_property(got.props, prop::response_topic), "replies/1") << count;
    }
    // One past the bound that is not UTF-8 still fails the packet.
    publish bad{"cmd/set", "1", qos::at_least_once, false, false, 7, {}};
    for (std::size_t k = 0; k <= max_user_properties; ++k) {
        bad.props.push_back({prop::user_property, std::pair<std::string, std::string>{"k", "v"}});
    }
    auto wire = encode(bad, protocol_version::v5);
    ASSERT_TRUE(wire);
    wire->at(wire->size() - 2) = 0xFF;  // the last property's value "v", the byte before the payload
    const auto d = decode(std::span(wire->data(), wire->size()), decode_options{protocol_version::v5});
    EXPECT_EQ(d.status, decode_status::error);
}

TEST(codec_v5, typed_lookup_of_properties) {
    const properties props{{prop::receive_maximum, std::uint32_t{5}}, {prop::response_topic, std::string("r/1")},
                           {prop::correlation_data, std::vector<std::uint8_t>{'i', 'd'}}};
    EXPECT_EQ(integer_property(props, prop::receive_maximum), 5u);
    EXPECT_EQ(integer_property(props, prop::topic_alias_maximum), std::nullopt);
    EXPECT_EQ(string_property(props, prop::response_topic), "r/1");
    EXPECT_EQ(string_property(props, prop::correlation_data), "id");
    EXPECT_EQ(reason_code_error(0x87).message(), "not authorized");
    EXPECT_EQ(reason_code_error(0x87).category().name(), std::string("mqtt5"));
}

TEST(codec_v5, mqtt_2_2_2_2_a_property_other_than_user_property_twice_is_a_protocol_error) {
    // CONNACK with Receive Maximum twice.
    const bytes wire{0x20, 9, 0x00, 0x00, 6, 0x21, 0x00, 0x01, 0x21, 0x00, 0x02};
    EXPECT_EQ(decode5(wire).error, make_error_code(mqtt_errc::protocol_error));
}

TEST(codec_v5, an_unknown_property_identifier_is_malformed) {
    const bytes wire{0x20, 5, 0x00, 0x00, 2, 0x7E, 0x00};
    EXPECT_EQ(decode5(wire).error, make_error_code(mqtt_errc::malformed_packet));
}

TEST(codec_v5, a_property_length_past_the_packet_is_malformed) {
    const bytes wire{0x20, 4, 0x00, 0x00, 9, 0x21};
    EXPECT_EQ(decode5(wire).status, decode_status::error);
}

TEST(codec_v5, mqtt_1_5_5_1_a_variable_byte_integer_of_five_bytes_is_malformed) {
    const bytes wire{0x20, 7, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    EXPECT_EQ(decode5(wire).error, make_error_code(mqtt_errc::malformed_packet));
}

TEST(codec_v5, mqtt_3_8_3_5_subscribe_reserved_option_bits_are_malformed) {
    const bytes wire{0x82, 7, 0x00, 0x01, 0, 0x00, 0x01, 'a', 0x40};
    EXPECT_EQ(decode5(wire).error, make_error_code(mqtt_errc::malformed_packet));
}

TEST(codec_v5, mqtt_3_8_3_6_retain_handling_3_is_a_protocol_error) {
    const bytes wire{0x82, 7, 0x00, 0x01, 0, 0x00, 0x01, 'a', 0x30};
    EXPECT_EQ(decode5(wire).error, make_error_code(mqtt_errc::protocol_error));
    EXPECT_FALSE(encode(subscribe{1, {{"a", qos::at_most_once, false, false, 3}}, {}}, protocol_version::v5));
}

TEST(codec_v5, a_publish_with_an_empty_topic_needs_a_topic_alias) {
    const bytes no_alias{0x30, 3, 0x00, 0x00, 0};
    EXPECT_EQ(decode5(no_alias).error, make_error_code(mqtt_errc::protocol_error));
    const bytes alias{0x30, 6, 0x00, 0x00, 3, 0x23, 0x00, 0x01};
    ASSERT_TRUE(decode5(alias).complete());
    // 3.1.1 has no aliases: an empty topic is refused [MQTT-4.7.3-1].
    EXPECT_EQ(decode(bytes{0x30, 2, 0x00, 0x00}).status, decode_status::error);
}

TEST(codec_v5, the_encoder_refuses_a_property_of_the_wrong_type_or_an_unknown_one) {
    connect c;
    c.version = protocol_version::v5;
    c.props = {{prop::receive_maximum, std::string("many")}};
    EXPECT_EQ(encode(c, protocol_version::v5).error(), make_error_code(mqtt_errc::malformed_packet));
    c.props = {{prop::maximum_qos, std::uint32_t{300}}};
    EXPECT_EQ(encode(c, protocol_version::v5).error(), make_error_code(mqtt_errc::malformed_packet));
    c.props = {{0x7E, std::uint32_t{1}}};
    EXPECT_EQ(encode(c, protocol_version::v5).error(), make_error_code(mqtt_errc::malformed_packet));
}

TEST(codec_v5, a_password_without_a_user_name_is_allowed) {
    connect c;
    c.password = "secret";
    EXPECT_FALSE(encode(c));  // [MQTT-3.1.2-22]
    c.version = protocol_version::v5;
    auto wire = encode(c, protocol_version::v5);
    ASSERT_TRUE(wire);
    EXPECT_EQ(decode5(*wire).packet, packet{c});
}

TEST(codec_v5, a_connect_is_encoded_in_the_version_it_states) {
    // The CONNECT is what tells the server the version of the connection.
    connect c;
    c.version = protocol_version::v5;
    c.client_id = "gw";
    const auto wire = encode(c, protocol_version::v3_1_1);
    ASSERT_TRUE(wire);
    EXPECT_EQ((*wire)[8], 5);  // protocol level
    EXPECT_EQ(decode(*wire).packet, packet{c});
}

TEST(codec_v5, auth_is_unknown_to_3_1_1) {
    EXPECT_EQ(decode(bytes{0xF0, 0}).error, make_error_code(mqtt_errc::unknown_packet_type));
    EXPECT_TRUE(decode5(bytes{0xF0, 0}).complete());
}

// Golden packets with bytes overwritten at random: whatever arrives, the
// decoder keeps its contract. Each result is need_more, a packet that used
// 1..size bytes, or an error with a reason; every strict prefix of a packet
// it accepted is need_more; and the packet encodes again to bytes that
// decode to the same packet, using all of them.
TEST(codec_v5, arbitrary_input_keeps_the_decoder_contract) {
    std::mt19937 rng(54321);
    std::uniform_int_distribution<int> byte(0, 255);
    const auto all = goldens();
    int packets = 0;
    int errors = 0;
    int waiting = 0;
    for (int i = 0; i < 20000; ++i) {
        auto wire = all[static_cast<std::size_t>(i) % all.size()].wire;
        const auto flips = 1 + i % 4;
        for (int f = 0; f < flips; ++f) wire[static_cast<std::size_t>(byte(rng)) % wire.size()] = static_cast<std::uint8_t>(byte(rng));
        const auto d = decode5(wire);
        switch (d.status) {
            case decode_status::need_more:
                ++waiting;
                EXPECT_FALSE(d.error) << i;
                break;
            case decode_status::error:
                ++errors;
                EXPECT_TRUE(d.error) << i;
                break;
            case decode_status::complete: {
                ++packets;
                ASSERT_GE(d.consumed, 1u) << i;
                ASSERT_LE(d.consumed, wire.size()) << i;
                for (std::size_t n = 0; n < d.consumed; ++n) {
                    const auto prefix = decode5(bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n)));
                    ASSERT_EQ(prefix.status, decode_status::need_more) << i << " prefix " << n;
                }
                const auto again = encode(d.packet, protocol_version::v5);
                ASSERT_TRUE(again) << i << ": " << again.error().message();
                const auto back = decode5(*again);
                ASSERT_TRUE(back.complete()) << i << ": " << back.error.message();
                EXPECT_EQ(back.consumed, again->size()) << i;
                EXPECT_TRUE(back.packet == d.packet) << i;
                break;
            }
        }
    }
    // The mutations reach all three outcomes, or the test checks less than it says.
    EXPECT_GT(packets, 1000);
    EXPECT_GT(errors, 1000);
    EXPECT_GT(waiting, 100);
}

}  // namespace
}  // namespace fieldbridge::mqtt
