// inbound: the bytes the broker sent, cut into packets, with a bound on
// what is kept. A packet up to `limit` bytes is buffered whole and decoded;
// a PUBLISH over it (3.1.1, which has no way to tell the broker the limit)
// is not: once its topic and packet id are in, it comes out as an
// oversized head (no payload) that the session acknowledges without
// delivering, and the rest of its bytes are dropped as they arrive. Any
// other packet over the limit, and with 5.0 (whose CONNECT tells the broker
// the limit, [MQTT-3.1.2-24]) a PUBLISH over it too, is an error. So at
// most `limit` bytes plus a topic (64 KiB) plus one fed chunk are kept.
// Pure: no I/O, one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"

namespace fieldbridge::mqtt {

struct inbound_item {
    decode_status status = decode_status::need_more;
    mqtt::packet packet;        // complete: the packet; oversized: a publish without its payload
    bool oversized = false;     // a PUBLISH over the limit: acknowledge, never deliver
    std::size_t size = 0;       // complete: the packet's size in bytes on the wire
    std::error_code error;      // error: why the stream cannot go on [MQTT-4.8.0-1]
};

class inbound {
public:
    inbound(protocol_version version, std::size_t limit);

    // Adds received bytes (dropping what belongs to an oversized PUBLISH).
    void feed(std::span<const std::uint8_t> bytes);
    // The next packet, oversized head, need_more, or error (after an error
    // the stream is not read further: the connection must close).
    inbound_item next();
    // Bytes held now, decoded ones not yet let go included (they go with the
    // next feed()); the bound above holds for it right after feed().
    std::size_t buffered() const noexcept { return buffer_.size(); }
    // Bytes of a packet not yet whole.
    std::size_t pending() const noexcept { return buffer_.size() - offset_; }
    // Dropping the rest of an oversized PUBLISH.
    bool skipping() const noexcept { return skip_ > 0; }
    // A new link: nothing kept, nothing being dropped.
    void clear();

private:
    protocol_version version_;
    std::size_t limit_;
    std::vector<std::uint8_t> buffer_;
    std::size_t offset_ = 0;  // the bytes before it were decoded
    std::size_t skip_ = 0;    // bytes of an oversized PUBLISH still to drop
};

}  // namespace fieldbridge::mqtt
