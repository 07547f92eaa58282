#include "mqtt/codec.hpp"

#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "mqtt/error.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

namespace fieldbridge::mqtt {

packet_type type_of(const packet& p) noexcept {
    // The variant alternatives are declared in packet type order.
    return static_cast<packet_type>(p.index() + 1);
}

const char* name_of(packet_type t) noexcept {
    switch (t) {
        case packet_type::connect:
            return "CONNECT";
        case packet_type::connack:
            return "CONNACK";
        case packet_type::publish:
            return "PUBLISH";
        case packet_type::puback:
            return "PUBACK";
        case packet_type::pubrec:
            return "PUBREC";
        case packet_type::pubrel:
            return "PUBREL";
        case packet_type::pubcomp:
            return "PUBCOMP";
        case packet_type::subscribe:
            return "SUBSCRIBE";
        case packet_type::suback:
            return "SUBACK";
        case packet_type::unsubscribe:
            return "UNSUBSCRIBE";
        case packet_type::unsuback:
            return "UNSUBACK";
        case packet_type::pingreq:
            return "PINGREQ";
        case packet_type::pingresp:
            return "PINGRESP";
        case packet_type::disconnect:
            return "DISCONNECT";
    }
    return "?";
}

namespace {

constexpr std::uint8_t u8(unsigned v) { return static_cast<std::uint8_t>(v); }

// ---------------------------------------------------------------- encoding

// Body writer: the variable header and payload, before the fixed header is
// known.
class body_writer {
public:
    void byte(std::uint8_t b) { out_.push_back(b); }
    void u16(std::uint16_t v) {
        out_.push_back(u8(v >> 8u));
        out_.push_back(u8(v & 0xFFu));
    }
    // A length-prefixed field [MQTT-1.5.3]; binary data shares the format.
    std::error_code binary(std::string_view data) {
        if (data.size() > 0xFFFF) return mqtt_errc::string_too_long;
        u16(static_cast<std::uint16_t>(data.size()));
        out_.insert(out_.end(), data.begin(), data.end());
        return {};
    }
    std::error_code text(std::string_view s) {
        if (auto ec = check_mqtt_string(s)) return ec;
        return binary(s);
    }
    void raw(std::string_view data) { out_.insert(out_.end(), data.begin(), data.end()); }
    std::vector<std::uint8_t>& bytes() { return out_; }

private:
    std::vector<std::uint8_t> out_;
};

result<std::vector<std::uint8_t>> frame(std::uint8_t first_byte, std::vector<std::uint8_t> body) {
    if (body.size() > max_remaining_length) return fail(mqtt_errc::packet_too_large);
    std::vector<std::uint8_t> out;
    out.reserve(body.size() + 5);
    out.push_back(first_byte);
    // Variable length integer, 7 bits per byte, least significant first [MQTT-2.2.3].
    auto length = body.size();
    do {
        std::uint8_t digit = u8(length % 128);
        length /= 128;
        if (length > 0) digit = u8(digit | 0x80u);
        out.push_back(digit);
    } while (length > 0);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

std::uint8_t header(packet_type t, unsigned flags = 0) { return u8((static_cast<unsigned>(t) << 4u) | flags); }

std::error_code check_packet_id(std::uint16_t id) {
    return id == 0 ? make_error_code(mqtt_errc::zero_packet_id) : std::error_code{};  // [MQTT-2.3.1-1]
}

result<std::vector<std::uint8_t>> encode_connect(const connect& c) {
    body_writer w;
    (void)w.text("MQTT");  // protocol name [MQTT-3.1.2-1]
    w.byte(static_cast<std::uint8_t>(protocol_version::v3_1_1));
    unsigned flags = 0;
    if (c.clean_session) flags |= 0x02u;
    if (c.will) {
        if (static_cast<unsigned>(c.will->qos) > 2) return fail(mqtt_errc::invalid_qos);
        flags |= 0x04u | (static_cast<unsigned>(c.will->qos) << 3u);
        if (c.will->retain) flags |= 0x20u;
    }
    // A password without a user name is not allowed in 3.1.1 [MQTT-3.1.2-22].
    if (c.password && !c.username) return fail(mqtt_errc::malformed_packet);
    if (c.password) flags |= 0x40u;
    if (c.username) flags |= 0x80u;
    w.byte(u8(flags));
    w.u16(c.keepalive_seconds);
    if (auto ec = w.text(c.client_id)) return fail(ec);
    if (c.will) {
        if (auto ec = check_topic_name(c.will->topic)) return fail(ec);
        if (auto ec = w.text(c.will->topic)) return fail(ec);
        if (auto ec = w.binary(c.will->payload)) return fail(ec);
    }
    if (c.username) {
        if (auto ec = w.text(*c.username)) return fail(ec);
    }
    if (c.password) {
        if (auto ec = w.binary(*c.password)) return fail(ec);
    }
    return frame(header(packet_type::connect), std::move(w.bytes()));
}

result<std::vector<std::uint8_t>> encode_publish(const publish& p) {
    const auto q = static_cast<unsigned>(p.qos);
    if (q > 2) return fail(mqtt_errc::invalid_qos);
    if (p.dup && q == 0) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.3.1-2]
    if (auto ec = check_topic_name(p.topic)) return fail(ec);
    body_writer w;
    if (auto ec = w.text(p.topic)) return fail(ec);
    if (q > 0) {
        if (auto ec = check_packet_id(p.packet_id)) return fail(ec);
        w.u16(p.packet_id);
    }
    w.raw(p.payload);
    const unsigned flags = (p.dup ? 0x08u : 0u) | (q << 1u) | (p.retain ? 0x01u : 0u);
    return frame(header(packet_type::publish, flags), std::move(w.bytes()));
}

result<std::vector<std::uint8_t>> encode_ack(packet_type t, std::uint16_t id, unsigned flags = 0) {
    if (auto ec = check_packet_id(id)) return fail(ec);
    body_writer w;
    w.u16(id);
    return frame(header(t, flags), std::move(w.bytes()));
}

result<std::vector<std::uint8_t>> encode_subscribe(const subscribe& s) {
    if (auto ec = check_packet_id(s.packet_id)) return fail(ec);
    if (s.subscriptions.empty()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.8.3-3]
    body_writer w;
    w.u16(s.packet_id);
    for (const auto& sub : s.subscriptions) {
        if (auto ec = check_topic_filter(sub.filter)) return fail(ec);
        if (static_cast<unsigned>(sub.max_qos) > 2) return fail(mqtt_errc::invalid_qos);
        if (auto ec = w.text(sub.filter)) return fail(ec);
        w.byte(static_cast<std::uint8_t>(sub.max_qos));
    }
    // SUBSCRIBE carries reserved flags 0010 [MQTT-3.8.1-1].
    return frame(header(packet_type::subscribe, 0x2), std::move(w.bytes()));
}

result<std::vector<std::uint8_t>> encode_suback(const suback& s) {
    if (auto ec = check_packet_id(s.packet_id)) return fail(ec);
    body_writer w;
    w.u16(s.packet_id);
    for (auto code : s.return_codes) {
        if (code > 2 && code != suback_failure) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.9.3-2]
        w.byte(code);
    }
    return frame(header(packet_type::suback), std::move(w.bytes()));
}

result<std::vector<std::uint8_t>> encode_unsubscribe(const unsubscribe& u) {
    if (auto ec = check_packet_id(u.packet_id)) return fail(ec);
    if (u.filters.empty()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.10.3-2]
    body_writer w;
    w.u16(u.packet_id);
    for (const auto& f : u.filters) {
        if (auto ec = check_topic_filter(f)) return fail(ec);
        if (auto ec = w.text(f)) return fail(ec);
    }
    // UNSUBSCRIBE carries reserved flags 0010 [MQTT-3.10.1-1].
    return frame(header(packet_type::unsubscribe, 0x2), std::move(w.bytes()));
}

// ---------------------------------------------------------------- decoding

// Bounds-checked reader over one packet body. Every read either succeeds or
// records truncated_field; nothing reads past `data`.
class body_reader {
public:
    explicit body_reader(std::span<const std::uint8_t> data) : data_(data) {}

    std::size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }

    result<std::uint8_t> byte() {
        if (remaining() < 1) return fail(mqtt_errc::truncated_field);
        return data_[pos_++];
    }
    result<std::uint16_t> u16() {
        if (remaining() < 2) return fail(mqtt_errc::truncated_field);
        const auto v = static_cast<std::uint16_t>((data_[pos_] << 8u) | data_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    result<std::uint16_t> packet_id() {
        auto id = u16();
        if (id && *id == 0) return fail(mqtt_errc::zero_packet_id);  // [MQTT-2.3.1-1]
        return id;
    }
    result<std::string> binary() {
        auto length = u16();
        if (!length) return fail(length.error());
        if (remaining() < *length) return fail(mqtt_errc::truncated_field);
        std::string out(reinterpret_cast<const char*>(data_.data() + pos_), *length);
        pos_ += *length;
        return out;
    }
    result<std::string> text() {
        auto s = binary();
        if (!s) return s;
        if (auto ec = check_mqtt_string(*s)) return fail(ec);  // [MQTT-1.5.3-1], [MQTT-1.5.3-2]
        return s;
    }
    std::string rest() {
        std::string out(reinterpret_cast<const char*>(data_.data() + pos_), remaining());
        pos_ = data_.size();
        return out;
    }

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

// Shorthand for "unwrap or return the error" inside the decode functions.
#define FIELDBRIDGE_TRY(var, expr)             \
    auto var##_result = (expr);                \
    if (!var##_result) return fail(var##_result.error()); \
    auto var = std::move(*var##_result)

result<packet> finish(body_reader& r, packet p) {
    if (!r.at_end()) return fail(mqtt_errc::trailing_bytes);
    return packet{std::move(p)};
}

result<packet> decode_connect(body_reader& r) {
    FIELDBRIDGE_TRY(name, r.text());
    FIELDBRIDGE_TRY(level, r.byte());
    if (name != "MQTT") return fail(mqtt_errc::protocol_error);  // [MQTT-3.1.2-1]
    if (level != static_cast<std::uint8_t>(protocol_version::v3_1_1)) {
        return fail(mqtt_errc::unacceptable_protocol_version);  // [MQTT-3.1.2-2]
    }
    FIELDBRIDGE_TRY(flags, r.byte());
    if (flags & 0x01u) return fail(mqtt_errc::malformed_packet);  // reserved flag [MQTT-3.1.2-3]
    connect c;
    c.clean_session = (flags & 0x02u) != 0;
    const bool has_will = (flags & 0x04u) != 0;
    const unsigned will_qos = (flags >> 3u) & 0x3u;
    const bool will_retain = (flags & 0x20u) != 0;
    const bool has_password = (flags & 0x40u) != 0;
    const bool has_username = (flags & 0x80u) != 0;
    if (will_qos == 3) return fail(mqtt_errc::invalid_qos);  // [MQTT-3.1.2-14]
    if (!has_will && (will_qos != 0 || will_retain)) {
        return fail(mqtt_errc::malformed_packet);  // [MQTT-3.1.2-13], [MQTT-3.1.2-15]
    }
    if (has_password && !has_username) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.1.2-22]
    FIELDBRIDGE_TRY(keepalive, r.u16());
    c.keepalive_seconds = keepalive;
    FIELDBRIDGE_TRY(client_id, r.text());
    c.client_id = std::move(client_id);
    if (has_will) {
        FIELDBRIDGE_TRY(topic, r.text());
        FIELDBRIDGE_TRY(payload, r.binary());
        c.will = will_message{std::move(topic), std::move(payload), static_cast<qos>(will_qos), will_retain, {}};
    }
    if (has_username) {
        FIELDBRIDGE_TRY(username, r.text());
        c.username = std::move(username);
    }
    if (has_password) {
        FIELDBRIDGE_TRY(password, r.binary());
        c.password = std::move(password);
    }
    return finish(r, std::move(c));
}

result<packet> decode_connack(body_reader& r) {
    FIELDBRIDGE_TRY(flags, r.byte());
    if (flags & 0xFEu) return fail(mqtt_errc::malformed_packet);  // reserved bits 7-1 [MQTT-3.2.2.1]
    FIELDBRIDGE_TRY(code, r.byte());
    return finish(r, connack{(flags & 0x01u) != 0, code, {}});
}

result<packet> decode_publish(body_reader& r, unsigned flags) {
    publish p;
    p.dup = (flags & 0x08u) != 0;
    p.retain = (flags & 0x01u) != 0;
    const unsigned q = (flags >> 1u) & 0x3u;
    if (q == 3) return fail(mqtt_errc::invalid_qos);           // [MQTT-3.3.1-4]
    if (q == 0 && p.dup) return fail(mqtt_errc::bad_fixed_header_flags);  // [MQTT-3.3.1-2]
    p.qos = static_cast<qos>(q);
    FIELDBRIDGE_TRY(topic, r.text());
    if (topic.find_first_of("+#") != std::string::npos) return fail(mqtt_errc::invalid_topic);  // [MQTT-3.3.2-2]
    p.topic = std::move(topic);
    if (q > 0) {
        FIELDBRIDGE_TRY(id, r.packet_id());
        p.packet_id = id;
    }
    p.payload = r.rest();
    return packet{std::move(p)};
}

template <class Ack>
result<packet> decode_ack(body_reader& r) {
    FIELDBRIDGE_TRY(id, r.packet_id());
    Ack a;
    a.packet_id = id;
    return finish(r, std::move(a));
}

result<packet> decode_subscribe(body_reader& r) {
    subscribe s;
    FIELDBRIDGE_TRY(id, r.packet_id());
    s.packet_id = id;
    if (r.at_end()) return fail(mqtt_errc::malformed_packet);  // at least one filter [MQTT-3.8.3-3]
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(filter, r.text());
        FIELDBRIDGE_TRY(options, r.byte());
        if (options & 0xFCu) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.8.3-4]
        if (options == 3) return fail(mqtt_errc::invalid_qos);
        s.subscriptions.push_back(subscription{std::move(filter), static_cast<qos>(options)});
    }
    return packet{std::move(s)};
}

result<packet> decode_suback(body_reader& r) {
    suback s;
    FIELDBRIDGE_TRY(id, r.packet_id());
    s.packet_id = id;
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(code, r.byte());
        if (code > 2 && code != suback_failure) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.9.3-2]
        s.return_codes.push_back(code);
    }
    return packet{std::move(s)};
}

result<packet> decode_unsubscribe(body_reader& r) {
    unsubscribe u;
    FIELDBRIDGE_TRY(id, r.packet_id());
    u.packet_id = id;
    if (r.at_end()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.10.3-2]
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(filter, r.text());
        u.filters.push_back(std::move(filter));
    }
    return packet{std::move(u)};
}

template <class Empty>
result<packet> decode_empty(body_reader& r) {
    return finish(r, Empty{});
}

#undef FIELDBRIDGE_TRY

// The flags each packet type must carry in bits 3-0 of byte 1 [MQTT-2.2.2-1];
// PUBLISH flags are checked by decode_publish.
bool fixed_header_flags_valid(packet_type t, unsigned flags) {
    switch (t) {
        case packet_type::publish:
            return true;
        case packet_type::pubrel:
        case packet_type::subscribe:
        case packet_type::unsubscribe:
            return flags == 0x2;
        default:
            return flags == 0;
    }
}

}  // namespace

result<std::vector<std::uint8_t>> encode(const packet& p, protocol_version version) {
    if (version != protocol_version::v3_1_1) return fail(mqtt_errc::unsupported_protocol_version);
    return std::visit(
        [](const auto& v) -> result<std::vector<std::uint8_t>> {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, connect>) {
                return encode_connect(v);
            } else if constexpr (std::is_same_v<T, connack>) {
                if (v.session_present && v.return_code != 0) return fail(mqtt_errc::malformed_packet);
                return frame(header(packet_type::connack), {u8(v.session_present ? 1 : 0), v.return_code});
            } else if constexpr (std::is_same_v<T, publish>) {
                return encode_publish(v);
            } else if constexpr (std::is_same_v<T, puback>) {
                return encode_ack(packet_type::puback, v.packet_id);
            } else if constexpr (std::is_same_v<T, pubrec>) {
                return encode_ack(packet_type::pubrec, v.packet_id);
            } else if constexpr (std::is_same_v<T, pubrel>) {
                return encode_ack(packet_type::pubrel, v.packet_id, 0x2);  // [MQTT-3.6.1-1]
            } else if constexpr (std::is_same_v<T, pubcomp>) {
                return encode_ack(packet_type::pubcomp, v.packet_id);
            } else if constexpr (std::is_same_v<T, subscribe>) {
                return encode_subscribe(v);
            } else if constexpr (std::is_same_v<T, suback>) {
                return encode_suback(v);
            } else if constexpr (std::is_same_v<T, unsubscribe>) {
                return encode_unsubscribe(v);
            } else if constexpr (std::is_same_v<T, unsuback>) {
                return encode_ack(packet_type::unsuback, v.packet_id);
            } else if constexpr (std::is_same_v<T, pingreq>) {
                return frame(header(packet_type::pingreq), {});
            } else if constexpr (std::is_same_v<T, pingresp>) {
                return frame(header(packet_type::pingresp), {});
            } else {
                static_assert(std::is_same_v<T, disconnect>);
                return frame(header(packet_type::disconnect), {});
            }
        },
        p);
}

decode_result decode(std::span<const std::uint8_t> bytes, const decode_options& options) {
    decode_result out;
    const auto error = [&out](std::error_code ec) {
        out.status = decode_status::error;
        out.error = ec;
        return out;
    };
    if (options.version != protocol_version::v3_1_1) return error(mqtt_errc::unsupported_protocol_version);
    if (bytes.empty()) return out;

    const unsigned type_bits = bytes[0] >> 4u;
    const unsigned flags = bytes[0] & 0x0Fu;
    if (type_bits == 0 || type_bits == 15) return error(mqtt_errc::unknown_packet_type);
    const auto type = static_cast<packet_type>(type_bits);
    // [MQTT-2.2.2-2] wrong reserved flags mean the connection is closed.
    if (!fixed_header_flags_valid(type, flags)) return error(mqtt_errc::bad_fixed_header_flags);

    // Remaining length: at most 4 bytes [MQTT-2.2.3].
    std::size_t remaining = 0;
    std::size_t header_size = 1;
    unsigned shift = 0;
    while (true) {
        if (header_size >= bytes.size()) return out;  // need more
        const std::uint8_t digit = bytes[header_size++];
        remaining |= static_cast<std::size_t>(digit & 0x7Fu) << shift;
        if ((digit & 0x80u) == 0) break;
        shift += 7;
        if (header_size == 5) return error(mqtt_errc::malformed_remaining_length);
    }
    if (header_size + remaining > options.max_packet_size) return error(mqtt_errc::packet_too_large);
    if (bytes.size() - header_size < remaining) return out;  // need more

    body_reader r(bytes.subspan(header_size, remaining));
    result<packet> decoded = fail(mqtt_errc::unknown_packet_type);
    switch (type) {
        case packet_type::connect:
            decoded = decode_connect(r);
            break;
        case packet_type::connack:
            decoded = decode_connack(r);
            break;
        case packet_type::publish:
            decoded = decode_publish(r, flags);
            break;
        case packet_type::puback:
            decoded = decode_ack<puback>(r);
            break;
        case packet_type::pubrec:
            decoded = decode_ack<pubrec>(r);
            break;
        case packet_type::pubrel:
            decoded = decode_ack<pubrel>(r);
            break;
        case packet_type::pubcomp:
            decoded = decode_ack<pubcomp>(r);
            break;
        case packet_type::subscribe:
            decoded = decode_subscribe(r);
            break;
        case packet_type::suback:
            decoded = decode_suback(r);
            break;
        case packet_type::unsubscribe:
            decoded = decode_unsubscribe(r);
            break;
        case packet_type::unsuback:
            decoded = decode_ack<unsuback>(r);
            break;
        case packet_type::pingreq:
            decoded = decode_empty<pingreq>(r);
            break;
        case packet_type::pingresp:
            decoded = decode_empty<pingresp>(r);
            break;
        case packet_type::disconnect:
            decoded = decode_empty<disconnect>(r);
            break;
    }
    if (!decoded) return error(decoded.error());
    out.status = decode_status::complete;
    out.packet = std::move(*decoded);
    out.consumed = header_size + remaining;
    return out;
}

}  // namespace fieldbridge::mqtt
