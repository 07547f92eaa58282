#include "drivers/modbus/pdu.hpp"

#include "drivers/modbus/device_identification.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {
namespace {

// Quantities one request may carry (Modbus Application Protocol v1.1b3, 6).
constexpr std::uint16_t max_read_registers = 125;
constexpr std::uint16_t max_read_bits = 2000;
constexpr std::uint16_t max_write_registers = 123;
constexpr std::uint16_t max_write_coils = 1968;

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

bool is_read(function_code f) {
    return f == function_code::read_coils || f == function_code::read_discrete_inputs ||
           f == function_code::read_holding_registers || f == function_code::read_input_registers;
}

bool reads_bits(function_code f) {
    return f == function_code::read_coils || f == function_code::read_discrete_inputs;
}

std::error_code exception_code(std::uint8_t code) {
    if (code == 0 || code == 9 || code > 11) return make_error_code(modbus_errc::unknown_exception);
    return make_error_code(static_cast<modbus_errc>(code));
}

std::error_code invalid() { return make_error_code(modbus_errc::invalid_response); }

}  // namespace

result<std::vector<std::uint8_t>> request_pdu(const request& r) {
    std::vector<std::uint8_t> pdu;
    pdu.push_back(static_cast<std::uint8_t>(r.function));
    const auto in_range = [&](std::uint16_t most) { return r.count >= 1 && r.count <= most; };
    switch (r.function) {
        case function_code::read_coils:
        case function_code::read_discrete_inputs:
        case function_code::read_holding_registers:
        case function_code::read_input_registers:
            if (!in_range(reads_bits(r.function) ? max_read_bits : max_read_registers))
                return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.count);
            return pdu;
        case function_code::write_single_coil:
            if (r.values.size() != 1) return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.values[0] != 0 ? 0xFF00 : 0x0000);
            return pdu;
        case function_code::write_single_register:
            if (r.values.size() != 1) return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.values[0]);
            return pdu;
        case function_code::write_multiple_coils: {
            if (!in_range(max_write_coils) || r.values.size() != r.count) return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.count);
            const auto bytes = static_cast<std::uint8_t>((r.count + 7) / 8);
            pdu.push_back(bytes);
            const auto first = pdu.size();
            pdu.resize(first + bytes, 0);
            for (std::size_t i = 0; i < r.values.size(); ++i) {
                if (r.values[i] != 0) pdu[first + i / 8] = static_cast<std::uint8_t>(pdu[first + i / 8] | (1u << (i % 8)));
            }
            return pdu;
        }
        case function_code::write_multiple_registers:
            if (!in_range(max_write_registers) || r.values.size() != r.count)
                return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.count);
            pdu.push_back(static_cast<std::uint8_t>(2 * r.count));
            for (const auto v : r.values) put16(pdu, v);
            return pdu;
        case function_code::mask_write_register:
            if (r.values.size() != 2) return fail(modbus_errc::wrong_register_count);
            put16(pdu, r.address);
            put16(pdu, r.values[0]);
            put16(pdu, r.values[1]);
            return pdu;
        case function_code::read_device_identification: {
            const auto ask = identification_request(r.category, static_cast<std::uint8_t>(r.address));
            return std::vector<std::uint8_t>(ask.begin(), ask.end());
        }
    }
    return fail(modbus_errc::invalid_point);
}

std::error_code parse_answer(const request& r, std::span<const std::uint8_t> pdu, reply& answer) {
    if (pdu.empty()) return invalid();
    const auto asked = static_cast<std::uint8_t>(r.function);
    if (pdu[0] == (asked | 0x80u)) return pdu.size() == 2 ? exception_code(pdu[1]) : invalid();
    if (pdu[0] != asked) return invalid();
    if (r.function == function_code::read_device_identification) {
        auto page = parse_identification(pdu, r.category);
        if (!page) return page.error();
        answer.identification = std::move(*page);
        return {};
    }
    if (is_read(r.function)) {
        const bool bits = reads_bits(r.function);
        const std::size_t bytes = bits ? (r.count + 7u) / 8u : 2u * r.count;
        if (pdu.size() != 2 + bytes || pdu[1] != bytes) return invalid();
        const auto data = pdu.subspan(2);
        if (bits) {
            answer.bits.resize(r.count);
            for (std::size_t i = 0; i < r.count; ++i) answer.bits[i] = static_cast<std::uint8_t>((data[i / 8] >> (i % 8)) & 1u);
        } else {
            answer.registers.resize(r.count);
            for (std::size_t i = 0; i < r.count; ++i) answer.registers[i] = get16(data, 2 * i);
        }
        return {};
    }
    // A write: the address and the value or quantity echoed.
    const std::size_t size = r.function == function_code::mask_write_register ? 7 : 5;
    if (pdu.size() != size) return invalid();
    if (r.function == function_code::write_multiple_coils || r.function == function_code::write_multiple_registers) {
        if (get16(pdu, 1) != r.address || get16(pdu, 3) != r.count) return invalid();
    }
    return {};
}

}  // namespace fieldbridge::modbus
