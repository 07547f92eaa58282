// Read Device Identification framing and parsing: random pages (object
// counts, lengths, "more follows") encoded by identification_answer (what
// the simulator sends) and framed as a device would, on TCP and RTU; every proper prefix of an answer is
// incomplete, the whole is complete and parses back to the page, another
// unit's answer is invalid, and a flipped bit that framing cannot see fails
// the RTU CRC.
#include "drivers/modbus/device_identification.hpp"

#include <random>

#include <gtest/gtest.h>

#include "drivers/modbus/crc16.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes rtu_frame(const bytes& pdu, std::uint8_t unit) {
    bytes f = {unit};
    f.insert(f.end(), pdu.begin(), pdu.end());
    const auto crc = crc16(f);
    f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    f.push_back(static_cast<std::uint8_t>(crc >> 8));
    return f;
}

identification_page random_page(std::mt19937& rng) {
    identification_page page;
    page.category = static_cast<identification_category>(1 + rng() % 3);
    page.conformity = static_cast<std::uint8_t>(rng());
    page.more_follows = rng() % 2 == 0;
    page.next_object = static_cast<std::uint8_t>(rng());
    std::size_t size = 7;
    const auto count = rng() % 8;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t length = rng() % 3 == 0 ? rng() % 120 : rng() % 16;
        if (size + 2 + length > 253)
            break;
        identification_object o{static_cast<std::uint8_t>(rng()), {}};
        for (std::size_t c = 0; c < length; ++c)
            o.value += static_cast<char>(rng());
        size += 2 + length;
        page.objects.push_back(o);
    }
    return page;
}

void expect_same(const identification_page& a, const identification_page& b, unsigned seed) {
    EXPECT_EQ(a.category, b.category) << "seed " << seed;
    EXPECT_EQ(a.conformity, b.conformity) << "seed " << seed;
    EXPECT_EQ(a.more_follows, b.more_follows) << "seed " << seed;
    EXPECT_EQ(a.next_object, b.next_object) << "seed " << seed;
    ASSERT_EQ(a.objects.size(), b.objects.size()) << "seed " << seed;
    for (std::size_t i = 0; i < a.objects.size(); ++i) {
        EXPECT_EQ(a.objects[i].id, b.objects[i].id) << "seed " << seed;
        EXPECT_EQ(a.objects[i].value, b.objects[i].value) << "seed " << seed;
    }
}

TEST(device_identification, the_request_is_a_stream_access_from_the_object_asked) {
    EXPECT_EQ(identification_request(identification_category::basic, 0),
              (std::array<std::uint8_t, 4>{0x2B, 0x0E, 0x01, 0x00}));
    EXPECT_EQ(identification_request(identification_category::regular, 3),
              (std::array<std::uint8_t, 4>{0x2B, 0x0E, 0x02, 0x03}));
}

// Literal bytes, independent of identification_answer.
TEST(device_identification, a_datasheet_answer_parses) {
    // Shaped like the example answer of Modbus Application Protocol v1.1b3, 6.21.
    const bytes pdu = {0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x03, 0x00, 0x16, 'C', 'o', 'm', 'p', 'a',
                       'n',  'y',  ' ',  'i',  'd',  'e',  'n',  't',  'i',  'f', 'i', 'c', 'a', 't',
                       'i',  'o',  'n',  0x01, 0x0F, 'P',  'r',  'o',  'd',  'u', 'c', 't', ' ', 'c',
                       'o',  'd',  'e',  ' ',  'X',  'X',  0x02, 0x05, 'V',  '2', '.', '1', '1'};
    const auto page = parse_identification(pdu, identification_category::basic);
    ASSERT_TRUE(page) << page.error().message();
    EXPECT_EQ(page->conformity, 0x01);
    EXPECT_FALSE(page->more_follows);
    ASSERT_EQ(page->objects.size(), 3u);
    EXPECT_EQ(page->objects[0].value, "Company identification");
    EXPECT_EQ(page->objects[1].value, "Product code XX");
    EXPECT_EQ(page->objects[2].value, "V2.11");
    EXPECT_EQ(object_name(0), "VendorName");
    EXPECT_EQ(object_name(6), "UserApplicationName");
    EXPECT_EQ(object_name(0x80), "");
}

TEST(device_identification, exceptions_and_malformed_answers_are_told_apart) {
    const auto basic = identification_category::basic;
    EXPECT_EQ(parse_identification(bytes{0xAB, 0x01}, basic).error(),
              make_error_code(modbus_errc::illegal_function));
    EXPECT_EQ(parse_identification(bytes{0xAB, 0x02}, basic).error(),
              make_error_code(modbus_errc::illegal_data_address));
    EXPECT_EQ(parse_identification(bytes{0xAB, 0x09}, basic).error(),
              make_error_code(modbus_errc::unknown_exception));
    const auto invalid = make_error_code(modbus_errc::invalid_response);
    const bytes empty_page = {0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x00};
    EXPECT_TRUE(parse_identification(empty_page, basic));
    auto wrong_mei = empty_page;
    wrong_mei[1] = 0x0D;
    EXPECT_EQ(parse_identification(wrong_mei, basic).error(), invalid);
    EXPECT_EQ(parse_identification(empty_page, identification_category::regular).error(), invalid);
    auto bad_more = empty_page;
    bad_more[4] = 0x01;
    EXPECT_EQ(parse_identification(bad_more, basic).error(), invalid);
    auto trailing = empty_page;
    trailing.push_back(0);
    EXPECT_EQ(parse_identification(trailing, basic).error(), invalid);
    EXPECT_EQ(parse_identification(bytes{0x03, 0x02, 0x00, 0x01}, basic).error(), invalid)
        << "another function";
    EXPECT_EQ(answer_extent(bytes{0x03}).state, extent_state::invalid);
    // A count of objects that would run past 253 bytes is invalid before
    // they arrive, not awaited forever.
    bytes huge = {0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0xFF};
    for (int i = 0; i < 2; ++i) {
        huge.push_back(static_cast<std::uint8_t>(i));
        huge.push_back(0xF0);
        huge.insert(huge.end(), 0xF0, 'x');
    }
    EXPECT_EQ(answer_extent(huge).state, extent_state::invalid);
}

TEST(device_identification, random_pages_frame_and_parse_back_on_rtu) {
    for (unsigned seed = 1; seed <= 3000; ++seed) {
        std::mt19937 rng(seed);
        const auto page = random_page(rng);
        const auto pdu = identification_answer(page);
        const auto unit = static_cast<std::uint8_t>(1 + rng() % 247);
        {
            const auto frame = rtu_frame(pdu, unit);
            const auto cut = [&](std::span<const std::uint8_t> f, std::uint8_t u) { return cut_rtu_answer(f, u); };
            for (std::size_t n = 0; n < frame.size(); ++n)
                ASSERT_EQ(cut(std::span(frame).first(n), unit).state, extent_state::incomplete)
                    << "seed " << seed << " prefix " << n;
            const auto whole = cut(frame, unit);
            ASSERT_EQ(whole.state, extent_state::complete) << "seed " << seed;
            const auto parsed = parse_identification(whole.pdu, page.category);
            ASSERT_TRUE(parsed) << "seed " << seed;
            expect_same(*parsed, page, seed);
            EXPECT_EQ(cut(frame, static_cast<std::uint8_t>(unit + 1)).state, extent_state::invalid)
                << "seed " << seed << ": another unit's answer";
            // One flipped bit in an RTU frame where framing cannot see it
            // (conformity, next object, the CRC): the CRC catches it.
            {
                auto bent = frame;
                const std::size_t places[] = {4, 6, bent.size() - 2, bent.size() - 1};
                bent[places[rng() % 4]] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
                const auto c = cut(bent, unit);
                EXPECT_NE(c.state, extent_state::complete) << "seed " << seed;
            }
        }
    }
}

}  // namespace
}  // namespace fieldbridge::modbus
