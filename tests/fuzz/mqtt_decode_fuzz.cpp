// libFuzzer target for the MQTT packet decoder, both protocol versions.
// Input: byte 0 picks the version (odd: 5.0, even: 3.1.1), byte 1 the size
// of the pieces the stream arrives in, the rest is the byte stream from a
// broker. Checked, beyond "no crash, no sanitizer report":
//  - decoding the stream in pieces gives the same packets, and ends the same
//    way (waiting for more or refusing), as decoding it whole;
//  - every packet the decoder accepts encodes again, and that encoding
//    decodes to the same packet, using all of its bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "mqtt/codec.hpp"

namespace {

using namespace fieldbridge::mqtt;

struct outcome {
    std::vector<packet> packets;
    decode_status end = decode_status::need_more;
};

outcome decode_whole(std::span<const std::uint8_t> bytes, const decode_options& o) {
    outcome r;
    std::size_t offset = 0;
    for (;;) {
        auto d = decode(bytes.subspan(offset), o);
        if (d.status != decode_status::complete) {
            r.end = d.status;
            return r;
        }
        if (d.consumed == 0) std::abort();  // a complete packet has at least two bytes
        offset += d.consumed;
        r.packets.push_back(std::move(d.packet));
    }
}

outcome decode_in_pieces(std::span<const std::uint8_t> bytes, std::size_t piece, const decode_options& o) {
    outcome r;
    std::vector<std::uint8_t> buffer;
    std::size_t fed = 0;
    while (fed < bytes.size()) {
        const auto n = std::min(piece, bytes.size() - fed);
        buffer.insert(buffer.end(), bytes.begin() + static_cast<std::ptrdiff_t>(fed),
                      bytes.begin() + static_cast<std::ptrdiff_t>(fed + n));
        fed += n;
        for (;;) {
            auto d = decode(buffer, o);
            if (d.status == decode_status::error) {
                r.end = decode_status::error;
                return r;
            }
            if (d.status == decode_status::need_more) break;
            buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(d.consumed));
            r.packets.push_back(std::move(d.packet));
        }
    }
    r.end = decode_status::need_more;
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    decode_options o;
    o.version = (data[0] & 1) != 0 ? protocol_version::v5 : protocol_version::v3_1_1;
    o.max_packet_size = 1 << 20;  // as a deployment would cap it
    const std::size_t piece = std::size_t{data[1]} + 1;
    const std::span<const std::uint8_t> stream(data + 2, size - 2);

    const auto whole = decode_whole(stream, o);
    const auto pieces = decode_in_pieces(stream, piece, o);
    if (whole.packets != pieces.packets || whole.end != pieces.end) std::abort();

    for (const auto& p : whole.packets) {
        const auto bytes = encode(p, o.version);
        if (!bytes) std::abort();
        const auto again = decode(*bytes, o);
        if (!again.complete() || again.consumed != bytes->size() || !(again.packet == p)) std::abort();
    }
    return 0;
}
