// libFuzzer target for what a link that frames its own bytes makes of a
// device's answer: the MBAP header (mbap.hpp) and the answer PDU
// (pdu.hpp) to a request chosen from the input. Checked, beyond "no crash,
// no sanitizer report":
//  - a header either has no frame size or one within 8..260 bytes;
//  - an accepted answer to a read carries exactly the quantity asked (one
//    0/1 byte per bit, one word per register);
//  - what is not accepted is invalid_response or a Modbus exception code
//    (unknown_exception outside 1..11), never another error.
#include <array>
#include <cstdint>

#include "drivers/modbus/mbap.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/pdu.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fieldbridge;
using fuzzing::check;
using fuzzing::fuzz_input;

constexpr std::array functions{
    modbus::function_code::read_coils,           modbus::function_code::read_discrete_inputs,
    modbus::function_code::read_holding_registers, modbus::function_code::read_input_registers,
    modbus::function_code::write_single_coil,    modbus::function_code::write_single_register,
    modbus::function_code::write_multiple_coils, modbus::function_code::write_multiple_registers,
    modbus::function_code::mask_write_register,  modbus::function_code::read_device_identification,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in(data, size);
    std::array<std::uint8_t, modbus::mbap_header_size> header{};
    for (auto& b : header) b = in.byte();
    const auto h = modbus::parse_mbap_header(header);
    check(h.frame_size == 0 || (h.frame_size >= 8 && h.frame_size <= 260), "frame size within a Modbus frame");

    modbus::request r;
    r.function = functions[in.pick(functions.size())];
    r.address = in.u16();
    r.count = static_cast<std::uint16_t>(in.u16() % 2100);
    r.values.assign(in.pick(4) == 0 ? r.count : 2, 1);
    const auto pdu = in.rest();
    modbus::reply answer;
    const auto error = modbus::parse_answer(r, pdu, answer);
    if (!error) {
        if (r.function == modbus::function_code::read_coils || r.function == modbus::function_code::read_discrete_inputs) {
            check(answer.bits.size() == r.count, "bits read as many as asked");
            for (const auto b : answer.bits) check(b <= 1, "a bit is 0 or 1");
        } else if (r.function == modbus::function_code::read_holding_registers ||
                   r.function == modbus::function_code::read_input_registers) {
            check(answer.registers.size() == r.count, "registers read as many as asked");
        }
        return 0;
    }
    check(error == make_error_code(modbus::modbus_errc::invalid_response) || modbus::is_exception(error) ||
              error == make_error_code(modbus::modbus_errc::unknown_exception),
          "an answer not accepted is invalid or an exception");
    return 0;
}
