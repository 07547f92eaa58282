#include "drivers/modbus/device_identification.hpp"

#include "drivers/modbus/crc16.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

constexpr std::size_t max_pdu = 253;  // Modbus Application Protocol 4.1
constexpr std::uint8_t exception_flag = 0x80;
constexpr std::size_t header = 7;  // function, MEI type, category, conformity, more follows, next, count

}  // namespace

std::array<std::uint8_t, 4> identification_request(identification_category category, std::uint8_t first) {
    return {mei_function, mei_device_identification, static_cast<std::uint8_t>(category), first};
}

std::vector<std::uint8_t> identification_answer(const identification_page& page) {
    std::vector<std::uint8_t> pdu = {mei_function,
                                     mei_device_identification,
                                     static_cast<std::uint8_t>(page.category),
                                     page.conformity,
                                     static_cast<std::uint8_t>(page.more_follows ? 0xFF : 0x00),
                                     page.next_object,
                                     static_cast<std::uint8_t>(page.objects.size())};
    for (const auto& o : page.objects) {
        pdu.push_back(o.id);
        pdu.push_back(static_cast<std::uint8_t>(o.value.size()));
        pdu.insert(pdu.end(), o.value.begin(), o.value.end());
    }
    return pdu;
}

answer_extent_result answer_extent(std::span<const std::uint8_t> pdu) {
    if (pdu.empty())
        return {};
    if (pdu[0] == (mei_function | exception_flag))
        return pdu.size() < 2 ? answer_extent_result{} : answer_extent_result{extent_state::complete, 2};
    if (pdu[0] != mei_function)
        return {extent_state::invalid, 0};
    if (pdu.size() < header)
        return {};
    std::size_t at = header;
    for (unsigned n = 0; n < pdu[header - 1]; ++n) {
        if (pdu.size() < at + 2)
            return at + 2 > max_pdu ? answer_extent_result{extent_state::invalid, 0} : answer_extent_result{};
        at += 2U + pdu[at + 1];
        if (at > max_pdu)
            return {extent_state::invalid, 0};
    }
    if (pdu.size() < at)
        return {};
    return {extent_state::complete, at};
}

result<identification_page> parse_identification(std::span<const std::uint8_t> pdu,
                                                 identification_category category) {
    const auto extent = answer_extent(pdu);
    if (extent.state != extent_state::complete || extent.length != pdu.size())
        return fail(modbus_errc::invalid_response);
    if (pdu[0] != mei_function) {
        const std::uint8_t code = pdu[1];
        if ((code >= 1 && code <= 8) || code == 10 || code == 11)
            return fail(std::error_code(code, modbus_category()));
        return fail(modbus_errc::unknown_exception);
    }
    if (pdu[1] != mei_device_identification || pdu[2] != static_cast<std::uint8_t>(category) ||
        (pdu[4] != 0x00 && pdu[4] != 0xFF))
        return fail(modbus_errc::invalid_response);
    identification_page page;
    page.category = category;
    page.conformity = pdu[3];
    page.more_follows = pdu[4] == 0xFF;
    page.next_object = pdu[5];
    std::size_t at = header;
    for (unsigned n = 0; n < pdu[header - 1]; ++n) {
        const std::size_t length = pdu[at + 1];
        const auto* text = reinterpret_cast<const char*>(pdu.data() + at + 2);
        page.objects.push_back({pdu[at], std::string(text, length)});
        at += 2 + length;
    }
    return page;
}

answer_cut cut_rtu_answer(std::span<const std::uint8_t> frame, std::uint8_t unit) {
    if (frame.empty())
        return {};
    if (frame[0] != unit)
        return {extent_state::invalid, {}};
    const auto extent = answer_extent(frame.subspan(1));
    if (extent.state != extent_state::complete)
        return {extent.state, {}};
    const std::size_t total = 1 + extent.length + 2;
    if (frame.size() < total)
        return {};
    if (!crc_matches(frame.first(total)))
        return {extent_state::invalid, {}};
    return {extent_state::complete, frame.subspan(1, extent.length)};
}

std::string_view object_name(std::uint8_t id) {
    static constexpr std::string_view names[] = {"VendorName",         "ProductCode", "MajorMinorRevision",
                                                 "VendorUrl",          "ProductName", "ModelName",
                                                 "UserApplicationName"};
    return id < std::size(names) ? names[id] : std::string_view{};
}

}  // namespace fieldbridge::modbus
