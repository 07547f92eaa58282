// libFuzzer target for the MQTT session (mqtt/session.hpp) as a broker and
// an owner drive it: CONNACKs with any 5.0 limits, acknowledgements of the
// flows held or of any id, PUBLISH from the broker, any packet the decoder
// accepts from raw bytes, timers, lost links, and the owner's publishes,
// subscriptions, withdrawals, resumed flows, disconnects and abandonment,
// in the order the input picks them. Byte 0 picks the protocol version,
// whether a persisted session is restored first and whether the owner
// tells the session what its writes took (track_writes(), written());
// each later op is one
// byte, followed by its arguments. Checked after every step, beyond "no
// crash, no sanitizer report":
//  - every message handed to the session completes at most once, or is
//    withdrawn, and never both; a completion names a token the session
//    holds; the session holds exactly the messages handed to it and not yet
//    completed or withdrawn (queued() + inflight());
//  - a QoS 1/2 message completes without error only on a PUBACK or PUBCOMP
//    from the broker carrying the packet id of its own flow; abandon()
//    completes every message held;
//  - the flows in progress have distinct, non-zero packet ids; a new flow
//    starts only while fewer than the window (max_inflight, the broker's
//    Receive Maximum) are in flight;
//  - a QoS 2 PUBLISH from the broker whose id is held unreleased is not
//    delivered again; a delivered one is held until its PUBREL;
//  - every packet the session sends encodes, decodes back to itself, and
//    (once connected) fits the broker's Maximum Packet Size; a new PUBLISH
//    is at or below the broker's Maximum QoS, and a QoS 1/2 one carries
//    the packet id of a flow in progress; a PUBLISH whose PUBREL went out is
//    not sent again while the broker keeps the session;
//  - on a new session (CONNACK without a session), every filter the owner
//    subscribed is in a SUBSCRIBE sent, unless a SUBSCRIBE of that filter
//    alone exceeds the broker's Maximum Packet Size;
//  - an owner's SUBSCRIBE (token not 0) completes exactly once (abandon()
//    completes those left); a SUBSCRIBE completes without error, or
//    refused, only on a SUBACK, with its return codes, refused exactly when
//    one of them refuses.
//  - an UNSUBSCRIBE carries a packet id no flow in progress has; a new
//    session does not renew a filter unsubscribed since it was last
//    subscribed; an UNSUBACK is reported as refused exactly when it is a
//    5.0 one with a code of 0x80 or more, naming the UNSUBSCRIBE's filters
//    with its codes.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/session.hpp"
#include "mqtt/subscription_failure.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fieldbridge;
using namespace fieldbridge::mqtt;
using fieldbridge::fuzzing::check;
using fieldbridge::fuzzing::fuzz_input;

constexpr const char* topics[] = {"a", "plant/line1/temp", "b/c", "plant/line1/pressure", "x"};

mqtt::qos qos_of(std::size_t b) { return static_cast<mqtt::qos>(b % 3); }
// A number in 0..n-1, as a property value.
std::uint32_t small(fuzz_input& in, std::size_t n) { return static_cast<std::uint32_t>(in.pick(n)); }

// What the driver did in the step whose actions are being checked.
struct step {
    std::optional<packet> from_broker;        // the packet on_packet() was given
    std::map<std::uint64_t, std::uint16_t> ids;  // token -> packet id of each flow before the step
    std::set<std::uint16_t> unreleased;       // incoming QoS 2 ids held before the step
    std::set<std::uint16_t> released;         // ids of the flows whose PUBREL went out, before the step
    std::size_t inflight_before = 0;
};

// The first five refused filters (a code of 0x80 or more) appear in a
// log text each with its own code.
void check_refusals_named(const std::string& text, const std::vector<std::string>& filters,
                          const std::vector<std::uint8_t>& codes, const char* what) {
    std::size_t named = 0;
    for (std::size_t i = 0; i < codes.size() && i < filters.size() && named < 5; ++i) {
        if (codes[i] < 0x80) continue;
        ++named;
        char code[8];
        std::snprintf(code, sizeof code, "0x%02X", codes[i]);
        check(text.find("'" + filters[i] + "' (" + code) != std::string::npos, what);
    }
}

class driver {
public:
    driver(protocol_version v, std::size_t max_inflight, bool track_writes)
        : version_(v), max_inflight_(max_inflight), s_(options(v, max_inflight)), tracks_writes_(track_writes) {
        if (track_writes) s_.track_writes();
    }

    void restore(fuzz_input& in) {
        session_state state;
        const auto n = in.pick(8);
        for (std::size_t i = 0; i < n; ++i) {
            inflight_entry e;
            e.packet_id = static_cast<std::uint16_t>(in.pick(4));  // 0 and repeats on purpose
            e.message = message{topics[in.pick(std::size(topics))], in.text(16), qos_of(1 + in.pick(2)), false};
            e.token = next_token_++;
            e.state = in.flag() ? inflight_state::pubrec_received : inflight_state::publish_sent;
            e.dup = in.flag();
            if (e.message.qos == qos::at_least_once) e.state = inflight_state::publish_sent;
            qos_[e.token] = e.message.qos;
            held_.insert(e.token);
            state.inflight.push_back(std::move(e));
        }
        for (std::size_t i = in.pick(4); i > 0; --i) state.incoming_qos2.push_back(static_cast<std::uint16_t>(1 + in.pick(8)));
        check(!s_.restore(std::move(state)), "restore on a new session succeeds");
        invariants();
    }

    void run(fuzz_input& in) {
        std::size_t steps = 0;
        while (!in.empty() && ++steps < 2000) {
            one(in);
            invariants();
        }
        // The owner gives up: everything held completes.
        step st = before();
        carry(s_.abandon(make_error_code(mqtt_errc::connection_lost)), st);
        check(held_.empty(), "abandon() completes every message held");
        check(subscribing_.empty(), "abandon() completes every owner's SUBSCRIBE");
        invariants();
    }

private:
    static session_options options(protocol_version v, std::size_t max_inflight) {
        session_options o;
        o.version = v;
        o.client_id = "fuzz";
        o.keepalive = std::chrono::seconds{5};
        o.clean_session = false;
        o.max_inflight = max_inflight;
        o.ping_timeout = std::chrono::milliseconds{1000};
        o.connack_timeout = std::chrono::milliseconds{2000};
        return o;
    }

    step before() const {
        step st;
        std::vector<flow_status> flows;
        s_.flows(flows);
        for (const auto& f : flows) {
            st.ids[f.token] = f.packet_id;
            if (f.state == inflight_state::pubrec_received) st.released.insert(f.packet_id);
        }
        st.unreleased = s_.incoming_qos2();
        st.inflight_before = s_.inflight();
        return st;
    }

    void one(fuzz_input& in) {
        step st = before();
        const auto op = in.pick(17);
        switch (op) {
        case 0:
            if (s_.state() == session::link::disconnected) carry(s_.on_transport_connected(now_), st);
            break;
        case 1:
            broker(connack_of(in), st);
            break;
        case 2: {  // an acknowledgement of a flow held
            std::vector<flow_status> flows;
            s_.flows(flows);
            if (flows.empty()) break;
            const auto id = flows[in.pick(flows.size())].packet_id;
            broker(ack_of(in, id), st);
            break;
        }
        case 3:
            broker(ack_of(in, in.u16()), st);
            break;
        case 4: {  // any packet the decoder accepts
            const auto n = in.byte();
            std::vector<std::uint8_t> bytes;
            for (std::size_t i = 0; i < n && !in.empty(); ++i) bytes.push_back(in.byte());
            auto d = decode(bytes, decode_options{version_});
            if (d.complete() && s_.state() != session::link::disconnected) {
                st.from_broker = std::move(d.packet);
                answer(st);
            }
            break;
        }
        case 5: {  // a PUBLISH from the broker
            mqtt::publish p;
            p.topic = topics[in.pick(std::size(topics))];
            p.payload = in.text(8);
            p.qos = qos_of(in.byte());
            p.dup = in.flag();
            p.packet_id = p.qos == qos::at_most_once ? 0 : static_cast<std::uint16_t>(1 + in.pick(6));
            if (version_ == protocol_version::v5 && in.flag()) {
                p.props.push_back(property{prop::topic_alias, std::uint32_t{in.byte()}});
                if (in.flag()) p.topic.clear();
            }
            if (version_ == protocol_version::v3_1_1 && p.payload.size() == 8) {
                // One too large for the client (mqtt/inbound.hpp): only its head comes.
                oversized(std::move(p), st);
                break;
            }
            broker(p, st);
            break;
        }
        case 6: {
            // The broker answers the oldest SUBSCRIBE still unanswered on
            // this link first, granting each filter QoS 1 or refusing it (the
            // high bits of the time step pick which; 5.0 with a reason code
            // from its low bits).
            const auto step = in.u16();
            if (!unanswered_.empty()) {
                const auto [id, filters] = unanswered_.front();
                unanswered_.erase(unanswered_.begin());
                std::vector<std::uint8_t> codes(filters, 1);
                for (std::size_t i = 0; i < codes.size(); ++i) {
                    if (((step >> (10 + i % 6)) & 1u) == 0) continue;
                    codes[i] = version_ == protocol_version::v5 ? static_cast<std::uint8_t>(0x80 | (step & 0x1F)) : 0x80;
                }
                broker(suback{id, codes, {}}, st);
                st = before();
            }
            now_ += std::chrono::milliseconds{static_cast<std::int64_t>(step) * 4};
            carry(s_.on_timer(now_), st);
            break;
        }
        case 7:
            // An owner that tracks its writes: a write takes the buffer, or
            // the link is lost with what no write took.
            if (tracks_writes_ && in.flag()) {
                s_.written();
                break;
            }
            if (s_.state() != session::link::disconnected) carry(s_.on_connection_lost(now_), st);
            break;
        case 8:
        case 9:
        case 10: {  // the owner publishes
            const auto* topic = topics[in.pick(std::size(topics))];
            const auto pieces = in.pick(4);
            const auto size = pieces * in.byte();
            message m{topic, std::string(size, 'v'), qos_of(in.byte()), in.flag()};
            if (version_ == protocol_version::v5 && in.flag()) m.user_properties.emplace_back("historical", "true");
            const auto token = next_token_++;
            qos_[token] = m.qos;
            held_.insert(token);
            carry(s_.publish(std::move(m), token, now_), st);
            break;
        }
        case 11: {  // the owner subscribes (with a token of its own, or 0 as the client does)
            const auto b = in.byte();
            const std::uint64_t token = (b / 3) % 2 == 1 ? next_subscription_++ : 0;
            std::vector<subscription> subs;
            for (std::size_t i = 1 + b % 3; i > 0; --i) subs.push_back(subscription{topics[in.pick(std::size(topics))], qos_of(in.byte())});
            for (const auto& x : subs) {
                remembered_.insert(x.filter);
                unsubscribed_.erase(x.filter);
            }
            if (token != 0) {
                auto& filters = subscribing_[token];
                for (const auto& x : subs) filters.push_back(x.filter);
            }
            carry(s_.subscribe(std::move(subs), token, now_), st);
            break;
        }
        case 12: {  // the owner takes messages back (odd or even tokens)
            const auto parity = in.pick(2);
            const auto taken = s_.withdraw([&](std::uint64_t t) { return t % 2 == parity; }, in.flag());
            for (const auto t : taken) {
                check(held_.erase(t) == 1, "a withdrawn message was held and not completed");
            }
            break;
        }
        case 13: {  // the owner gives flows back (a durable ledger's)
            if (s_.state() != session::link::disconnected) break;
            std::vector<inflight_entry> flows;
            for (std::size_t i = in.pick(4); i > 0; --i) {
                inflight_entry e;
                e.packet_id = in.u16() % 8;
                e.message = message{topics[in.pick(std::size(topics))], "r", qos_of(1 + in.pick(2)), false};
                e.token = next_token_++;
                e.state = e.message.qos == qos::exactly_once && in.flag() ? inflight_state::pubrec_received
                                                                          : inflight_state::publish_sent;
                e.dup = true;
                qos_[e.token] = e.message.qos;
                held_.insert(e.token);
                flows.push_back(std::move(e));
            }
            check(!s_.resume_flows(std::move(flows)), "resume_flows while disconnected succeeds");
            break;
        }
        case 14:
            carry(s_.disconnect(now_), st);
            break;
        case 15: {  // the owner unsubscribes, or the broker answers the oldest UNSUBSCRIBE
            if (in.flag()) {
                unsubscribe_answered(in, st);
                break;
            }
            std::vector<std::string> filters;
            for (std::size_t i = 1 + in.pick(2); i > 0; --i) filters.emplace_back(topics[in.pick(std::size(topics))]);
            for (const auto& f : filters) {
                remembered_.erase(f);
                // An owner's SUBSCRIBE of it not completed may still go out.
                const bool pending = std::any_of(subscribing_.begin(), subscribing_.end(), [&](const auto& x) {
                    return std::find(x.second.begin(), x.second.end(), f) != x.second.end();
                });
                if (!pending) unsubscribed_.insert(f);
            }
            carry(s_.unsubscribe(std::move(filters), now_), st);
            break;
        }
        default:
            carry(s_.fail(make_error_code(mqtt_errc::malformed_packet), 0x81, now_), st);
            break;
        }
        // Flows the owner gives back (13) are not new.
        if (op != 13 && s_.inflight() > st.inflight_before) {
            check(s_.inflight() <= window(), "a new flow starts only within the window");
        }
        if (s_.state() == session::link::disconnected) {  // no SUBACK or UNSUBACK comes on a lost link
            unanswered_.clear();
            unanswered_unsubscribes_.clear();
        }
    }

    connack connack_of(fuzz_input& in) {
        connack c;
        c.session_present = in.flag();
        const auto code = in.byte();
        c.return_code = code < 192 ? 0 : code;
        if (version_ == protocol_version::v5) {
            const auto which = in.byte();
            if (which & 0x01) c.props.push_back(property{prop::receive_maximum, std::uint32_t{in.u16()}});
            if (which & 0x02) c.props.push_back(property{prop::maximum_packet_size, std::uint32_t{in.u16()}});
            if (which & 0x04) c.props.push_back(property{prop::maximum_qos, small(in, 2)});
            if (which & 0x08) c.props.push_back(property{prop::topic_alias_maximum, small(in, 4)});
            if (which & 0x10) c.props.push_back(property{prop::retain_available, small(in, 2)});
            if (which & 0x20) c.props.push_back(property{prop::server_keep_alive, small(in, 8)});
            if (which & 0x40) c.props.push_back(property{prop::assigned_client_identifier, in.text(8)});
        }
        return c;
    }

    packet ack_of(fuzz_input& in, std::uint16_t id) const {
        std::uint8_t rc = 0;
        if (version_ == protocol_version::v5 && in.flag()) rc = in.flag() ? 0x87 : in.byte();
        switch (in.pick(4)) {
        case 0: return puback{id, rc, {}};
        case 1: return pubrec{id, rc, {}};
        case 2: return pubrel{id, rc, {}};
        default: return pubcomp{id, rc, {}};
        }
    }

    // The session sees only what the decoder accepts: a packet built here
    // goes through the codec first, as one from the network would.
    void broker(const packet& built, step& st) {
        if (s_.state() == session::link::disconnected) return;  // no link, no packets
        const auto bytes = encode(built, version_);
        if (!bytes) return;
        auto d = decode(*bytes, decode_options{version_});
        if (!d.complete()) return;
        st.from_broker = std::move(d.packet);
        answer(st);
    }

    // A PUBLISH the client did not take whole: acknowledged as its QoS asks,
    // never delivered.
    void oversized(mqtt::publish head, step& st) {
        if (s_.state() == session::link::disconnected) return;
        head.payload.clear();
        const auto connected = s_.state() == session::link::connected;
        const auto list = s_.on_oversized_publish(head, now_);
        std::size_t acks = 0;
        for (const auto& a : list) {
            check(!std::holds_alternative<action::deliver>(a), "a PUBLISH too large to take is never delivered");
            if (const auto* x = std::get_if<action::send>(&a)) {
                const auto* ack = std::get_if<puback>(&x->packet);
                const auto* rec = std::get_if<pubrec>(&x->packet);
                if ((ack && ack->packet_id == head.packet_id) || (rec && rec->packet_id == head.packet_id)) ++acks;
            }
        }
        if (connected) {
            check(acks == (head.qos == qos::at_most_once ? 0u : 1u),
                  "a PUBLISH too large to take is acknowledged as its QoS asks");
            if (head.qos == qos::exactly_once) {
                check(s_.incoming_qos2().count(head.packet_id) == 1, "its QoS 2 id is held until its PUBREL");
            }
        }
        st.from_broker = packet{std::move(head)};
        carry(list, st);
    }

    // on_packet() with what the broker sent, and the checks of a new session.
    void answer(step& st) {
        subscribed_.clear();
        if (const auto* u = std::get_if<unsuback>(&*st.from_broker)) {  // answered, whoever sent it
            std::erase_if(unanswered_unsubscribes_, [&](const auto& x) { return x.first == u->packet_id; });
        }
        carry(s_.on_packet(*st.from_broker, now_), st);
        const auto* c = std::get_if<connack>(&*st.from_broker);
        if (!c || c->session_present || s_.state() != session::link::connected) return;
        for (const auto& f : unsubscribed_) {
            check(subscribed_.count(f) == 0, "a new session does not renew a filter unsubscribed since");
        }
        const auto limit = s_.limits().maximum_packet_size;
        for (const auto& f : remembered_) {
            if (subscribed_.count(f) != 0) continue;
            const auto alone = encode(mqtt::subscribe{1, {subscription{f, qos::at_most_once}}, {}}, version_);
            check(!alone || (limit != 0 && alone->size() > limit),
                  "a new session renews every filter subscribed that fits the broker's limit alone");
        }
    }

    std::size_t window() const {
        const std::size_t limit = s_.state() == session::link::connected ? s_.limits().receive_maximum : 65535u;
        return std::max<std::size_t>(std::min<std::size_t>(max_inflight(), limit), 1);
    }
    std::size_t max_inflight() const { return max_inflight_; }

    // Carries out the actions as an owner does, checking each.
    void carry(actions list, const step& st) {
        bool closed = false;
        for (auto& a : list) {
            if (const auto* s = std::get_if<action::send>(&a)) {
                sent(s->packet, st);
            } else if (const auto* c = std::get_if<action::publish_completed>(&a)) {
                completed(*c, st);
            } else if (const auto* d = std::get_if<action::deliver>(&a)) {
                delivered(*d, st);
            } else if (std::holds_alternative<action::close_connection>(a)) {
                closed = true;
            } else if (const auto* r = std::get_if<action::unsubscribe_refused>(&a)) {
                unsubscribes_refused_.push_back(*r);
            }
        }
        for (auto& a : list) {
            if (const auto* c = std::get_if<action::subscribe_completed>(&a)) subscription_completed(*c, st);
        }
        if (closed) {
            // The owner closes the transport, then reports it gone.
            step after = before();
            carry(s_.on_connection_lost(now_), after);
        }
    }

    void sent(const packet& p, const step& st) {
        const auto bytes = encode(p, version_);
        if (!bytes) {
            std::fprintf(stderr, "%s: %s\n", name_of(type_of(p)), bytes.error().message().c_str());
            check(false, "every packet sent encodes");
        }
        const auto back = decode(*bytes, decode_options{version_});
        check(back.complete() && back.consumed == bytes->size(), "every packet sent decodes whole");
        check(back.packet == p, "every packet sent decodes to itself");
        if (std::holds_alternative<connect>(p) || s_.state() != session::link::connected) return;
        const auto limit = s_.limits().maximum_packet_size;
        if (limit != 0 && bytes->size() > limit) {
            std::fprintf(stderr, "%s of %zu bytes, Maximum Packet Size %u\n", name_of(type_of(p)), bytes->size(), limit);
            check(false, "no packet exceeds the broker's Maximum Packet Size");
        }
        if (const auto* sub = std::get_if<mqtt::subscribe>(&p)) {
            for (const auto& x : sub->subscriptions) subscribed_.insert(x.filter);
            unanswered_.emplace_back(sub->packet_id, sub->subscriptions.size());
        }
        if (const auto* unsub = std::get_if<mqtt::unsubscribe>(&p)) {
            for (const auto& [token, id] : st.ids) {
                check(unsub->packet_id != id, "an UNSUBSCRIBE's packet id is no flow's in progress");
            }
            unanswered_unsubscribes_.emplace_back(unsub->packet_id, unsub->filters);
        }
        if (const auto* pub = std::get_if<publish>(&p)) {
            check(pub->qos <= s_.limits().maximum_qos, "a PUBLISH, new or resent, is within the broker's Maximum QoS");
            if (pub->qos != qos::at_most_once) {
                check(pub->packet_id != 0, "a QoS 1/2 PUBLISH has a packet id");
                sent_ids_.push_back(pub->packet_id);
                // [MQTT-4.3.3-1]: once PUBREL is out, only PUBREL again; a
                // broker without the session (or a PUBCOMP freeing the id)
                // lets the id or the message start over.
                const auto* c = st.from_broker ? std::get_if<connack>(&*st.from_broker) : nullptr;
                const bool freed = st.from_broker && std::holds_alternative<pubcomp>(*st.from_broker);
                if (!freed && !(c && !c->session_present)) {
                    check(st.released.count(pub->packet_id) == 0, "a PUBLISH whose PUBREL went out is not sent again");
                }
            }
        }
    }

    void completed(const action::publish_completed& c, const step& st) {
        check(held_.erase(c.token) == 1, "a completion names a message held, once");
        if (c.error || qos_[c.token] == qos::at_most_once) return;
        const auto flow = st.ids.find(c.token);
        check(flow != st.ids.end(), "a QoS 1/2 message completes without error only from a flow in progress");
        check(st.from_broker.has_value(), "a QoS 1/2 message completes without error only on a broker's packet");
        const auto& p = *st.from_broker;
        std::optional<std::uint16_t> acked;
        if (const auto* a = std::get_if<puback>(&p)) acked = a->packet_id;
        if (const auto* a = std::get_if<pubcomp>(&p)) acked = a->packet_id;
        check(acked == flow->second, "a QoS 1/2 message completes on the PUBACK/PUBCOMP of its own packet id");
    }

    void subscription_completed(const action::subscribe_completed& c, const step& st) {
        if (c.token != 0) {
            const auto it = subscribing_.find(c.token);
            check(it != subscribing_.end(), "an owner's SUBSCRIBE completes once");
            if (it != subscribing_.end()) {
                check(c.filters == it->second, "an owner's SUBSCRIBE completes naming its filters");
                subscribing_.erase(it);
            }
        }
        if (c.error) {
            const auto text = subscription_failure(c, version_);
            check(!text.empty(), "a failed subscription is described");
            check_refusals_named(text, c.filters, c.return_codes,
                                 "a refused filter is named in the log with its own code (up to five)");
        }
        if (c.error && c.error != make_error_code(mqtt_errc::subscription_refused)) {
            check(c.return_codes.empty(), "a SUBSCRIBE not answered carries no return codes");
            return;
        }
        const auto* a = st.from_broker ? std::get_if<suback>(&*st.from_broker) : nullptr;
        check(a != nullptr, "a SUBSCRIBE completes without error, or refused, only on a SUBACK");
        // One code per filter: codes a SUBACK lacks count as refusals, codes past the last filter go.
        auto codes = a->return_codes;
        codes.resize(c.filters.size(), 0x80);
        check(c.return_codes == codes, "a SUBSCRIBE completes with its SUBACK's return codes, one per filter");
        const bool refusal = std::any_of(codes.begin(), codes.end(), [](std::uint8_t x) { return x >= 0x80; });
        check(refusal == static_cast<bool>(c.error), "a SUBSCRIBE is refused exactly when its SUBACK refuses a filter");
    }

    // The broker answers the oldest UNSUBSCRIBE still unanswered on this
    // link; 5.0 with a code per filter, each a success (0x00, 0x11) or a
    // refusal (0x80 and up) as the input picks.
    void unsubscribe_answered(fuzz_input& in, step& st) {
        if (unanswered_unsubscribes_.empty()) return;
        const auto [id, filters] = unanswered_unsubscribes_.front();
        unanswered_unsubscribes_.erase(unanswered_unsubscribes_.begin());
        unsuback u{id, {}, {}};
        if (version_ == protocol_version::v5) {
            for (std::size_t i = 0; i < filters.size(); ++i) {
                const auto b = in.byte();
                u.reason_codes.push_back(b < 128 ? (b % 2 == 0 ? 0x00 : 0x11) : static_cast<std::uint8_t>(0x80 | (b & 0x1F)));
            }
        }
        unsubscribes_refused_.clear();
        st.from_broker = packet{u};
        answer(st);
        const bool refusal = version_ == protocol_version::v5 &&
                             std::any_of(u.reason_codes.begin(), u.reason_codes.end(), [](std::uint8_t c) { return c >= 0x80; });
        check(unsubscribes_refused_.size() == (refusal ? 1u : 0u),
              "an UNSUBACK is reported refused exactly when it is 5.0 and refuses a filter");
        if (!unsubscribes_refused_.empty()) {
            check(unsubscribes_refused_[0].filters == filters && unsubscribes_refused_[0].reason_codes == u.reason_codes,
                  "a refused UNSUBSCRIBE is reported with its filters and the UNSUBACK's codes");
            const auto& r = unsubscribes_refused_[0];
            const auto text = unsubscribe_failure(r);
            check_refusals_named(text, r.filters, r.reason_codes,
                                 "a filter the broker would not unsubscribe is named in the log with its own code (up to five)");
        }
    }

    void delivered(const action::deliver&, const step& st) {
        check(st.from_broker.has_value(), "a delivery comes from a broker's PUBLISH");
        const auto* p = std::get_if<publish>(&*st.from_broker);
        check(p != nullptr, "a delivery comes from a broker's PUBLISH");
        if (p->qos == qos::exactly_once) {
            check(st.unreleased.count(p->packet_id) == 0, "a QoS 2 message held unreleased is not delivered again");
            check(s_.incoming_qos2().count(p->packet_id) == 1, "a delivered QoS 2 message is held until its PUBREL");
        }
    }

    void invariants() {
        std::vector<flow_status> flows;
        s_.flows(flows);
        check(flows.size() == s_.inflight(), "flows() lists every flow");
        std::set<std::uint16_t> ids;
        for (const auto& f : flows) {
            check(f.packet_id != 0, "a flow has a packet id");
            check(ids.insert(f.packet_id).second, "no two flows share a packet id");
            check(held_.count(f.token) == 1, "a flow is a message held");
        }
        // Nothing completes a flow in the step that sent its PUBLISH.
        for (const auto id : sent_ids_) check(ids.count(id) == 1, "a QoS 1/2 PUBLISH sent is a flow in progress");
        sent_ids_.clear();
        check(held_.size() == s_.queued() + s_.inflight(), "the session holds exactly the messages not completed");
    }

    protocol_version version_;
    std::size_t max_inflight_;
    session s_;
    bool tracks_writes_ = false;
    clock::time_point now_ = clock::time_point{} + std::chrono::hours{1};
    std::uint64_t next_token_ = 1;
    std::set<std::uint64_t> held_;                 // handed to the session, not completed or withdrawn
    std::map<std::uint64_t, mqtt::qos> qos_;       // the QoS each message was handed over with
    std::vector<std::uint16_t> sent_ids_;          // packet ids of the QoS 1/2 PUBLISH sent in this step
    std::set<std::string> remembered_;             // every filter the owner subscribed
    std::set<std::string> subscribed_;             // filters in the SUBSCRIBEs sent on the broker's last packet
    std::vector<std::pair<std::uint16_t, std::size_t>> unanswered_;  // SUBSCRIBEs sent on this link: id, filters
    std::map<std::uint64_t, std::vector<std::string>> subscribing_;  // owner SUBSCRIBEs not completed: their filters
    std::set<std::string> unsubscribed_;  // filters unsubscribed since last subscribed (not by a SUBSCRIBE pending)
    std::vector<std::pair<std::uint16_t, std::vector<std::string>>> unanswered_unsubscribes_;  // sent on this link
    std::vector<action::unsubscribe_refused> unsubscribes_refused_;  // reported in the step
    std::uint64_t next_subscription_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in(data, size);
    const auto head = in.byte();
    const auto version = (head & 1) ? protocol_version::v5 : protocol_version::v3_1_1;
    const std::size_t max_inflight = 1 + ((head >> 2) & 7);
    driver d(version, max_inflight, (head & 32) != 0);
    if (head & 2) d.restore(in);
    d.run(in);
    return 0;
}
