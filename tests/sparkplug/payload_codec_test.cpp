// The Sparkplug B payload codec: bytes written out by hand from the
// protobuf encoding of the specification's payload definition, round trips
// of random payloads, text that cannot travel as it is, and bytes that are
// not a payload.
#include "sparkplug/payload_codec.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace fieldbridge::sparkplug {
namespace {

std::string bytes(std::initializer_list<int> list) {
    std::string out;
    for (const int b : list) out += static_cast<char>(b);
    return out;
}

constexpr std::uint64_t ts = 1486144502122;  // the timestamp of the specification's examples

// The NDEATH of the specification's example (6.4.20): a timestamp and the
// bdSeq metric, Int64, 0.
TEST(sparkplug_payload, payloads_ndeath_bdseq_the_death_certificate_is_these_bytes) {
    payload p;
    p.timestamp = ts;
    metric bd;
    bd.name = "bdSeq";
    bd.timestamp = ts;
    bd.datatype = data_type::int64;
    bd.value = std::uint64_t{0};
    p.metrics.push_back(bd);
    const auto expected = bytes({
        0x08, 0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b,  // 1 timestamp: varint 1486144502122
        0x12, 0x12,                                // 2 metrics: 18 bytes
        0x0a, 0x05, 'b', 'd', 'S', 'e', 'q',       //   1 name
        0x18, 0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b,  //   3 timestamp
        0x20, 0x04,                                //   4 datatype Int64
        0x58, 0x00,                                //   11 long_value 0
    });
    EXPECT_EQ(encode(p), expected);
    const auto back = decode(expected);
    ASSERT_TRUE(std::holds_alternative<payload>(back));
    EXPECT_EQ(std::get<payload>(back), p);
}

// A data message by alias: a Float, and a bad reading (is_null and the
// Quality property, Int32 0, 6.4.9.1); seq 3.
TEST(sparkplug_payload, a_data_message_by_alias_with_a_bad_metric_is_these_bytes) {
    payload p;
    p.timestamp = ts;
    metric good;
    good.alias = 2;
    good.timestamp = ts;
    good.value = 1.5f;
    metric bad;
    bad.alias = 3;
    bad.timestamp = ts;
    bad.is_historical = true;
    bad.properties.push_back(property{"Quality", data_type::int32, std::uint32_t{0}});
    p.metrics = {good, bad};
    p.seq = 3;
    const auto expected = bytes({
        0x08, 0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b,              // 1 timestamp
        0x12, 0x0e,                                            // 2 metric, 14 bytes
        0x10, 0x02,                                            //   2 alias 2
        0x18, 0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b,              //   3 timestamp
        0x65, 0x00, 0x00, 0xc0, 0x3f,                          //   12 float_value 1.5 (fixed32)
        0x12, 0x1e,                                            // 2 metric, 30 bytes
        0x10, 0x03,                                            //   2 alias 3
        0x18, 0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b,              //   3 timestamp
        0x28, 0x01,                                            //   5 is_historical
        0x38, 0x01,                                            //   7 is_null
        0x4a, 0x0f,                                            //   9 properties, 15 bytes
        0x0a, 0x07, 'Q', 'u', 'a', 'l', 'i', 't', 'y',         //     1 keys
        0x12, 0x04, 0x08, 0x03, 0x18, 0x00,                    //     2 values: type Int32, int_value 0
        0x18, 0x03,                                            // 3 seq
    });
    EXPECT_EQ(encode(p), expected);
    const auto back = decode(expected);
    ASSERT_TRUE(std::holds_alternative<payload>(back));
    EXPECT_EQ(std::get<payload>(back), p);
}

wire_value random_value(std::mt19937_64& r) {
    switch (r() % 7) {
        case 0: return null_value{};
        case 1: return static_cast<std::uint32_t>(r());
        case 2: return static_cast<std::uint64_t>(r());
        case 3: return static_cast<float>(static_cast<double>(r() % 100000) / 7.0);
        case 4: return static_cast<double>(r()) / 3.0;
        case 5: return r() % 2 == 0;
        default: return std::string("v") + std::to_string(r() % 1000) + " \xc3\xa9";
    }
}

TEST(sparkplug_payload, every_payload_decodes_back_to_itself) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        payload p;
        if (r() % 2) p.timestamp = r();
        if (r() % 2) p.seq = r() % 256;
        if (r() % 4 == 0) p.uuid = "u" + std::to_string(r() % 100);
        if (r() % 4 == 0) p.body = std::string("\0\1\2", 3);
        for (std::size_t k = r() % 6; k > 0; --k) {
            metric m;
            if (r() % 2) m.name = "m" + std::to_string(r() % 50);
            if (r() % 2) m.alias = r() % 1000;
            if (r() % 2) m.timestamp = r();
            if (r() % 2) m.datatype = static_cast<data_type>(1 + r() % 14);
            m.is_historical = r() % 3 == 0;
            m.is_transient = r() % 5 == 0;
            m.value = random_value(r);
            for (std::size_t j = r() % 3; j > 0; --j) {
                m.properties.push_back(property{"k" + std::to_string(j), data_type::string, random_value(r)});
            }
            p.metrics.push_back(std::move(m));
        }
        const auto back = decode(encode(p));
        ASSERT_TRUE(std::holds_alternative<payload>(back)) << "seed " << seed;
        ASSERT_EQ(std::get<payload>(back), p) << "seed " << seed;
    }
}

TEST(sparkplug_payload, text_that_is_not_utf8_or_holds_nul_goes_out_cleaned) {
    payload p;
    metric m;
    m.name = std::string("a\0b", 3);
    m.value = std::string("x\xff" "y");
    p.metrics.push_back(m);
    const auto back = std::get<payload>(decode(encode(p)));
    EXPECT_EQ(back.metrics.at(0).name, "ab");
    EXPECT_EQ(back.metrics.at(0).value, wire_value{std::string("x\xef\xbf\xbdy")});
}

// Property values that nest property sets 200 000 deep (1.2 MB): skipped
// as a field this definition leaves out, not followed (no stack holds that).
TEST(sparkplug_payload, deeply_nested_property_sets_are_skipped_not_followed) {
    const auto varint = [](std::string& out, std::size_t n) {
        while (n >= 0x80) {
            out += static_cast<char>((n & 0x7F) | 0x80);
            n >>= 7;
        }
        out += static_cast<char>(n);
    };
    const auto varint_size = [](std::size_t n) {
        std::size_t k = 1;
        while (n >= 0x80) {
            n >>= 7;
            ++k;
        }
        return k;
    };
    // PropertyValue_d = { 9: PropertySet { 2: PropertyValue_(d-1) } }, the innermost empty.
    constexpr std::size_t depth = 200000;
    std::vector<std::size_t> value_size(depth + 1, 0);
    std::vector<std::size_t> set_size(depth + 1, 0);
    for (std::size_t d = 1; d <= depth; ++d) {
        set_size[d] = 1 + varint_size(value_size[d - 1]) + value_size[d - 1];
        value_size[d] = 1 + varint_size(set_size[d]) + set_size[d];
    }
    std::string nested;
    nested.reserve(value_size[depth]);
    for (std::size_t d = depth; d >= 1; --d) {
        nested += '\x4a';
        varint(nested, set_size[d]);
        nested += '\x12';
        varint(nested, value_size[d - 1]);
    }
    ASSERT_EQ(nested.size(), value_size[depth]);
    std::string set = "\x0a\x01k\x12";  // PropertySet { keys: "k", values: [ nested ] }
    varint(set, nested.size());
    set += nested;
    std::string metric = "\x0a\x01m\x4a";  // Metric { name: "m", properties: set }
    varint(metric, set.size());
    metric += set;
    std::string bytes = "\x12";
    varint(bytes, metric.size());
    bytes += metric;
    const auto d = decode(bytes);
    ASSERT_TRUE(std::holds_alternative<payload>(d));
    const auto& p = std::get<payload>(d);
    ASSERT_EQ(p.metrics.size(), 1u);
    ASSERT_EQ(p.metrics[0].properties.size(), 1u);
    EXPECT_EQ(p.metrics[0].properties[0].value, wire_value{null_value{}});
}

// Millions of empty metrics are 2 bytes each on the wire and far more once
// parsed: counted and refused before anything is allocated for them.
TEST(sparkplug_payload, too_many_metrics_are_refused_before_they_are_parsed) {
    std::string bytes;
    for (std::size_t k = 0; k <= max_metrics; ++k) bytes += std::string{'\x12', '\0'};
    const auto d = decode(bytes);
    ASSERT_TRUE(std::holds_alternative<decode_error>(d));
    EXPECT_NE(std::get<decode_error>(d).why.find("metrics; at most"), std::string::npos);
    EXPECT_TRUE(std::holds_alternative<decode_error>(decode(std::string(max_payload_bytes + 1, '\0'))));
}

TEST(sparkplug_payload, bytes_that_are_not_a_payload_are_refused_with_a_reason) {
    const auto e = decode(bytes({0x12, 0x40, 0x01}));  // a metric longer than the bytes
    ASSERT_TRUE(std::holds_alternative<decode_error>(e));
    EXPECT_NE(std::get<decode_error>(e).why.find("does not decode"), std::string::npos);
    // A bytes value: no point takes one.
    const auto b = decode(bytes({0x12, 0x04, 0x82, 0x01, 0x01, 0x41}));
    ASSERT_TRUE(std::holds_alternative<decode_error>(b));
    EXPECT_NE(std::get<decode_error>(b).why.find("bytes value"), std::string::npos);
    // Random bytes: a payload or an error, never a crash.
    std::mt19937_64 r(7);
    for (int i = 0; i < 20000; ++i) {
        std::string junk(r() % 40, '\0');
        for (auto& c : junk) c = static_cast<char>(r());
        (void)decode(junk);
    }
}

}  // namespace
}  // namespace fieldbridge::sparkplug
