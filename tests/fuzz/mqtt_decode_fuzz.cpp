// libFuzzer target for the MQTT packet decoder, both protocol versions.
// Input: byte 0 picks the version (odd: 5.0, even: 3.1.1), byte 1 the size
// of the pieces the stream arrives in, the rest is the byte stream from a
// broker. Checked, beyond "no crash, no sanitizer report":
//  - decoding the stream in pieces gives the same packets, and ends the same
//    way (waiting for more or refusing), as decoding it whole;
//  - every packet the decoder accepts encodes again, and that encoding
//    decodes to the same packet, using all of its bytes;
//  - inbound (the client's receive buffer) with a small limit gives the same
//    items fed in pieces as fed whole; holds, of a packet not yet whole,
//    less than the limit or (a 3.1.1 PUBLISH over it) less than its head,
//    and nothing else but the piece just fed; turns only 3.1.1 PUBLISHes
//    over the limit into oversized heads (no payload); and until the first
//    of them gives exactly what the decoder gives with that limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/inbound.hpp"

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

struct received {
    std::vector<inbound_item> items;  // complete ones, then the end
    decode_status end = decode_status::need_more;
};

bool same(const inbound_item& a, const inbound_item& b) {
    return a.status == b.status && a.oversized == b.oversized && a.size == b.size && a.packet == b.packet;
}

// What inbound may hold of a packet not yet whole: less than the limit, or
// of a 3.1.1 PUBLISH over it, less than its head (fixed header, topic,
// packet id).
bool pending_within_bound(std::span<const std::uint8_t> tail, protocol_version v, std::size_t limit) {
    if (tail.size() < limit) return true;
    if (v != protocol_version::v3_1_1 || (tail[0] >> 4u) != 3) return false;
    std::size_t header = 1;
    while (header < tail.size() && header < 5 && (tail[header] & 0x80u) != 0) ++header;
    ++header;
    if (header + 2 > tail.size()) return false;  // cannot be: the limit is at least 16
    const std::size_t topic = (std::size_t{tail[header]} << 8u) | tail[header + 1];
    return tail.size() < header + 2 + topic + 2;
}

received receive(std::span<const std::uint8_t> bytes, std::size_t piece, protocol_version v, std::size_t limit) {
    received r;
    inbound in(v, limit);
    std::size_t fed = 0;
    std::size_t pending = 0;
    while (fed < bytes.size()) {
        const auto n = std::min(piece, bytes.size() - fed);
        in.feed(bytes.subspan(fed, n));
        // Only the packet not yet whole and the new bytes are held.
        if (in.buffered() > pending + n) std::abort();
        fed += n;
        for (;;) {
            auto item = in.next();
            if (item.status == decode_status::error) {
                r.end = decode_status::error;
                return r;
            }
            if (item.status == decode_status::need_more) break;
            if (item.oversized) {
                const auto* head = std::get_if<publish>(&item.packet);
                if (v != protocol_version::v3_1_1 || head == nullptr || !head->payload.empty() || item.size <= limit) {
                    std::abort();
                }
            } else if (item.size > limit) {
                std::abort();
            }
            r.items.push_back(std::move(item));
        }
        pending = in.pending();
        if (!in.skipping() && pending > 0 && !pending_within_bound(bytes.subspan(fed - pending, pending), v, limit)) {
            std::abort();
        }
        if (in.skipping() && pending != 0) std::abort();
    }
    return r;
}

void check_inbound(std::span<const std::uint8_t> stream, std::size_t piece, protocol_version v, std::size_t limit) {
    const auto whole = receive(stream, stream.size() + 1, v, limit);
    const auto pieces = receive(stream, piece, v, limit);
    if (whole.items.size() != pieces.items.size() || whole.end != pieces.end) std::abort();
    for (std::size_t i = 0; i < whole.items.size(); ++i) {
        if (!same(whole.items[i], pieces.items[i])) std::abort();
    }
    // Up to the first oversized head, what the decoder gives with that limit.
    decode_options o;
    o.version = v;
    o.max_packet_size = limit;
    const auto decoded = decode_whole(stream, o);
    std::size_t i = 0;
    for (; i < whole.items.size() && !whole.items[i].oversized; ++i) {
        if (i >= decoded.packets.size() || !(decoded.packets[i] == whole.items[i].packet)) std::abort();
    }
    if (i < whole.items.size()) return;
    if (decoded.packets.size() != i) std::abort();
    if (decoded.end == whole.end) return;
    // The decoder refuses a 3.1.1 PUBLISH over the limit as soon as its
    // length is known; inbound waits for its head first.
    std::size_t offset = 0;
    for (const auto& item : whole.items) offset += item.size;
    const auto tail = stream.subspan(offset);
    const bool head_coming = v == protocol_version::v3_1_1 && decoded.end == decode_status::error &&
                             whole.end == decode_status::need_more && !tail.empty() && (tail[0] >> 4u) == 3 &&
                             decode_publish_head(tail, v).status == decode_status::need_more;
    if (!head_coming) std::abort();
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

    check_inbound(stream, piece, o.version, 16 + (std::size_t{data[0]} >> 1u));

    for (const auto& p : whole.packets) {
        const auto bytes = encode(p, o.version);
        if (!bytes) std::abort();
        const auto again = decode(*bytes, o);
        if (!again.complete() || again.consumed != bytes->size() || !(again.packet == p)) std::abort();
    }
    return 0;
}
