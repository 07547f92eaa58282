#include "tests/support/modbus_master.hpp"

#include <modbus.h>

#include <functional>

namespace fieldbridge::testing {
namespace {

// Runs request on a fresh connection to unit; false when it cannot connect
// or the request fails.
bool with_connection(std::uint16_t port, int unit, const std::function<bool(modbus_t*)>& request) {
    modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
    if (ctx == nullptr) return false;
    bool ok = modbus_set_slave(ctx, unit) == 0 && modbus_connect(ctx) == 0 && request(ctx);
    modbus_close(ctx);
    modbus_free(ctx);
    return ok;
}

}  // namespace

std::vector<std::uint16_t> read_holding_registers(std::uint16_t port, int unit, int address, int count) {
    std::vector<std::uint16_t> out(static_cast<std::size_t>(count));
    const bool ok = with_connection(
        port, unit, [&](modbus_t* ctx) { return modbus_read_registers(ctx, address, count, out.data()) == count; });
    if (!ok) out.clear();
    return out;
}

std::vector<std::uint16_t> read_coils(std::uint16_t port, int unit, int address, int count) {
    std::vector<std::uint8_t> bits(static_cast<std::size_t>(count));
    const bool ok = with_connection(
        port, unit, [&](modbus_t* ctx) { return modbus_read_bits(ctx, address, count, bits.data()) == count; });
    if (!ok) return {};
    return std::vector<std::uint16_t>(bits.begin(), bits.end());
}

bool write_holding_register(std::uint16_t port, int unit, int address, std::uint16_t value) {
    return with_connection(port, unit,
                           [&](modbus_t* ctx) { return modbus_write_register(ctx, address, value) == 1; });
}

}  // namespace fieldbridge::testing
