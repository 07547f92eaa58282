// A second Modbus TCP master for tests: reads and writes a device on
// 127.0.0.1:port with a connection of its own, as another master on the
// network would, so that what a test checks does not come from the
// gateway's own codecs. One call, one connection.
#pragma once

#include <cstdint>
#include <vector>

namespace fieldbridge::testing {

// The holding registers address..address+count-1 of unit, or an empty
// vector when the device does not answer.
std::vector<std::uint16_t> read_holding_registers(std::uint16_t port, int unit, int address, int count);
// The coils, one 0/1 each, or an empty vector.
std::vector<std::uint16_t> read_coils(std::uint16_t port, int unit, int address, int count);
// Writes one holding register; false when it was not written.
bool write_holding_register(std::uint16_t port, int unit, int address, std::uint16_t value);

}  // namespace fieldbridge::testing
