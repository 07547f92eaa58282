// libFuzzer target for Read Device Identification answers (function 43/14)
// as a device's bytes arrive on a serial line: the RTU framing
// (cut_rtu_answer) and the parser. (Modbus TCP answers, identification
// included, are framed by mbap and parsed by pdu: modbus_answer_fuzz.)
// Byte 0: bit 1 mends the frame (the right CRC put after the answer) so
// that the fuzzer reaches the parser (bit 0 is not used); byte 1 the unit,
// byte 2 the category asked; the rest is the frame. Checked, beyond
// "no crash, no sanitizer report":
//  - the framing decides as bytes arrive and never changes its mind: once a
//    prefix is complete (with a PDU) or invalid, every longer prefix says
//    the same;
//  - a complete answer's PDU lies inside the frame and within 253 bytes;
//  - what parses encodes back to exactly the PDU it came from.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "drivers/modbus/crc16.hpp"
#include "drivers/modbus/device_identification.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fieldbridge::modbus;

void check(bool ok, const char* what) {
    if (ok)
        return;
    std::fprintf(stderr, "property broken: %s\n", what);
    std::abort();
}

// The frame with the CRC made right for what it holds.
void mend(std::vector<std::uint8_t>& frame) {
    if (frame.empty())
        return;
    const auto extent = answer_extent(std::span(frame).subspan(1));
    if (extent.state != extent_state::complete)
        return;
    frame.resize(1 + extent.length);
    const auto crc = crc16(frame);
    frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    frame.push_back(static_cast<std::uint8_t>(crc >> 8));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fieldbridge::fuzzing::fuzz_input in(data, size);
    const auto mode = in.byte();
    const auto unit = in.byte();
    const auto category = static_cast<identification_category>(1 + in.pick(3));
    const auto rest = in.rest();
    std::vector<std::uint8_t> frame(rest.begin(), rest.end());
    if ((mode & 2U) != 0)
        mend(frame);

    const auto cut = [&](std::size_t n) {
        const std::span<const std::uint8_t> f(frame.data(), n);
        return cut_rtu_answer(f, unit);
    };
    answer_cut decided{};
    bool have_decision = false;
    for (std::size_t n = 0; n <= frame.size(); ++n) {
        const auto c = cut(n);
        if (have_decision) {
            check(c.state == decided.state, "a decided frame changed its mind as bytes arrived");
            if (c.state == extent_state::complete)
                check(c.pdu.data() == decided.pdu.data() && c.pdu.size() == decided.pdu.size(),
                      "a complete answer's PDU moved as bytes arrived");
            continue;
        }
        if (c.state == extent_state::incomplete)
            continue;
        decided = c;
        have_decision = true;
        if (c.state != extent_state::complete)
            continue;
        check(c.pdu.data() >= frame.data() && c.pdu.data() + c.pdu.size() <= frame.data() + n,
              "the PDU lies outside the frame");
        check(!c.pdu.empty() && c.pdu.size() <= 253, "a PDU beyond 253 bytes");
        const auto page = parse_identification(c.pdu, category);
        if (page) {
            const auto again = identification_answer(*page);
            check(again.size() == c.pdu.size() && std::equal(again.begin(), again.end(), c.pdu.begin()),
                  "a parsed page does not encode back to its PDU");
        }
    }
    return 0;
}
