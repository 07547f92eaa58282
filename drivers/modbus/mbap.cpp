#include "drivers/modbus/mbap.hpp"

#include "drivers/modbus/pdu.hpp"

namespace fieldbridge::modbus {

std::vector<std::uint8_t> mbap_frame(std::uint16_t transaction, std::uint8_t unit,
                                     std::span<const std::uint8_t> pdu) {
    const auto length = static_cast<std::uint16_t>(pdu.size() + 1);  // the unit id and the PDU
    std::vector<std::uint8_t> adu;
    adu.reserve(mbap_header_size + pdu.size());
    adu.push_back(static_cast<std::uint8_t>(transaction >> 8));
    adu.push_back(static_cast<std::uint8_t>(transaction & 0xFF));
    adu.push_back(0);
    adu.push_back(0);
    adu.push_back(static_cast<std::uint8_t>(length >> 8));
    adu.push_back(static_cast<std::uint8_t>(length & 0xFF));
    adu.push_back(unit);
    adu.insert(adu.end(), pdu.begin(), pdu.end());
    return adu;
}

mbap_header parse_mbap_header(std::span<const std::uint8_t, mbap_header_size> header) {
    mbap_header h;
    h.transaction = static_cast<std::uint16_t>((header[0] << 8) | header[1]);
    h.unit = header[6];
    const std::size_t length = static_cast<std::size_t>((header[4] << 8) | header[5]);
    if (header[2] != 0 || header[3] != 0 || length < 2 || length > max_pdu_size + 1) return h;
    h.frame_size = mbap_header_size - 1 + length;
    return h;
}

}  // namespace fieldbridge::modbus
