#include "mqtt/codec.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
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
        case packet_type::auth:
            return "AUTH";
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
    void u32(std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(u8((v >> static_cast<unsigned>(shift)) & 0xFFu));
    }
    // Variable byte integer, 7 bits per byte, least significant first [MQTT-1.5.5].
    std::error_code varint(std::size_t v) {
        if (v > max_remaining_length) return mqtt_errc::packet_too_large;
        do {
            std::uint8_t digit = u8(v % 128);
            v /= 128;
            if (v > 0) digit = u8(digit | 0x80u);
            out_.push_back(digit);
        } while (v > 0);
        return {};
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
    void raw(const std::vector<std::uint8_t>& data) { out_.insert(out_.end(), data.begin(), data.end()); }
    std::vector<std::uint8_t>& bytes() { return out_; }

private:
    std::vector<std::uint8_t> out_;
};

// Property Length then the properties [MQTT-2.2.2]; every value is checked
// against the wire type its identifier has.
std::error_code write_properties(body_writer& w, const properties& props) {
    body_writer inner;
    for (const auto& p : props) {
        const auto kind = kind_of(p.identifier);
        if (!kind) return mqtt_errc::malformed_packet;
        (void)inner.varint(p.identifier);
        const auto* number = std::get_if<std::uint32_t>(&p.value);
        const auto* text = std::get_if<std::string>(&p.value);
        const auto* data = std::get_if<std::vector<std::uint8_t>>(&p.value);
        const auto* pair = std::get_if<std::pair<std::string, std::string>>(&p.value);
        switch (*kind) {
            case property_kind::byte:
                if (!number || *number > 0xFF) return mqtt_errc::malformed_packet;
                inner.byte(u8(*number));
                break;
            case property_kind::two_byte:
                if (!number || *number > 0xFFFF) return mqtt_errc::malformed_packet;
                inner.u16(static_cast<std::uint16_t>(*number));
                break;
            case property_kind::four_byte:
                if (!number) return mqtt_errc::malformed_packet;
                inner.u32(*number);
                break;
            case property_kind::varint:
                if (!number || *number == 0) return mqtt_errc::malformed_packet;
                if (auto ec = inner.varint(*number)) return ec;
                break;
            case property_kind::utf8:
                if (!text) return mqtt_errc::malformed_packet;
                if (auto ec = inner.text(*text)) return ec;
                break;
            case property_kind::binary:
                if (data) {
                    if (auto ec = inner.binary(std::string_view(reinterpret_cast<const char*>(data->data()), data->size()))) return ec;
                } else if (text) {
                    if (auto ec = inner.binary(*text)) return ec;
                } else {
                    return mqtt_errc::malformed_packet;
                }
                break;
            case property_kind::utf8_pair:
                if (!pair) return mqtt_errc::malformed_packet;
                if (auto ec = inner.text(pair->first)) return ec;
                if (auto ec = inner.text(pair->second)) return ec;
                break;
        }
    }
    if (auto ec = w.varint(inner.bytes().size())) return ec;
    w.raw(inner.bytes());
    return {};
}

result<std::vector<std::uint8_t>> frame(std::uint8_t first_byte, const std::vector<std::uint8_t>& body) {
    if (body.size() > max_remaining_length) return fail(mqtt_errc::packet_too_large);
    body_writer out;
    out.bytes().reserve(body.size() + 5);
    out.byte(first_byte);
    (void)out.varint(body.size());  // remaining length [MQTT-2.2.3]
    out.raw(body);
    return std::move(out.bytes());
}

std::uint8_t header(packet_type t, unsigned flags = 0) { return u8((static_cast<unsigned>(t) << 4u) | flags); }

std::error_code check_packet_id(std::uint16_t id) {
    return id == 0 ? make_error_code(mqtt_errc::zero_packet_id) : std::error_code{};  // [MQTT-2.3.1-1]
}

result<std::vector<std::uint8_t>> encode_connect(const connect& c, bool v5) {
    body_writer w;
    (void)w.text("MQTT");  // protocol name [MQTT-3.1.2-1]
    w.byte(static_cast<std::uint8_t>(v5 ? protocol_version::v5 : protocol_version::v3_1_1));
    unsigned flags = 0;
    if (c.clean_session) flags |= 0x02u;  // Clean Start in 5.0
    if (c.will) {
        if (static_cast<unsigned>(c.will->qos) > 2) return fail(mqtt_errc::invalid_qos);
        flags |= 0x04u | (static_cast<unsigned>(c.will->qos) << 3u);
        if (c.will->retain) flags |= 0x20u;
    }
    // A password without a user name is not allowed in 3.1.1 [MQTT-3.1.2-22]; 5.0 allows it.
    if (c.password && !c.username && !v5) return fail(mqtt_errc::malformed_packet);
    if (c.password) flags |= 0x40u;
    if (c.username) flags |= 0x80u;
    w.byte(u8(flags));
    w.u16(c.keepalive_seconds);
    if (v5) {
        if (auto ec = write_properties(w, c.props)) return fail(ec);
    }
    if (auto ec = w.text(c.client_id)) return fail(ec);
    if (c.will) {
        if (v5) {
            if (auto ec = write_properties(w, c.will->props)) return fail(ec);
        }
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
    return frame(header(packet_type::connect), w.bytes());
}

result<std::vector<std::uint8_t>> encode_connack(const connack& c, bool v5) {
    if (c.session_present && c.return_code != 0) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.2.2-4]
    body_writer w;
    w.byte(u8(c.session_present ? 1 : 0));
    w.byte(c.return_code);
    if (v5) {
        if (auto ec = write_properties(w, c.props)) return fail(ec);
    }
    return frame(header(packet_type::connack), w.bytes());
}

result<std::vector<std::uint8_t>> encode_publish(const publish& p, bool v5) {
    const auto q = static_cast<unsigned>(p.qos);
    if (q > 2) return fail(mqtt_errc::invalid_qos);
    if (p.dup && q == 0) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.3.1-2]
    // 5.0: an empty topic name with a Topic Alias [MQTT-3.3.2-8].
    const bool aliased = v5 && p.topic.empty() && find(p.props, prop::topic_alias) != nullptr;
    if (!aliased) {
        if (auto ec = check_topic_name(p.topic)) return fail(ec);
    }
    body_writer w;
    if (auto ec = w.text(p.topic)) return fail(ec);
    if (q > 0) {
        if (auto ec = check_packet_id(p.packet_id)) return fail(ec);
        w.u16(p.packet_id);
    }
    if (v5) {
        if (auto ec = write_properties(w, p.props)) return fail(ec);
    }
    w.raw(p.payload);
    const unsigned flags = (p.dup ? 0x08u : 0u) | (q << 1u) | (p.retain ? 0x01u : 0u);
    return frame(header(packet_type::publish, flags), w.bytes());
}

// PUBACK, PUBREC, PUBREL, PUBCOMP. In 5.0 the reason code and properties may
// be left out when the code is 0 (success) and there are none [MQTT-3.4.2.1].
result<std::vector<std::uint8_t>> encode_ack(packet_type t, std::uint16_t id, std::uint8_t reason,
                                             const properties& props, bool v5, unsigned flags = 0) {
    if (auto ec = check_packet_id(id)) return fail(ec);
    body_writer w;
    w.u16(id);
    if (v5 && (reason != 0 || !props.empty())) {
        w.byte(reason);
        if (!props.empty()) {
            if (auto ec = write_properties(w, props)) return fail(ec);
        }
    }
    return frame(header(t, flags), w.bytes());
}

result<std::vector<std::uint8_t>> encode_subscribe(const subscribe& s, bool v5) {
    if (auto ec = check_packet_id(s.packet_id)) return fail(ec);
    if (s.subscriptions.empty()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.8.3-3]
    body_writer w;
    w.u16(s.packet_id);
    if (v5) {
        if (auto ec = write_properties(w, s.props)) return fail(ec);
    }
    for (const auto& sub : s.subscriptions) {
        if (auto ec = check_topic_filter(sub.filter)) return fail(ec);
        if (static_cast<unsigned>(sub.max_qos) > 2) return fail(mqtt_errc::invalid_qos);
        if (auto ec = w.text(sub.filter)) return fail(ec);
        unsigned options = static_cast<unsigned>(sub.max_qos);
        if (v5) {
            if (sub.retain_handling > 2) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.8.3-6]
            options |= (sub.no_local ? 0x04u : 0u) | (sub.retain_as_published ? 0x08u : 0u) |
                       (static_cast<unsigned>(sub.retain_handling) << 4u);
        }
        w.byte(u8(options));
    }
    // SUBSCRIBE carries reserved flags 0010 [MQTT-3.8.1-1].
    return frame(header(packet_type::subscribe, 0x2), w.bytes());
}

result<std::vector<std::uint8_t>> encode_suback(const suback& s, bool v5) {
    if (auto ec = check_packet_id(s.packet_id)) return fail(ec);
    body_writer w;
    w.u16(s.packet_id);
    if (v5) {
        if (auto ec = write_properties(w, s.props)) return fail(ec);
    }
    for (auto code : s.return_codes) {
        if (!v5 && code > 2 && code != suback_failure) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.9.3-2]
        w.byte(code);
    }
    return frame(header(packet_type::suback), w.bytes());
}

result<std::vector<std::uint8_t>> encode_unsubscribe(const unsubscribe& u, bool v5) {
    if (auto ec = check_packet_id(u.packet_id)) return fail(ec);
    if (u.filters.empty()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.10.3-2]
    body_writer w;
    w.u16(u.packet_id);
    if (v5) {
        if (auto ec = write_properties(w, u.props)) return fail(ec);
    }
    for (const auto& f : u.filters) {
        if (auto ec = check_topic_filter(f)) return fail(ec);
        if (auto ec = w.text(f)) return fail(ec);
    }
    // UNSUBSCRIBE carries reserved flags 0010 [MQTT-3.10.1-1].
    return frame(header(packet_type::unsubscribe, 0x2), w.bytes());
}

result<std::vector<std::uint8_t>> encode_unsuback(const unsuback& u, bool v5) {
    if (auto ec = check_packet_id(u.packet_id)) return fail(ec);
    body_writer w;
    w.u16(u.packet_id);
    if (v5) {
        if (auto ec = write_properties(w, u.props)) return fail(ec);
        for (auto code : u.reason_codes) w.byte(code);
    }
    return frame(header(packet_type::unsuback), w.bytes());
}

// DISCONNECT and AUTH: reason code and properties, both left out when the
// code is 0 and there are no properties [MQTT-3.14.2.1], [MQTT-3.15.2.1].
result<std::vector<std::uint8_t>> encode_reason_only(packet_type t, std::uint8_t reason, const properties& props,
                                                     bool v5) {
    body_writer w;
    if (v5 && (reason != 0 || !props.empty())) {
        w.byte(reason);
        if (!props.empty()) {
            if (auto ec = write_properties(w, props)) return fail(ec);
        }
    }
    return frame(header(t), w.bytes());
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
    result<std::uint32_t> u32() {
        if (remaining() < 4) return fail(mqtt_errc::truncated_field);
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8u) | data_[pos_++];
        return v;
    }
    // Variable byte integer: at most 4 bytes [MQTT-1.5.5-1].
    result<std::uint32_t> varint() {
        std::uint32_t v = 0;
        for (unsigned i = 0; i < 4; ++i) {
            if (remaining() < 1) return fail(mqtt_errc::truncated_field);
            const std::uint8_t digit = data_[pos_++];
            v |= static_cast<std::uint32_t>(digit & 0x7Fu) << (7 * i);
            if ((digit & 0x80u) == 0) return v;
        }
        return fail(mqtt_errc::malformed_packet);
    }
    result<std::span<const std::uint8_t>> take(std::size_t n) {
        if (remaining() < n) return fail(mqtt_errc::truncated_field);
        const auto out = data_.subspan(pos_, n);
        pos_ += n;
        return out;
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
        if (auto ec = check_mqtt_string(*s)) return fail(ec);  // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
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
// `var` names a variable; it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define FIELDBRIDGE_TRY(var, expr)             \
    auto var##_result = (expr);                \
    if (!var##_result) return fail(var##_result.error()); \
    auto var = std::move(*var##_result)
// NOLINTEND(bugprone-macro-parentheses)

// Property Length and properties. An identifier the specification does not
// define is a Malformed Packet; the same property twice (other than User
// Property and Subscription Identifier) a Protocol Error [MQTT-2.2.2-2].
result<properties> read_properties(body_reader& r) {
    FIELDBRIDGE_TRY(length, r.varint());
    FIELDBRIDGE_TRY(bytes, r.take(length));
    body_reader in(bytes);
    properties out;
    std::set<std::uint8_t> seen;
    std::size_t user_properties = 0;
    while (!in.at_end()) {
        FIELDBRIDGE_TRY(id32, in.varint());
        if (id32 > 0x7F) return fail(mqtt_errc::malformed_packet);
        const auto id = static_cast<std::uint8_t>(id32);
        const auto kind = kind_of(id);
        if (!kind) return fail(mqtt_errc::malformed_packet);
        if (id != prop::user_property && id != prop::subscription_identifier && !seen.insert(id).second) {
            return fail(mqtt_errc::protocol_error);
        }
        property p;
        p.identifier = id;
        switch (*kind) {
            case property_kind::byte: {
                FIELDBRIDGE_TRY(v, in.byte());
                p.value = std::uint32_t{v};
                break;
            }
            case property_kind::two_byte: {
                FIELDBRIDGE_TRY(v, in.u16());
                p.value = std::uint32_t{v};
                break;
            }
            case property_kind::four_byte: {
                FIELDBRIDGE_TRY(v, in.u32());
                p.value = v;
                break;
            }
            case property_kind::varint: {
                FIELDBRIDGE_TRY(v, in.varint());
                // The only one, Subscription Identifier, is 1..268,435,455 [MQTT-3.8.2.1.2].
                if (v == 0) return fail(mqtt_errc::protocol_error);
                p.value = v;
                break;
            }
            case property_kind::utf8: {
                FIELDBRIDGE_TRY(v, in.text());
                p.value = std::move(v);
                break;
            }
            case property_kind::binary: {
                FIELDBRIDGE_TRY(v, in.binary());
                p.value = std::vector<std::uint8_t>(v.begin(), v.end());
                break;
            }
            case property_kind::utf8_pair: {
                FIELDBRIDGE_TRY(k, in.text());
                FIELDBRIDGE_TRY(v, in.text());
                if (++user_properties > max_user_properties)
                    continue;  // checked, not kept
                p.value = std::pair{std::move(k), std::move(v)};
                break;
            }
        }
        out.push_back(std::move(p));
    }
    return out;
}

result<packet> finish(body_reader& r, packet p) {
    if (!r.at_end()) return fail(mqtt_errc::trailing_bytes);
    return packet{std::move(p)};
}

result<packet> decode_connect(body_reader& r) {
    FIELDBRIDGE_TRY(name, r.text());
    FIELDBRIDGE_TRY(level, r.byte());
    if (name != "MQTT") return fail(mqtt_errc::protocol_error);  // [MQTT-3.1.2-1]
    if (level != static_cast<std::uint8_t>(protocol_version::v3_1_1) &&
        level != static_cast<std::uint8_t>(protocol_version::v5)) {
        return fail(mqtt_errc::unacceptable_protocol_version);  // [MQTT-3.1.2-2]
    }
    const bool v5 = level == static_cast<std::uint8_t>(protocol_version::v5);
    FIELDBRIDGE_TRY(flags, r.byte());
    if (flags & 0x01u) return fail(mqtt_errc::malformed_packet);  // reserved flag [MQTT-3.1.2-3]
    connect c;
    c.version = static_cast<protocol_version>(level);
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
    if (has_password && !has_username && !v5) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.1.2-22]
    FIELDBRIDGE_TRY(keepalive, r.u16());
    c.keepalive_seconds = keepalive;
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        c.props = std::move(props);
    }
    FIELDBRIDGE_TRY(client_id, r.text());
    c.client_id = std::move(client_id);
    if (has_will) {
        properties will_props;
        if (v5) {
            FIELDBRIDGE_TRY(wp, read_properties(r));
            will_props = std::move(wp);
        }
        FIELDBRIDGE_TRY(topic, r.text());
        if (auto ec = check_topic_name(topic)) return fail(ec);  // the Will Topic is a topic name [MQTT-3.1.3-11]
        FIELDBRIDGE_TRY(payload, r.binary());
        c.will = will_message{std::move(topic), std::move(payload), static_cast<qos>(will_qos), will_retain,
                              std::move(will_props)};
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

result<packet> decode_connack(body_reader& r, bool v5) {
    FIELDBRIDGE_TRY(flags, r.byte());
    if (flags & 0xFEu) return fail(mqtt_errc::malformed_packet);  // reserved bits 7-1 [MQTT-3.2.2-1]
    FIELDBRIDGE_TRY(code, r.byte());
    // A refusal never claims a session [MQTT-3.2.2-4] (5.0: [MQTT-3.2.2-6]).
    if ((flags & 0x01u) != 0 && code != 0) return fail(mqtt_errc::malformed_packet);
    connack c{(flags & 0x01u) != 0, code, {}};
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        c.props = std::move(props);
    }
    return finish(r, std::move(c));
}

result<packet> decode_publish(body_reader& r, unsigned flags, bool v5, bool with_payload = true) {
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
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        p.props = std::move(props);
        if (p.topic.empty() && find(p.props, prop::topic_alias) == nullptr) return fail(mqtt_errc::protocol_error);
    } else if (p.topic.empty()) {
        return fail(mqtt_errc::invalid_topic);  // [MQTT-4.7.3-1]
    }
    if (with_payload) p.payload = r.rest();
    return packet{std::move(p)};
}

template <class Ack>
result<packet> decode_ack(body_reader& r, bool v5) {
    FIELDBRIDGE_TRY(id, r.packet_id());
    Ack a;
    a.packet_id = id;
    if (v5 && !r.at_end()) {
        FIELDBRIDGE_TRY(reason, r.byte());
        a.reason_code = reason;
        if (!r.at_end()) {
            FIELDBRIDGE_TRY(props, read_properties(r));
            a.props = std::move(props);
        }
    }
    return finish(r, std::move(a));
}

result<packet> decode_subscribe(body_reader& r, bool v5) {
    subscribe s;
    FIELDBRIDGE_TRY(id, r.packet_id());
    s.packet_id = id;
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        s.props = std::move(props);
    }
    if (r.at_end()) return fail(mqtt_errc::malformed_packet);  // at least one filter [MQTT-3.8.3-3]
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(filter, r.text());
        if (auto ec = check_topic_filter(filter)) return fail(ec);  // [MQTT-4.7.1-1], [MQTT-4.7.3-1]
        FIELDBRIDGE_TRY(options, r.byte());
        if (options & (v5 ? 0xC0u : 0xFCu)) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.8.3-4], [MQTT-3.8.3-5]
        if ((options & 0x3u) == 3) return fail(mqtt_errc::invalid_qos);
        subscription sub{std::move(filter), static_cast<qos>(options & 0x3u)};
        sub.no_local = (options & 0x04u) != 0;
        sub.retain_as_published = (options & 0x08u) != 0;
        sub.retain_handling = u8((options >> 4u) & 0x3u);
        if (sub.retain_handling == 3) return fail(mqtt_errc::protocol_error);  // [MQTT-3.8.3-6]
        s.subscriptions.push_back(std::move(sub));
    }
    return packet{std::move(s)};
}

result<packet> decode_suback(body_reader& r, bool v5) {
    suback s;
    FIELDBRIDGE_TRY(id, r.packet_id());
    s.packet_id = id;
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        s.props = std::move(props);
    }
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(code, r.byte());
        if (!v5 && code > 2 && code != suback_failure) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.9.3-2]
        s.return_codes.push_back(code);
    }
    return packet{std::move(s)};
}

result<packet> decode_unsubscribe(body_reader& r, bool v5) {
    unsubscribe u;
    FIELDBRIDGE_TRY(id, r.packet_id());
    u.packet_id = id;
    if (v5) {
        FIELDBRIDGE_TRY(props, read_properties(r));
        u.props = std::move(props);
    }
    if (r.at_end()) return fail(mqtt_errc::malformed_packet);  // [MQTT-3.10.3-2]
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(filter, r.text());
        if (auto ec = check_topic_filter(filter)) return fail(ec);
        u.filters.push_back(std::move(filter));
    }
    return packet{std::move(u)};
}

result<packet> decode_unsuback(body_reader& r, bool v5) {
    unsuback u;
    FIELDBRIDGE_TRY(id, r.packet_id());
    u.packet_id = id;
    if (!v5) return finish(r, std::move(u));
    FIELDBRIDGE_TRY(props, read_properties(r));
    u.props = std::move(props);
    while (!r.at_end()) {
        FIELDBRIDGE_TRY(code, r.byte());
        u.reason_codes.push_back(code);
    }
    return packet{std::move(u)};
}

template <class Packet>
result<packet> decode_reason_only(body_reader& r, bool v5) {
    Packet p;
    if (v5 && !r.at_end()) {
        FIELDBRIDGE_TRY(reason, r.byte());
        p.reason_code = reason;
        if (!r.at_end()) {
            FIELDBRIDGE_TRY(props, read_properties(r));
            p.props = std::move(props);
        }
    }
    return finish(r, std::move(p));
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
    if (version != protocol_version::v3_1_1 && version != protocol_version::v5) {
        return fail(mqtt_errc::unsupported_protocol_version);
    }
    const bool v5 = version == protocol_version::v5;
    return std::visit(
        [v5](const auto& v) -> result<std::vector<std::uint8_t>> {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, connect>) {
                // A CONNECT states its own version: it is what tells the
                // server which version the rest of the connection speaks.
                if (v.version != protocol_version::v3_1_1 && v.version != protocol_version::v5) {
                    return fail(mqtt_errc::unsupported_protocol_version);
                }
                return encode_connect(v, v.version == protocol_version::v5);
            } else if constexpr (std::is_same_v<T, connack>) {
                return encode_connack(v, v5);
            } else if constexpr (std::is_same_v<T, publish>) {
                return encode_publish(v, v5);
            } else if constexpr (std::is_same_v<T, puback>) {
                return encode_ack(packet_type::puback, v.packet_id, v.reason_code, v.props, v5);
            } else if constexpr (std::is_same_v<T, pubrec>) {
                return encode_ack(packet_type::pubrec, v.packet_id, v.reason_code, v.props, v5);
            } else if constexpr (std::is_same_v<T, pubrel>) {
                return encode_ack(packet_type::pubrel, v.packet_id, v.reason_code, v.props, v5, 0x2);  // [MQTT-3.6.1-1]
            } else if constexpr (std::is_same_v<T, pubcomp>) {
                return encode_ack(packet_type::pubcomp, v.packet_id, v.reason_code, v.props, v5);
            } else if constexpr (std::is_same_v<T, subscribe>) {
                return encode_subscribe(v, v5);
            } else if constexpr (std::is_same_v<T, suback>) {
                return encode_suback(v, v5);
            } else if constexpr (std::is_same_v<T, unsubscribe>) {
                return encode_unsubscribe(v, v5);
            } else if constexpr (std::is_same_v<T, unsuback>) {
                return encode_unsuback(v, v5);
            } else if constexpr (std::is_same_v<T, pingreq>) {
                return frame(header(packet_type::pingreq), {});
            } else if constexpr (std::is_same_v<T, pingresp>) {
                return frame(header(packet_type::pingresp), {});
            } else if constexpr (std::is_same_v<T, disconnect>) {
                return encode_reason_only(packet_type::disconnect, v.reason_code, v.props, v5);
            } else {
                static_assert(std::is_same_v<T, auth>);
                if (!v5) return fail(mqtt_errc::unsupported_protocol_version);  // no AUTH in 3.1.1
                return encode_reason_only(packet_type::auth, v.reason_code, v.props, v5);
            }
        },
        p);
}

namespace {

// A packet's fixed header: need_more until its remaining length is whole.
struct fixed_header {
    decode_status status = decode_status::need_more;
    std::error_code error;
    packet_type type = packet_type::connect;
    unsigned flags = 0;
    std::size_t header_size = 1;
    std::size_t remaining = 0;
};

fixed_header read_fixed_header(std::span<const std::uint8_t> bytes, protocol_version version) {
    fixed_header h;
    const auto error = [&h](std::error_code ec) {
        h.status = decode_status::error;
        h.error = ec;
        return h;
    };
    if (version != protocol_version::v3_1_1 && version != protocol_version::v5) {
        return error(mqtt_errc::unsupported_protocol_version);
    }
    const bool v5 = version == protocol_version::v5;
    if (bytes.empty()) return h;

    const unsigned type_bits = bytes[0] >> 4u;
    h.flags = bytes[0] & 0x0Fu;
    if (type_bits == 0 || (type_bits == 15 && !v5)) return error(mqtt_errc::unknown_packet_type);
    h.type = static_cast<packet_type>(type_bits);
    // [MQTT-2.2.2-2] wrong reserved flags mean the connection is closed.
    if (!fixed_header_flags_valid(h.type, h.flags)) return error(mqtt_errc::bad_fixed_header_flags);

    // Remaining length: at most 4 bytes [MQTT-2.2.3].
    unsigned shift = 0;
    while (true) {
        if (h.header_size >= bytes.size()) return h;  // need more
        const std::uint8_t digit = bytes[h.header_size++];
        h.remaining |= static_cast<std::size_t>(digit & 0x7Fu) << shift;
        if ((digit & 0x80u) == 0) break;
        shift += 7;
        if (h.header_size == 5) return error(mqtt_errc::malformed_remaining_length);
    }
    h.status = decode_status::complete;
    return h;
}

}  // namespace

decode_result decode_publish_head(std::span<const std::uint8_t> bytes, protocol_version version) {
    decode_result out;
    const auto h = read_fixed_header(bytes, version);
    if (h.status != decode_status::complete || h.type != packet_type::publish) {
        out.status = h.status == decode_status::complete ? decode_status::error : h.status;
        out.error = h.status == decode_status::complete ? make_error_code(mqtt_errc::malformed_packet) : h.error;
        return out;
    }
    const auto present = std::min(h.remaining, bytes.size() - h.header_size);
    body_reader r(bytes.subspan(h.header_size, present));
    auto decoded = decode_publish(r, h.flags, version == protocol_version::v5, false);
    if (!decoded) {
        // A field cut off where the bytes end, not where the packet does: more to come.
        if (decoded.error() == make_error_code(mqtt_errc::truncated_field) && present < h.remaining) return out;
        out.status = decode_status::error;
        out.error = decoded.error();
        return out;
    }
    out.status = decode_status::complete;
    out.packet = std::move(*decoded);
    out.consumed = h.header_size + h.remaining;
    return out;
}

decode_result decode(std::span<const std::uint8_t> bytes, const decode_options& options) {
    decode_result out;
    const auto error = [&out](std::error_code ec) {
        out.status = decode_status::error;
        out.error = ec;
        return out;
    };
    const auto h = read_fixed_header(bytes, options.version);
    if (h.status == decode_status::error) return error(h.error);
    if (h.status == decode_status::need_more) return out;
    const bool v5 = options.version == protocol_version::v5;
    const auto type = h.type;
    const auto flags = h.flags;
    const auto header_size = h.header_size;
    const auto remaining = h.remaining;
    if (header_size + remaining > options.max_packet_size) return error(mqtt_errc::packet_too_large);
    if (bytes.size() - header_size < remaining) return out;  // need more

    body_reader r(bytes.subspan(header_size, remaining));
    result<packet> decoded = fail(mqtt_errc::unknown_packet_type);
    switch (type) {
        case packet_type::connect:
            decoded = decode_connect(r);
            break;
        case packet_type::connack:
            decoded = decode_connack(r, v5);
            break;
        case packet_type::publish:
            decoded = decode_publish(r, flags, v5);
            break;
        case packet_type::puback:
            decoded = decode_ack<puback>(r, v5);
            break;
        case packet_type::pubrec:
            decoded = decode_ack<pubrec>(r, v5);
            break;
        case packet_type::pubrel:
            decoded = decode_ack<pubrel>(r, v5);
            break;
        case packet_type::pubcomp:
            decoded = decode_ack<pubcomp>(r, v5);
            break;
        case packet_type::subscribe:
            decoded = decode_subscribe(r, v5);
            break;
        case packet_type::suback:
            decoded = decode_suback(r, v5);
            break;
        case packet_type::unsubscribe:
            decoded = decode_unsubscribe(r, v5);
            break;
        case packet_type::unsuback:
            decoded = decode_unsuback(r, v5);
            break;
        case packet_type::pingreq:
            decoded = decode_empty<pingreq>(r);
            break;
        case packet_type::pingresp:
            decoded = decode_empty<pingresp>(r);
            break;
        case packet_type::disconnect:
            decoded = decode_reason_only<disconnect>(r, v5);
            break;
        case packet_type::auth:
            decoded = decode_reason_only<auth>(r, v5);
            break;
    }
    if (!decoded) return error(decoded.error());
    out.status = decode_status::complete;
    out.packet = std::move(*decoded);
    out.consumed = header_size + remaining;
    return out;
}

}  // namespace fieldbridge::mqtt
