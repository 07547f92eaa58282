// device_identity: what a device says about itself through Read Device
// Identification (function 43, MEI type 14): one answer's page of objects.
// Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fieldbridge::modbus {

// The objects asked for (the Read Device ID code of a stream access).
enum class identification_category : std::uint8_t {
    basic = 1,       // VendorName, ProductCode, MajorMinorRevision (mandatory)
    regular = 2,     // VendorUrl, ProductName, ModelName, UserApplicationName
    extended = 3,    // private objects 0x80..0xFF
    individual = 4,  // the one object asked for
};

struct identification_object {
    std::uint8_t id = 0;  // 0 VendorName, 1 ProductCode, 2 MajorMinorRevision, ...
    std::string value;    // as sent (ASCII by the specification; bytes kept as they are)
};

// One answer. A device whose objects do not fit one answer says so with
// more_follows and the object to ask for next.
struct identification_page {
    identification_category category = identification_category::basic;
    std::uint8_t conformity = 0;  // the device's conformity level (0x01..0x03, 0x81..0x83)
    bool more_follows = false;
    std::uint8_t next_object = 0;  // meaningful when more_follows
    std::vector<identification_object> objects;
};

}  // namespace fieldbridge::modbus
