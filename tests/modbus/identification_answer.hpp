// identification_answer: a device's Read Device Identification answer PDU
// for a page, as the specification lays it out — the reference the framing
// and parsing tests and the fuzz target check device_identification
// against. Header-only, for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/modbus/device_identification.hpp"

namespace fieldbridge::modbus::testing {

inline std::vector<std::uint8_t> answer_pdu(const identification_page& page) {
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

}  // namespace fieldbridge::modbus::testing
