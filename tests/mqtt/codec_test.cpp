// The MQTT 3.1.1 codec against golden byte arrays, commented field by field
// and checked in both directions, plus every way a packet can be malformed
// that the decoder must refuse rather than crash on.
#include "mqtt/codec.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {
namespace {

using bytes = std::vector<std::uint8_t>;

struct golden {
    const char* name;
    packet value;
    bytes wire;
};

std::vector<golden> goldens() {
    std::vector<golden> g;
    {
        connect c;
        c.client_id = "fb";
        c.clean_session = true;
        c.keepalive_seconds = 60;
        c.will = will_message{"w/t", "gone", qos::at_least_once, true, {}};
        c.username = "u";
        c.password = "p";
        g.push_back({"connect_full", c,
                     {
                         0x10, 31,                           // CONNECT, remaining length 31
                         0x00, 0x04, 'M', 'Q', 'T', 'T',     // protocol name
                         0x04,                               // protocol level 4 = 3.1.1
                         0xEE,                               // user|password|will retain|will QoS 1|will|clean
                         0x00, 0x3C,                         // keepalive 60 s
                         0x00, 0x02, 'f', 'b',               // client id
                         0x00, 0x03, 'w', '/', 't',          // will topic
                         0x00, 0x04, 'g', 'o', 'n', 'e',     // will payload
                         0x00, 0x01, 'u',                    // user name
                         0x00, 0x01, 'p',                    // password
                     }});
    }
    {
        connect c;
        c.clean_session = false;
        g.push_back({"connect_minimal", c,
                     {
                         0x10, 12,                        // CONNECT, remaining length 12
                         0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
                         0x04,                            // level 4
                         0x00,                            // no flags: persistent session
                         0x00, 0x00,                      // keepalive off
                         0x00, 0x00,                      // empty client id
                     }});
    }
    g.push_back({"connack_session_present", connack{true, 0, {}},
                 {
                     0x20, 0x02,  // CONNACK, remaining length 2
                     0x01,        // session present
                     0x00,        // accepted
                 }});
    g.push_back({"connack_not_authorized", connack{false, 5, {}},
                 {
                     0x20, 0x02,  // CONNACK
                     0x00,        // no session
                     0x05,        // refused: not authorized
                 }});
    g.push_back({"publish_qos0", publish{"a/b", "hi", qos::at_most_once, false, false, 0, {}},
                 {
                     0x30, 0x07,                 // PUBLISH, QoS 0, remaining length 7
                     0x00, 0x03, 'a', '/', 'b',  // topic
                     'h', 'i',                   // payload
                 }});
    g.push_back({"publish_qos1_dup_retain", publish{"a/b", "hi", qos::at_least_once, true, true, 10, {}},
                 {
                     0x3B, 0x09,                 // PUBLISH, DUP | QoS 1 | RETAIN
                     0x00, 0x03, 'a', '/', 'b',  // topic
                     0x00, 0x0A,                 // packet id 10
                     'h', 'i',                   // payload
                 }});
    g.push_back({"publish_qos2_empty", publish{"a/b", "", qos::exactly_once, false, false, 0x1234, {}},
                 {
                     0x34, 0x07,                 // PUBLISH, QoS 2
                     0x00, 0x03, 'a', '/', 'b',  // topic
                     0x12, 0x34,                 // packet id 0x1234, no payload
                 }});
    g.push_back({"puback", puback{10, 0, {}}, {0x40, 0x02, /* id */ 0x00, 0x0A}});
    g.push_back({"pubrec", pubrec{10, 0, {}}, {0x50, 0x02, /* id */ 0x00, 0x0A}});
    g.push_back({"pubrel", pubrel{10, 0, {}}, {0x62 /* reserved flags 0010 */, 0x02, /* id */ 0x00, 0x0A}});
    g.push_back({"pubcomp", pubcomp{10, 0, {}}, {0x70, 0x02, /* id */ 0x00, 0x0A}});
    g.push_back({"subscribe", subscribe{1, {{"a/+", qos::at_least_once}, {"#", qos::exactly_once}}, {}},
                 {
                     0x82, 0x0C,                 // SUBSCRIBE, reserved flags 0010, length 12
                     0x00, 0x01,                 // packet id 1
                     0x00, 0x03, 'a', '/', '+',  // filter
                     0x01,                       // requested QoS 1
                     0x00, 0x01, '#',            // filter
                     0x02,                       // requested QoS 2
                 }});
    g.push_back({"suback", suback{1, {0x01, 0x80}, {}},
                 {
                     0x90, 0x04,  // SUBACK
                     0x00, 0x01,  // packet id 1
                     0x01,        // granted QoS 1
                     0x80,        // failure
                 }});
    g.push_back({"unsubscribe", unsubscribe{2, {"a/+"}, {}},
                 {
                     0xA2, 0x07,                 // UNSUBSCRIBE, reserved flags 0010
                     0x00, 0x02,                 // packet id 2
                     0x00, 0x03, 'a', '/', '+',  // filter
                 }});
    g.push_back({"unsuback", unsuback{2, {}, {}}, {0xB0, 0x02, /* id */ 0x00, 0x02}});
    g.push_back({"pingreq", pingreq{}, {0xC0, 0x00}});
    g.push_back({"pingresp", pingresp{}, {0xD0, 0x00}});
    g.push_back({"disconnect", disconnect{}, {0xE0, 0x00}});
    return g;
}

decode_result decode_bytes(const bytes& b, decode_options o = {}) { return decode(std::span(b), o); }

TEST(codec, golden_packets_encode_to_their_bytes) {
    for (const auto& g : goldens()) {
        auto encoded = encode(g.value);
        ASSERT_TRUE(encoded) << g.name << ": " << encoded.error().message();
        EXPECT_EQ(*encoded, g.wire) << g.name;
    }
}

TEST(codec, golden_bytes_decode_to_their_packets) {
    for (const auto& g : goldens()) {
        auto d = decode_bytes(g.wire);
        ASSERT_EQ(d.status, decode_status::complete) << g.name << ": " << d.error.message();
        EXPECT_EQ(d.consumed, g.wire.size()) << g.name;
        EXPECT_TRUE(d.packet == g.value) << g.name;
        EXPECT_EQ(type_of(d.packet), static_cast<packet_type>(g.wire[0] >> 4)) << g.name;
    }
}

TEST(codec, every_golden_split_at_every_byte) {
    for (const auto& g : goldens()) {
        for (std::size_t split = 0; split < g.wire.size(); ++split) {
            bytes buffer(g.wire.begin(), g.wire.begin() + static_cast<std::ptrdiff_t>(split));
            auto first = decode_bytes(buffer);
            EXPECT_EQ(first.status, decode_status::need_more) << g.name << " split " << split;
            buffer.insert(buffer.end(), g.wire.begin() + static_cast<std::ptrdiff_t>(split), g.wire.end());
            auto second = decode_bytes(buffer);
            ASSERT_EQ(second.status, decode_status::complete) << g.name << " split " << split;
            EXPECT_EQ(second.consumed, g.wire.size());
            EXPECT_TRUE(second.packet == g.value) << g.name << " split " << split;
        }
    }
}

TEST(codec, back_to_back_packets_decode_one_at_a_time) {
    bytes stream;
    const auto all = goldens();
    for (const auto& g : all) stream.insert(stream.end(), g.wire.begin(), g.wire.end());
    std::size_t offset = 0;
    for (const auto& g : all) {
        auto d = decode(std::span(stream).subspan(offset));
        ASSERT_EQ(d.status, decode_status::complete) << g.name;
        EXPECT_TRUE(d.packet == g.value) << g.name;
        offset += d.consumed;
    }
    EXPECT_EQ(offset, stream.size());
}

// [MQTT-2.2.3] remaining length boundaries: 1, 2, 3 and 4 length bytes.
TEST(codec, mqtt_2_2_3_remaining_length_boundaries) {
    const std::vector<std::pair<std::size_t, bytes>> cases = {
        {127, {0x7F}},
        {128, {0x80, 0x01}},
        {16383, {0xFF, 0x7F}},
        {16384, {0x80, 0x80, 0x01}},
        {2097151, {0xFF, 0xFF, 0x7F}},
        {2097152, {0x80, 0x80, 0x80, 0x01}},
    };
    for (const auto& [length, digits] : cases) {
        // Topic "t" takes 3 bytes of the remaining length.
        publish p{"t", std::string(length - 3, 'x'), qos::at_most_once, false, false, 0, {}};
        auto encoded = encode(p);
        ASSERT_TRUE(encoded);
        ASSERT_EQ(encoded->size(), 1 + digits.size() + length);
        EXPECT_EQ(bytes(encoded->begin() + 1, encoded->begin() + 1 + static_cast<std::ptrdiff_t>(digits.size())),
                  digits)
            << length;
        auto d = decode(std::span(*encoded));
        ASSERT_TRUE(d.complete()) << length;
        EXPECT_EQ(std::get<publish>(d.packet).payload.size(), length - 3);
    }
}

void expect_error(const bytes& wire, mqtt_errc expected, decode_options o = {}) {
    auto d = decode_bytes(wire, o);
    EXPECT_EQ(d.status, decode_status::error);
    EXPECT_EQ(d.error, make_error_code(expected)) << d.error.message();
}

TEST(codec, mqtt_2_2_3_remaining_length_longer_than_four_bytes_is_malformed) {
    expect_error({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, mqtt_errc::malformed_remaining_length);
    // Refused as soon as the fourth length byte still has its continuation bit.
    expect_error({0x30, 0x80, 0x80, 0x80, 0x80}, mqtt_errc::malformed_remaining_length);
}

TEST(codec, mqtt_2_2_2_1_reserved_flags_must_have_their_listed_value) {
    expect_error({0x60, 0x02, 0x00, 0x01}, mqtt_errc::bad_fixed_header_flags);  // PUBREL needs 0010
    expect_error({0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}, mqtt_errc::bad_fixed_header_flags);
    expect_error({0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}, mqtt_errc::bad_fixed_header_flags);
    expect_error({0x21, 0x02, 0x00, 0x00}, mqtt_errc::bad_fixed_header_flags);  // CONNACK
    expect_error({0x42, 0x02, 0x00, 0x01}, mqtt_errc::bad_fixed_header_flags);  // PUBACK
    expect_error({0xC1, 0x00}, mqtt_errc::bad_fixed_header_flags);              // PINGREQ
    expect_error({0xE8, 0x00}, mqtt_errc::bad_fixed_header_flags);              // DISCONNECT
}

TEST(codec, mqtt_2_2_2_2_bad_flags_are_detected_before_the_body_arrives) {
    expect_error({0x61}, mqtt_errc::bad_fixed_header_flags);
}

TEST(codec, unknown_packet_types_are_refused) {
    expect_error({0x00, 0x00}, mqtt_errc::unknown_packet_type);
    expect_error({0xF0, 0x00}, mqtt_errc::unknown_packet_type);
}

TEST(codec, mqtt_3_3_1_4_qos_3_is_malformed) {
    expect_error({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}, mqtt_errc::invalid_qos);
}

TEST(codec, mqtt_3_3_1_2_dup_set_on_qos_0_is_malformed) {
    expect_error({0x38, 0x03, 0x00, 0x01, 't'}, mqtt_errc::bad_fixed_header_flags);
}

TEST(codec, mqtt_1_5_3_1_ill_formed_utf8_is_malformed) {
    // Overlong encoding of '/', a UTF-16 surrogate, a stray continuation byte,
    // an invalid lead byte and a sequence cut short by the string length.
    expect_error({0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF}, mqtt_errc::invalid_utf8);
    expect_error({0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80}, mqtt_errc::invalid_utf8);
    expect_error({0x30, 0x03, 0x00, 0x01, 0x80}, mqtt_errc::invalid_utf8);
    expect_error({0x30, 0x03, 0x00, 0x01, 0xFF}, mqtt_errc::invalid_utf8);
    expect_error({0x30, 0x05, 0x00, 0x01, 0xE2, 0x82, 0xAC}, mqtt_errc::invalid_utf8);
}

TEST(codec, mqtt_1_5_3_2_null_character_in_a_string_is_malformed) {
    expect_error({0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'}, mqtt_errc::null_character);
}

TEST(codec, valid_multibyte_utf8_topic_is_accepted) {
    const bytes wire = {0x30, 0x07, 0x00, 0x05, 'x', 0xE2, 0x82, 0xAC, 'y'};  // "x€y"
    auto d = decode_bytes(wire);
    ASSERT_TRUE(d.complete()) << d.error.message();
    EXPECT_EQ(std::get<publish>(d.packet).topic, "x\xE2\x82\xACy");
}

TEST(codec, mqtt_2_3_1_1_packet_id_zero_is_malformed) {
    expect_error({0x40, 0x02, 0x00, 0x00}, mqtt_errc::zero_packet_id);
    expect_error({0x62, 0x02, 0x00, 0x00}, mqtt_errc::zero_packet_id);
    expect_error({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}, mqtt_errc::zero_packet_id);
    expect_error({0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}, mqtt_errc::zero_packet_id);
    expect_error({0x90, 0x03, 0x00, 0x00, 0x00}, mqtt_errc::zero_packet_id);
}

TEST(codec, truncated_fields_are_malformed) {
    expect_error({0x30, 0x02, 0x00, 0x05}, mqtt_errc::truncated_field);        // topic longer than packet
    expect_error({0x30, 0x01, 0x00}, mqtt_errc::truncated_field);              // half a length prefix
    expect_error({0x32, 0x04, 0x00, 0x01, 't', 0x00}, mqtt_errc::truncated_field);  // half a packet id
    expect_error({0x40, 0x01, 0x00}, mqtt_errc::truncated_field);
    expect_error({0x20, 0x01, 0x00}, mqtt_errc::truncated_field);
    expect_error({0x10, 0x02, 0x00, 0x04}, mqtt_errc::truncated_field);
}

TEST(codec, trailing_bytes_are_malformed) {
    expect_error({0x40, 0x03, 0x00, 0x01, 0x00}, mqtt_errc::trailing_bytes);
    expect_error({0xD0, 0x01, 0x00}, mqtt_errc::trailing_bytes);
    expect_error({0x20, 0x03, 0x00, 0x00, 0x00}, mqtt_errc::trailing_bytes);
}

TEST(codec, packet_above_the_maximum_size_is_refused_from_its_header) {
    decode_options o;
    o.max_packet_size = 64;
    expect_error({0x30, 0x7F}, mqtt_errc::packet_too_large, o);  // 2 + 127 bytes announced
    auto ok = decode_bytes({0x30, 0x3E}, o);                     // 2 + 62 = 64: allowed, needs more
    EXPECT_EQ(ok.status, decode_status::need_more);
}

TEST(codec, mqtt_3_8_3_3_subscribe_without_filters_is_malformed) {
    expect_error({0x82, 0x02, 0x00, 0x01}, mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_8_3_4_subscribe_reserved_option_bits_are_malformed) {
    expect_error({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04}, mqtt_errc::malformed_packet);
    expect_error({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}, mqtt_errc::invalid_qos);
}

TEST(codec, mqtt_3_9_3_2_suback_return_codes_are_0_1_2_or_0x80) {
    expect_error({0x90, 0x03, 0x00, 0x01, 0x03}, mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_10_3_2_unsubscribe_without_filters_is_malformed) {
    expect_error({0xA2, 0x02, 0x00, 0x01}, mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_2_2_1_connack_reserved_bits_are_malformed) {
    expect_error({0x20, 0x02, 0x02, 0x00}, mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_1_2_3_connect_reserved_flag_is_malformed) {
    expect_error({0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x01, 0x00, 0x00, 0x00, 0x00},
                 mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_1_2_22_password_without_user_name_is_malformed) {
    expect_error({0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 'p'},
                 mqtt_errc::malformed_packet);
}

TEST(codec, mqtt_3_3_2_2_publish_topic_with_wildcards_is_refused) {
    expect_error({0x30, 0x03, 0x00, 0x01, '#'}, mqtt_errc::invalid_topic);
    EXPECT_EQ(encode(publish{"a/+", "", qos::at_most_once, false, false, 0, {}}).error(),
              make_error_code(mqtt_errc::invalid_topic));
    EXPECT_EQ(encode(publish{"", "", qos::at_most_once, false, false, 0, {}}).error(),
              make_error_code(mqtt_errc::invalid_topic));
}

TEST(codec, encoder_refuses_what_a_peer_would_reject) {
    EXPECT_EQ(encode(publish{"t", "", qos::at_least_once, false, false, 0, {}}).error(),
              make_error_code(mqtt_errc::zero_packet_id));
    EXPECT_EQ(encode(puback{0, 0, {}}).error(), make_error_code(mqtt_errc::zero_packet_id));
    EXPECT_EQ(encode(publish{std::string(70000, 't'), "", qos::at_most_once, false, false, 0, {}}).error(),
              make_error_code(mqtt_errc::string_too_long));
    connect c;
    c.client_id = "bad\xFF";
    EXPECT_EQ(encode(c).error(), make_error_code(mqtt_errc::invalid_utf8));
    EXPECT_EQ(encode(subscribe{1, {}, {}}).error(), make_error_code(mqtt_errc::malformed_packet));
    EXPECT_EQ(encode(subscribe{1, {{"a/#/b", qos::at_most_once}}, {}}).error(),
              make_error_code(mqtt_errc::invalid_topic));
    EXPECT_EQ(encode(auth{}, protocol_version::v3_1_1).error(),
              make_error_code(mqtt_errc::unsupported_protocol_version));  // AUTH is 5.0 only
}

// Random bytes and random corruptions of golden packets: the decoder returns
// a status for each, never reads out of bounds (run under ASan to be sure).
TEST(codec, arbitrary_input_never_crashes) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    const auto all = goldens();
    for (int i = 0; i < 20000; ++i) {
        bytes input;
        if (i % 2 == 0) {
            input.resize(static_cast<std::size_t>(byte(rng) % 40));
            for (auto& b : input) b = static_cast<std::uint8_t>(byte(rng));
        } else {
            input = all[static_cast<std::size_t>(i / 2) % all.size()].wire;
            const auto at = static_cast<std::size_t>(byte(rng)) % input.size();
            input[at] = static_cast<std::uint8_t>(byte(rng));
        }
        auto d = decode_bytes(input);
        if (d.complete()) {
            EXPECT_LE(d.consumed, input.size());
        }
    }
}

}  // namespace
}  // namespace fieldbridge::mqtt
