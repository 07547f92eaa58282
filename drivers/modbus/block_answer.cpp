#include "drivers/modbus/block_answer.hpp"

#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/value_codec.hpp"

namespace fieldbridge::modbus {
namespace {

// Where the point's first register (or bit) sits in an answer of `size`
// elements starting at r.start, if all of its `count` elements are in it.
bool locate(const read_request& r, const config::point& p, std::size_t count, std::size_t size, std::size_t& at) {
    if (p.address < r.start) return false;
    at = static_cast<std::size_t>(p.address - r.start);
    return count <= size && at <= size - count;
}

}  // namespace

result<register_words> point_registers(const read_request& r, const config::point& p,
                                       std::span<const std::uint16_t> registers) {
    const std::size_t n = modbus::register_count(p);
    std::size_t at = 0;
    if (n == 0 || !locate(r, p, n, registers.size(), at)) return fail(modbus_errc::wrong_register_count);
    return register_words(registers.subspan(at, n));
}

result<register_words> point_bit(const read_request& r, const config::point& p,
                                 std::span<const std::uint8_t> bits) {
    std::size_t at = 0;
    if (!locate(r, p, 1, bits.size(), at)) return fail(modbus_errc::wrong_register_count);
    return register_words{static_cast<std::uint16_t>(bits[at] != 0 ? 1 : 0)};
}

}  // namespace fieldbridge::modbus
