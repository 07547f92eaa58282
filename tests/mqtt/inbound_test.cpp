// The client's receive buffer (mqtt/inbound.hpp): packets within the limit
// as the decoder gives them, a 3.1.1 PUBLISH over it as a head without its
// payload and never buffered whole, anything else over it refused.
#include "mqtt/inbound.hpp"

#include <gtest/gtest.h>

#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {
namespace {

std::vector<std::uint8_t> bytes_of(const packet& p, protocol_version v) {
    auto b = encode(p, v);
    EXPECT_TRUE(b);
    return b ? *b : std::vector<std::uint8_t>{};
}

constexpr std::size_t limit = 1 << 20;
// The limit, a PUBLISH head (fixed header, topic, packet id) and a chunk.
constexpr std::size_t bound(std::size_t chunk) { return limit + 5 + 2 + 65535 + 2 + chunk; }

// Feeds `stream` in chunks, checking the bound after each; the items in order.
std::vector<inbound_item> receive(inbound& in, const std::vector<std::uint8_t>& stream, std::size_t chunk,
                                  std::size_t& most) {
    std::vector<inbound_item> out;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        const auto n = std::min(chunk, stream.size() - at);
        in.feed(std::span<const std::uint8_t>(stream).subspan(at, n));
        most = std::max(most, in.buffered());
        for (auto item = in.next(); item.status != decode_status::need_more; item = in.next()) {
            out.push_back(item);
            if (item.status == decode_status::error) return out;
        }
    }
    return out;
}

TEST(inbound, a_publish_five_times_the_limit_comes_out_as_its_head_and_is_never_buffered_whole) {
    const publish big{"plant/cmd", std::string(5 * limit, 'x'), qos::at_least_once, false, false, 7, {}};
    const publish next{"plant/next", "1", qos::at_most_once, false, false, 0, {}};
    auto stream = bytes_of(big, protocol_version::v3_1_1);
    const auto big_size = stream.size();
    const auto tail = bytes_of(next, protocol_version::v3_1_1);
    stream.insert(stream.end(), tail.begin(), tail.end());
    for (const std::size_t chunk : {std::size_t{16384}, std::size_t{1000003}, stream.size()}) {
        inbound in(protocol_version::v3_1_1, limit);
        std::size_t most = 0;
        const auto items = receive(in, stream, chunk, most);
        ASSERT_EQ(items.size(), 2u) << chunk;
        ASSERT_TRUE(items[0].oversized);
        EXPECT_EQ(items[0].size, big_size);
        auto head = big;
        head.payload.clear();
        EXPECT_EQ(std::get<publish>(items[0].packet), head);
        EXPECT_FALSE(items[1].oversized);
        EXPECT_EQ(std::get<publish>(items[1].packet), next);
        if (chunk < stream.size()) {
            EXPECT_LE(most, bound(chunk)) << chunk;
        }
        EXPECT_EQ(in.pending(), 0u);
    }
}

TEST(inbound, a_head_cut_inside_its_topic_waits_for_the_rest_of_it) {
    const publish big{std::string(300, 't'), std::string(limit, 'x'), qos::exactly_once, false, false, 9, {}};
    const auto stream = bytes_of(big, protocol_version::v3_1_1);
    inbound in(protocol_version::v3_1_1, limit);
    in.feed(std::span<const std::uint8_t>(stream).first(100));
    EXPECT_EQ(in.next().status, decode_status::need_more);
    in.feed(std::span<const std::uint8_t>(stream).subspan(100, 300));
    const auto item = in.next();
    ASSERT_EQ(item.status, decode_status::complete);
    EXPECT_TRUE(item.oversized);
    EXPECT_EQ(std::get<publish>(item.packet).packet_id, 9);
    EXPECT_EQ(std::get<publish>(item.packet).topic, big.topic);
}

TEST(inbound, MQTT_3_1_2_24_with_5_0_a_publish_over_the_limit_it_announced_is_an_error) {
    const publish big{"plant/cmd", std::string(limit, 'x'), qos::at_least_once, false, false, 7, {}};
    inbound in(protocol_version::v5, limit);
    std::size_t most = 0;
    const auto items = receive(in, bytes_of(big, protocol_version::v5), 16384, most);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].status, decode_status::error);
    EXPECT_EQ(items[0].error, make_error_code(mqtt_errc::packet_too_large));
    EXPECT_LE(most, 16384u);  // refused once its length was known
}

TEST(inbound, any_other_packet_over_the_limit_is_an_error) {
    const suback many{1, std::vector<std::uint8_t>(2000, 0x01), {}};
    inbound in(protocol_version::v3_1_1, 1000);
    in.feed(bytes_of(many, protocol_version::v3_1_1));
    const auto item = in.next();
    EXPECT_EQ(item.status, decode_status::error);
    EXPECT_EQ(item.error, make_error_code(mqtt_errc::packet_too_large));
}

TEST(inbound, a_malformed_head_is_an_error) {
    // A topic length running past the packet's own remaining length.
    std::vector<std::uint8_t> stream{0x32, 0x7F, 0x01, 0x00};
    stream.resize(2 + 0x7F, 'x');
    inbound in(protocol_version::v3_1_1, 16);
    in.feed(stream);
    EXPECT_EQ(in.next().status, decode_status::error);
}

}  // namespace
}  // namespace fieldbridge::mqtt
