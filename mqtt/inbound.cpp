#include "mqtt/inbound.hpp"

#include <algorithm>

#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {

inbound::inbound(protocol_version version, std::size_t limit) : version_(version), limit_(limit) {}

void inbound::feed(std::span<const std::uint8_t> bytes) {
    const auto dropped = std::min(skip_, bytes.size());
    skip_ -= dropped;
    bytes = bytes.subspan(dropped);
    // What was decoded goes before new bytes come in.
    if (offset_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
        offset_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

inbound_item inbound::next() {
    inbound_item item;
    if (skip_ > 0) return item;  // the rest of an oversized PUBLISH is still coming
    const std::span<const std::uint8_t> rest = std::span<const std::uint8_t>(buffer_).subspan(offset_);
    auto r = decode(rest, decode_options{version_, limit_});
    if (r.status == decode_status::complete) {
        offset_ += r.consumed;
        item.status = decode_status::complete;
        item.packet = std::move(r.packet);
        item.size = r.consumed;
        return item;
    }
    if (r.status == decode_status::error && r.error == make_error_code(mqtt_errc::packet_too_large) &&
        version_ == protocol_version::v3_1_1 && (rest[0] >> 4u) == static_cast<unsigned>(packet_type::publish)) {
        auto head = decode_publish_head(rest, version_);
        if (head.status != decode_status::complete) {
            item.status = head.status;
            item.error = head.error;
            return item;
        }
        if (rest.size() >= head.consumed) {
            offset_ += head.consumed;  // all of it is here: what follows it stays
        } else {
            // Everything of it that is here goes; the rest is dropped as it comes.
            skip_ = head.consumed - rest.size();
            buffer_.clear();
            offset_ = 0;
        }
        item.status = decode_status::complete;
        item.oversized = true;
        item.packet = std::move(head.packet);
        item.size = head.consumed;
        return item;
    }
    item.status = r.status;
    item.error = r.error;
    return item;
}

void inbound::clear() {
    buffer_.clear();
    offset_ = 0;
    skip_ = 0;
}

}  // namespace fieldbridge::mqtt
