#include "mqtt/session.hpp"

#include <algorithm>

#include "common/shortened.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

namespace fieldbridge::mqtt {
namespace {

std::vector<std::string> filters_of(const std::vector<subscription>& subscriptions) {
    std::vector<std::string> out;
    out.reserve(subscriptions.size());
    for (const auto& x : subscriptions) out.push_back(x.filter);
    return out;
}

std::error_code connack_error(std::uint8_t code) {
    switch (static_cast<connack_code>(code)) {
        case connack_code::unacceptable_protocol_version:
            return make_error_code(mqtt_errc::unacceptable_protocol_version);
        case connack_code::identifier_rejected:
            return make_error_code(mqtt_errc::identifier_rejected);
        case connack_code::server_unavailable:
            return make_error_code(mqtt_errc::server_unavailable);
        case connack_code::bad_username_or_password:
            return make_error_code(mqtt_errc::bad_username_or_password);
        case connack_code::not_authorized:
            return make_error_code(mqtt_errc::not_authorized);
        case connack_code::accepted:
            break;
    }
    return make_error_code(mqtt_errc::unknown_connack_code);
}

// 5.0 reason codes this client sends in DISCONNECT.
constexpr std::uint8_t rc_protocol_error = 0x82;
constexpr std::uint8_t rc_topic_alias_invalid = 0x94;
// The largest packet the session sends besides CONNECT, PUBLISH and
// SUBSCRIBE: an acknowledgement with success (fixed header 2 + packet id 2;
// 5.0 leaves out a success reason code); a DISCONNECT with a reason code
// takes 3.
// A broker whose Maximum Packet Size is below it cannot be spoken to
// without breaking its limit [MQTT-3.2.2-15].
constexpr std::uint32_t largest_control_packet = 4;

}  // namespace

session::session(session_options options) : options_(std::move(options)), keepalive_(options_.keepalive) {}

void session::send(actions& out, packet p, clock::time_point now) {
    out.push_back(action::send{std::move(p)});
    last_sent_ = now;
}

actions session::on_transport_connected(clock::time_point now) {
    actions out;
    if (link_ != link::disconnected) return out;
    link_ = link::awaiting_connack;
    limits_ = {};
    keepalive_ = options_.keepalive;
    topic_aliases_.clear();  // aliases live as long as one connection [MQTT-3.3.2-7]
    alias_topic_bytes_ = 0;
    connect c;
    c.version = options_.version;
    c.client_id = options_.client_id;
    c.clean_session = options_.clean_session;
    c.keepalive_seconds = static_cast<std::uint16_t>(std::clamp<std::int64_t>(options_.keepalive.count(), 0, 65535));
    if (v5() && options_.session_expiry > 0) {
        c.props.push_back(property{prop::session_expiry_interval, options_.session_expiry});
    }
    if (v5() && options_.maximum_packet_size > 0) {
        c.props.push_back(property{prop::maximum_packet_size, options_.maximum_packet_size});
    }
    c.will = options_.will;
    c.username = options_.username;
    c.password = options_.password;
    last_received_ = now;
    send(out, std::move(c), now);
    connack_deadline_ = now + options_.connack_timeout;
    update_timer(out, now);
    return out;
}

actions session::on_packet(const packet& p, clock::time_point now) {
    actions out;
    if (link_ == link::disconnected) return out;
    last_received_ = now;
    if (link_ == link::awaiting_connack) {
        if (const auto* c = std::get_if<connack>(&p)) {
            on_connack(out, *c, now);
        } else {
            close_with(out, make_error_code(mqtt_errc::protocol_error), rc_protocol_error, now);  // [MQTT-3.2.0-1]
        }
        return out;
    }
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, mqtt::publish>) {
                on_publish(out, x, now);
            } else if constexpr (std::is_same_v<T, puback>) {
                on_ack(out, x.packet_id, packet_type::puback, x.reason_code, now);
            } else if constexpr (std::is_same_v<T, pubrec>) {
                on_ack(out, x.packet_id, packet_type::pubrec, x.reason_code, now);
            } else if constexpr (std::is_same_v<T, pubcomp>) {
                on_ack(out, x.packet_id, packet_type::pubcomp, x.reason_code, now);
            } else if constexpr (std::is_same_v<T, pubrel>) {
                // [MQTT-4.3.3-2]: PUBCOMP releases the id; the message was delivered on PUBLISH.
                incoming_qos2_.erase(x.packet_id);
                send(out, pubcomp{x.packet_id, 0, {}}, now);
            } else if constexpr (std::is_same_v<T, suback>) {
                on_suback(out, x);
            } else if constexpr (std::is_same_v<T, pingresp>) {
                ping_deadline_.reset();
            } else if constexpr (std::is_same_v<T, unsuback>) {
                on_unsuback(out, x);
            } else if constexpr (std::is_same_v<T, mqtt::disconnect>) {
                if (v5()) {
                    // [MQTT-3.14.4-2]: no answer, the link just closes; the
                    // reason (e.g. 0x8B server shutting down) says why.
                    // 0x00 (normal disconnection) is no error code: the
                    // link is lost all the same, and the log says how.
                    auto said = string_property(x.props, prop::reason_string).value_or("");
                    if (x.reason_code == 0) {
                        close(out, make_error_code(mqtt_errc::connection_lost),
                              "the broker sent DISCONNECT 0x00 (normal disconnection)" +
                                  (said.empty() ? std::string() : ": " + said));
                    } else {
                        close(out, reason_code_error(x.reason_code), std::move(said));
                    }
                } else {
                    close(out, make_error_code(mqtt_errc::protocol_error));  // a 3.1.1 server never sends it
                }
            } else {
                // CONNECT, a second CONNACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
                // and AUTH (this client never starts enhanced authentication):
                // never sent by a server to this client.
                close_with(out, make_error_code(mqtt_errc::protocol_error), rc_protocol_error, now);
            }
        },
        p);
    if (link_ == link::connected) update_timer(out, now);
    return out;
}

void session::on_connack(actions& out, const connack& c, clock::time_point now) {
    connack_deadline_.reset();
    if (c.return_code != 0) {
        if (v5()) {
            // [MQTT-3.2.2-7]: a reason code of 0x80 or more refuses the connection.
            close(out, reason_code_error(c.return_code), string_property(c.props, prop::reason_string).value_or(""));
        } else {
            close(out, connack_error(c.return_code));
        }
        return;
    }
    if (v5()) {
        // [MQTT-3.2.2.3.3], [MQTT-3.2.2.3.4], [MQTT-3.2.2.3.6]: a Receive
        // Maximum or Maximum Packet Size of 0, a Maximum QoS other than 0
        // or 1, is a Protocol Error, not a limit to guess at.
        const auto receive = integer_property(c.props, prop::receive_maximum);
        const auto largest = integer_property(c.props, prop::maximum_packet_size);
        const auto top_qos = integer_property(c.props, prop::maximum_qos);
        if ((receive && *receive == 0) || (largest && *largest == 0) || (top_qos && *top_qos > 1)) {
            close_with(out, make_error_code(mqtt_errc::protocol_error), rc_protocol_error, now,
                       receive && *receive == 0 ? "CONNACK Receive Maximum 0"
                       : largest && *largest == 0 ? "CONNACK Maximum Packet Size 0"
                                                : "CONNACK Maximum QoS " + std::to_string(*top_qos));
            return;
        }
        if (receive) limits_.receive_maximum = static_cast<std::uint16_t>(*receive);
        if (largest) limits_.maximum_packet_size = *largest;
        if (limits_.maximum_packet_size != 0 && limits_.maximum_packet_size < largest_control_packet) {
            close(out, make_error_code(mqtt_errc::packet_size_unusable));
            return;
        }
        if (top_qos) limits_.maximum_qos = static_cast<mqtt::qos>(*top_qos);  // 0 or 1, checked above
        if (const auto v = integer_property(c.props, prop::retain_available)) limits_.retain_available = *v != 0;
        if (const auto v = integer_property(c.props, prop::topic_alias_maximum)) {
            limits_.topic_alias_maximum = static_cast<std::uint16_t>(*v);
        }
        if (const auto v = integer_property(c.props, prop::server_keep_alive)) {
            // [MQTT-3.2.2-21]: the server's value replaces ours.
            limits_.server_keep_alive = static_cast<std::uint16_t>(*v);
            keepalive_ = std::chrono::seconds{*v};
        }
        if (auto v = string_property(c.props, prop::assigned_client_identifier)) {
            // Kept so that the next connection resumes the same session.
            limits_.assigned_client_id = *v;
            if (options_.client_id.empty()) options_.client_id = std::move(*v);
        }
    }
    link_ = link::connected;
    if (!c.session_present) {
        // The broker has no state for us: flows in progress start again as
        // new messages, ahead of what was queued, in their original order
        // (QoS 1 may then arrive twice; QoS 2 cannot be kept exactly-once
        // without the broker's session).
        for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
            pending_.push_front(queued_message{it->message, it->token});
        }
        if (keep_restarted_) {
            for (const auto& e : inflight_) restarted_.push_back(e.token);
        }
        inflight_.clear();
        flow_ids_.reset();
        incoming_qos2_.clear();
        // Nothing to unsubscribe from a fresh session.
        pending_unsubscribes_.clear();
        // Subscriptions are renewed; their completion carries token 0.
        const std::vector<subscription>& all = subscriptions_;
        pending_subscribes_.erase(std::remove_if(pending_subscribes_.begin(), pending_subscribes_.end(),
                                                 [](const pending_subscribe& s) { return s.token == 0; }),
                                  pending_subscribes_.end());
        if (!all.empty()) {
            // Filters still waiting for their first SUBACK are in `all` too;
            // an owner's SUBSCRIBE that goes on this link carries them. One
            // this broker refuses (too large) takes nothing from the renewal.
            std::vector<subscription> renew;
            for (const auto& s : all) {
                const bool waiting = std::any_of(pending_subscribes_.begin(), pending_subscribes_.end(),
                                                 [&](const pending_subscribe& ps) {
                                                     return std::find(ps.subscriptions.begin(), ps.subscriptions.end(),
                                                                      s) != ps.subscriptions.end() &&
                                                            !subscribe_error(ps);
                                                 });
                if (!waiting) renew.push_back(s);
            }
            if (!renew.empty()) pending_subscribes_.insert(pending_subscribes_.begin(), pending_subscribe{0, renew, 0});
        }
    } else {
        // [MQTT-4.4.0-1] ([MQTT-4.4.0-1] in 5.0 too): resend unacknowledged
        // PUBLISH with DUP=1 [MQTT-3.3.1-1] and PUBREL; a PUBLISH whose
        // PUBREL went out is never sent again [MQTT-4.3.3-1].
        // 5.0 [MQTT-3.3.4-7]: at most Receive Maximum QoS 1/2 PUBLISH "for
        // which it has not received PUBACK, PUBCOMP, or PUBREC with a Reason
        // Code of 128 or greater": a flow awaiting PUBCOMP holds a slot, so
        // the PUBLISH resends fill what the PUBREL flows leave, in the order
        // the flows started, and the rest go as acknowledgements free slots
        // (resend_due). [MQTT-3.3.4-8]: packets other than PUBLISH are never
        // delayed for the quota, so every PUBREL goes now.
        // [MQTT-3.2.2-11]: a QoS 1/2 flow the broker's Maximum QoS no
        // longer allows (it now takes QoS 0 only) is never resent at that
        // QoS, which would only earn a DISCONNECT (0x9B) and the same again
        // on every connection: it waits, and the flows after it with it, in
        // order, as a queued one does.
        std::size_t on_wire = static_cast<std::size_t>(std::count_if(
            inflight_.begin(), inflight_.end(),
            [](const inflight_entry& e) { return e.state == inflight_state::pubrec_received; }));
        bool held = false;
        for (auto it = inflight_.begin(); it != inflight_.end();) {
            held = held || (it->state == inflight_state::publish_sent && !sendable_qos(it->message.qos));
            if (it->state == inflight_state::publish_sent && (held || on_wire >= window())) {
                resend_due_.insert(it->packet_id);
                ++it;
                continue;
            }
            const bool publish = it->state == inflight_state::publish_sent;
            if (!resend(out, it, now)) continue;
            if (publish) ++on_wire;
            ++it;
        }
    }
    send_subscribes(out, now, true);
    // Unacknowledged UNSUBSCRIBEs again, after the SUBSCRIBEs sent before them.
    for (auto& u : pending_unsubscribes_) u.packet_id = 0;
    send_unsubscribes(out, now);
    drain(out, now);
    update_timer(out, now);
    // Last: the owner's first publishes on this link (a birth message) follow
    // the subscriptions (Sparkplug: NCMD/DCMD subscribed before NBIRTH) and
    // the flows resent or started again, and go ahead of what the owner hands
    // over once connected (the store's queue). The owner publishes from its
    // handler of this action, while this list is carried out: anything after
    // it here would reach the wire behind bytes decided later (a Topic Alias
    // used before the PUBLISH that sets it, a new retained message before an
    // older one on its topic, an older timer over a newer).
    out.push_back(action::connected{c.session_present});
}

void session::on_publish(actions& out, const mqtt::publish& p, clock::time_point now, bool deliver) {
    message m{p.topic, p.payload, p.qos, p.retain, {}, {}};
    if (v5()) {
        // This client announces no Topic Alias Maximum, so the broker must
        // not use aliases [MQTT-3.3.2-9].
        if (find(p.props, prop::topic_alias) != nullptr || p.topic.empty()) {
            close_with(out, make_error_code(mqtt_errc::protocol_error), rc_topic_alias_invalid, now);
            return;
        }
        if (auto v = string_property(p.props, prop::response_topic)) m.response_topic = std::move(*v);
        if (auto v = string_property(p.props, prop::correlation_data)) m.correlation_data = std::move(*v);
        for (const auto& property : p.props) {
            if (property.identifier != prop::user_property) continue;
            if (const auto* pair = std::get_if<std::pair<std::string, std::string>>(&property.value)) {
                m.user_properties.push_back(*pair);
            }
        }
    }
    switch (p.qos) {
        case qos::at_most_once:
            if (deliver) out.push_back(action::deliver{std::move(m)});
            break;
        case qos::at_least_once:
            if (deliver) out.push_back(action::deliver{std::move(m)});
            send(out, puback{p.packet_id, 0, {}}, now);
            break;
        case qos::exactly_once:
            // [MQTT-4.3.3-2]: deliver once; a resend (DUP) of an id not yet
            // released is acknowledged again but not delivered again. One
            // not delivered is held all the same, so that its PUBREL is answered.
            if (incoming_qos2_.insert(p.packet_id).second && deliver) {
                out.push_back(action::deliver{std::move(m)});
            }
            send(out, pubrec{p.packet_id, 0, {}}, now);
            break;
    }
}

void session::note_received(clock::time_point now) {
    if (link_ != link::connected) return;
    last_received_ = now;
    // The timer armed for the old deadline finds it moved and arms again.
    if (ping_deadline_) ping_deadline_ = now + options_.ping_timeout;
}

actions session::on_oversized_publish(const mqtt::publish& head, clock::time_point now) {
    // Before the CONNACK, as any PUBLISH there: a protocol error.
    if (link_ != link::connected) return on_packet(head, now);
    actions out;
    last_received_ = now;
    on_publish(out, head, now, false);
    update_timer(out, now);
    return out;
}

void session::on_ack(actions& out, std::uint16_t id, packet_type type, std::uint8_t reason_code, clock::time_point now) {
    const auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const inflight_entry& e) { return e.packet_id == id; });
    if (it == inflight_.end()) {
        // A PUBREC for an id we no longer hold: answer PUBREL so that the
        // broker can finish its side [MQTT-4.3.3]; not a refusing one
        // (5.0, 0x80 or more): that flow is over on both sides, and a
        // PUBREL would release an id the broker never took the message of.
        if (type == packet_type::pubrec && !(v5() && refusal(reason_code)))
            send(out, pubrel{id, 0, {}}, now);
        return;
    }
    const auto q = it->message.qos;
    if (type == packet_type::puback && q == qos::exactly_once && it->state == inflight_state::publish_sent) {
        // A broker that supports QoS 1 only (some message brokers' MQTT
        // adapters) acknowledges a QoS 2 PUBLISH with PUBACK instead of
        // refusing it. It took the message at QoS 1: the flow is complete,
        // reported as downgraded so the owner can say so; closing the link
        // would only send the same message again and again.
        if (v5() && refusal(reason_code)) {
            out.push_back(action::publish_completed{it->token, reason_code_error(reason_code)});
        } else {
            out.push_back(action::publish_completed{it->token, {}, true});
        }
        erase_flow(it);
        drain(out, now);
        return;
    }
    if (v5() && refusal(reason_code) &&
        ((type == packet_type::puback && q == qos::at_least_once) ||
         (type == packet_type::pubrec && q == qos::exactly_once && it->state == inflight_state::publish_sent))) {
        // 5.0: the broker took the PUBLISH and refused it (not authorised,
        // quota exceeded, ...). The flow ends here, without PUBREL
        // [MQTT-4.3.3]; the owner decides what a refusal means.
        out.push_back(action::publish_completed{it->token, reason_code_error(reason_code)});
        erase_flow(it);
        drain(out, now);
        return;
    }
    // The flow's last acknowledgement: PUBACK for QoS 1, PUBCOMP after PUBREC for QoS 2.
    const bool final_ack =
        (type == packet_type::puback && q == qos::at_least_once) ||
        (type == packet_type::pubcomp && q == qos::exactly_once && it->state == inflight_state::pubrec_received);
    if (final_ack) {
        out.push_back(action::publish_completed{it->token, {}});
        erase_flow(it);
        drain(out, now);
    } else if (type == packet_type::pubrec && q == qos::exactly_once) {
        // [MQTT-4.3.3-1]: from here on the PUBLISH is never sent again, only PUBREL.
        it->state = inflight_state::pubrec_received;
        resend_due_.erase(id);  // the broker had it: no PUBLISH to resend
        send(out, pubrel{id, 0, {}}, now);
    } else {
        close_with(out, make_error_code(mqtt_errc::protocol_error), rc_protocol_error, now);  // an ack that does not fit the flow
    }
}

void session::on_suback(actions& out, const suback& s) {
    const auto it = std::find_if(pending_subscribes_.begin(), pending_subscribes_.end(),
                                 [&](const pending_subscribe& p) { return p.packet_id == s.packet_id && p.packet_id; });
    if (it == pending_subscribes_.end()) return;
    action::subscribe_completed done{it->token, s.return_codes, {}, filters_of(it->subscriptions)};
    // One code per filter [MQTT-3.9.3-1]: a broker that answers fewer leaves
    // the filters without one refused as far as this client knows (0x80),
    // and codes past the last filter answer nothing.
    done.return_codes.resize(done.filters.size(), 0x80);
    if (std::any_of(done.return_codes.begin(), done.return_codes.end(), refusal)) {
        done.error = make_error_code(mqtt_errc::subscription_refused);
    }
    pending_subscribes_.erase(it);
    out.push_back(std::move(done));
}

// The packet id is free again; an UNSUBACK for no UNSUBSCRIBE of ours is
// tolerated. 5.0 answers each filter [MQTT-3.11.3-1]: 0x11 (no subscription
// existed) is a success, a code of 0x80 or more a refusal.
void session::on_unsuback(actions& out, const unsuback& u) {
    const auto it = std::find_if(pending_unsubscribes_.begin(), pending_unsubscribes_.end(),
                                 [&](const pending_unsubscribe& p) { return p.packet_id != 0 && p.packet_id == u.packet_id; });
    if (it == pending_unsubscribes_.end()) return;
    if (v5() && std::any_of(u.reason_codes.begin(), u.reason_codes.end(), refusal)) {
        out.push_back(action::unsubscribe_refused{std::move(it->sent), u.reason_codes});
    }
    pending_unsubscribes_.erase(it);
}

actions session::on_timer(clock::time_point now) {
    actions out;
    armed_timer_.reset();
    if (connack_deadline_ && now >= *connack_deadline_) {
        close(out, make_error_code(mqtt_errc::connack_timeout));
        return out;
    }
    if (ping_deadline_ && now >= *ping_deadline_) {
        close(out, make_error_code(mqtt_errc::keepalive_timeout));
        return out;
    }
    if (link_ == link::connected && keepalive_.count() > 0 && !ping_deadline_) {
        // [MQTT-3.1.2-23]: something must be sent within the keepalive; a
        // ping is also sent when nothing was received for that long, so that
        // a dead link is noticed even while we keep publishing.
        const auto quiet_since = std::min(last_sent_, last_received_);
        if (now >= quiet_since + keepalive_) {
            send(out, pingreq{}, now);
            ping_deadline_ = now + options_.ping_timeout;
        }
    }
    update_timer(out, now);
    return out;
}

actions session::on_connection_lost(clock::time_point) {
    actions out;
    // Also after a close this session began (keepalive timeout, DISCONNECT):
    // the transport may have gone before a write took what was sent.
    restart_unwritten_flows();
    if (link_ == link::disconnected) return out;
    drop_link(out);
    return out;
}

void session::restart_unwritten_flows() {
    if (unwritten_flows_.empty()) return;
    const std::set<std::uint16_t> ids(unwritten_flows_.begin(), unwritten_flows_.end());
    std::vector<queued_message> back;
    for (auto it = inflight_.begin(); it != inflight_.end();) {
        if (!ids.contains(it->packet_id) || it->state != inflight_state::publish_sent) {
            ++it;
            continue;
        }
        if (keep_restarted_) restarted_.push_back(it->token);
        back.push_back(queued_message{std::move(it->message), it->token});
        it = erase_flow(it);
    }
    pending_.insert(pending_.begin(), std::make_move_iterator(back.begin()), std::make_move_iterator(back.end()));
    unwritten_flows_.clear();
}

void session::drop_link(actions& out) {
    link_ = link::disconnected;
    resend_due_.clear();  // the next resumed session resends every flow anyway
    connack_deadline_.reset();
    ping_deadline_.reset();
    if (armed_timer_) {
        armed_timer_.reset();
        out.push_back(action::cancel_timer{});
    }
}

actions session::publish(message m, std::uint64_t token, clock::time_point now) {
    actions out;
    pending_.push_back(queued_message{std::move(m), token});
    if (link_ == link::connected) {
        drain(out, now);
        update_timer(out, now);
    }
    return out;
}

actions session::subscribe(std::vector<subscription> subscriptions, std::uint64_t token, clock::time_point now) {
    actions out;
    for (const auto& s : subscriptions) {
        const auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                                     [&](const subscription& x) { return x.filter == s.filter; });
        if (it == subscriptions_.end()) {
            subscriptions_.push_back(s);
        } else {
            *it = s;
        }
    }
    // Subscribed again before its UNSUBSCRIBE went: it stays subscribed. One
    // already sent stays pending for its UNSUBACK, but is not sent again.
    for (auto& u : pending_unsubscribes_) {
        std::erase_if(u.filters, [&](const std::string& f) {
            return std::any_of(subscriptions.begin(), subscriptions.end(),
                               [&](const subscription& x) { return x.filter == f; });
        });
    }
    std::erase_if(pending_unsubscribes_,
                  [](const pending_unsubscribe& u) { return u.packet_id == 0 && u.filters.empty(); });
    pending_subscribes_.push_back(pending_subscribe{0, std::move(subscriptions), token});
    if (link_ == link::connected) {
        send_subscribes(out, now, false);
        update_timer(out, now);
    }
    return out;
}

actions session::unsubscribe(std::vector<std::string> filters, clock::time_point now) {
    actions out;
    const auto listed = [&](const std::string& f) { return std::find(filters.begin(), filters.end(), f) != filters.end(); };
    std::erase_if(subscriptions_, [&](const subscription& s) { return listed(s.filter); });
    // The client's own SUBSCRIBEs not sent yet lose the filters; one already
    // sent reaches the broker before the UNSUBSCRIBE that ends it.
    for (auto& p : pending_subscribes_) {
        if (p.packet_id != 0 || p.token != 0) continue;
        std::erase_if(p.subscriptions, [&](const subscription& s) { return listed(s.filter); });
    }
    std::erase_if(pending_subscribes_,
                  [](const pending_subscribe& p) { return p.packet_id == 0 && p.token == 0 && p.subscriptions.empty(); });
    if (filters.empty()) return out;
    pending_unsubscribes_.push_back(pending_unsubscribe{0, std::move(filters), {}});
    if (link_ == link::connected) {
        send_unsubscribes(out, now);
        update_timer(out, now);
    }
    return out;
}

void session::send_unsubscribes(actions& out, clock::time_point now) {
    for (auto it = pending_unsubscribes_.begin(); it != pending_unsubscribes_.end() && link_ == link::connected;) {
        // All subscribed again meanwhile: not sent. One sent keeps its
        // packet id until its UNSUBACK [MQTT-2.2.1-3].
        if (it->filters.empty() && it->packet_id == 0) {
            it = pending_unsubscribes_.erase(it);
            continue;
        }
        if (it->packet_id != 0) {
            ++it;
            continue;
        }
        const auto bytes = encode(mqtt::unsubscribe{1, it->filters, {}}, options_.version);
        // A filter MQTT cannot carry was never subscribed; nor can a packet
        // over the broker's Maximum Packet Size go [MQTT-3.2.2-15].
        if (!bytes || (limits_.maximum_packet_size > 0 && bytes->size() > limits_.maximum_packet_size)) {
            it = pending_unsubscribes_.erase(it);
            continue;
        }
        const auto id = allocate_packet_id();
        if (!id) return;  // every id in use; sent with the next drain
        it->packet_id = *id;
        it->sent = it->filters;
        send(out, mqtt::unsubscribe{*id, it->filters, {}}, now);
        ++it;
    }
}

void session::send_subscribes(actions& out, clock::time_point now, bool again) {
    bool ids_left = true;
    for (auto it = pending_subscribes_.begin(); it != pending_subscribes_.end() && link_ == link::connected;) {
        if (it->packet_id != 0 && !again) {
            ++it;
            continue;
        }
        if (const auto error = subscribe_error(*it)) {
            if (it->token == 0 && it->subscriptions.size() > 1) {
                // The client's own SUBSCRIBE (a renewal carries every
                // remembered filter): one SUBSCRIBE per filter, so that only
                // a filter that cannot go alone is left out.
                std::vector<pending_subscribe> alone;
                for (auto& s : it->subscriptions) alone.push_back(pending_subscribe{0, {std::move(s)}, 0});
                it = pending_subscribes_.erase(it);
                it = pending_subscribes_.insert(it, std::make_move_iterator(alone.begin()),
                                                std::make_move_iterator(alone.end()));
                continue;
            }
            // [MQTT-3.2.2-15]: never sent; the filters stay remembered, and
            // are renewed on a link whose broker takes them.
            out.push_back(action::subscribe_completed{it->token, {}, error, filters_of(it->subscriptions)});
            it = pending_subscribes_.erase(it);
            continue;
        }
        if (it->packet_id == 0) {
            const auto id = ids_left ? allocate_packet_id() : std::nullopt;
            if (!id) {  // every id in use; sent with the next drain
                ids_left = false;
                ++it;
                continue;
            }
            it->packet_id = *id;
        }
        send(out, mqtt::subscribe{it->packet_id, it->subscriptions, {}}, now);
        ++it;
    }
}

std::error_code session::subscribe_error(const pending_subscribe& s) const {
    // A filter a server closes the connection over (check_outgoing_string)
    // would close every link it is sent on.
    for (const auto& sub : s.subscriptions) {
        if (auto ec = check_outgoing_string(sub.filter)) return ec;
    }
    const auto bytes = encode(mqtt::subscribe{1, s.subscriptions, {}}, options_.version);
    if (!bytes) return bytes.error();
    // [MQTT-3.2.2-15]
    if (limits_.maximum_packet_size > 0 && bytes->size() > limits_.maximum_packet_size) {
        return make_error_code(mqtt_errc::subscribe_too_large);
    }
    return {};
}

actions session::disconnect(clock::time_point now) {
    actions out;
    if (link_ == link::connected) {
        send(out, mqtt::disconnect{}, now);  // [MQTT-3.14.4-1]: then close, and the will is discarded
    }
    if (link_ != link::disconnected) close(out, {});
    return out;
}

actions session::fail(std::error_code reason, std::uint8_t reason_code, clock::time_point now) {
    actions out;
    if (link_ != link::disconnected) close_with(out, reason, reason_code, now);
    return out;
}

actions session::abandon(std::error_code reason) {
    actions out;
    for (auto& e : inflight_) out.push_back(action::publish_completed{e.token, reason});
    for (auto& q : pending_) out.push_back(action::publish_completed{q.token, reason});
    for (auto& s : pending_subscribes_) {
        if (s.token != 0) out.push_back(action::subscribe_completed{s.token, {}, reason, filters_of(s.subscriptions)});
    }
    inflight_.clear();
    flow_ids_.reset();
    unwritten_flows_.clear();
    pending_.clear();
    pending_subscribes_.clear();
    pending_unsubscribes_.clear();
    return out;
}

namespace {

// Moves the tokens of the entries `mine` accepts to `taken` and erases them, in order.
template <class Container>
void take_mine(Container& entries, const std::function<bool(std::uint64_t)>& mine, std::vector<std::uint64_t>& taken) {
    for (auto it = entries.begin(); it != entries.end();) {
        if (mine(it->token)) {
            taken.push_back(it->token);
            it = entries.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace

std::vector<std::uint64_t> session::withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) {
    std::vector<std::uint64_t> taken;
    if (in_flight && link_ == link::disconnected) {
        take_mine(inflight_, mine, taken);
        index_flows();
    }
    take_mine(pending_, mine, taken);
    return taken;
}

std::vector<std::uint64_t> session::withdraw_queued(
    const std::function<bool(const message&, std::uint64_t)>& which) {
    std::vector<std::uint64_t> taken;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (which(it->message, it->token)) {
            taken.push_back(it->token);
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    return taken;
}

std::error_code session::resume_flows(std::vector<inflight_entry> flows) {
    if (link_ != link::disconnected) return make_error_code(mqtt_errc::session_not_idle);
    std::vector<queued_message> restart;
    for (auto& e : flows) {
        if (e.packet_id == 0 || packet_id_in_use(e.packet_id)) {
            restart.push_back(queued_message{std::move(e.message), e.token});
            continue;
        }
        last_packet_id_ = std::max(last_packet_id_, e.packet_id);
        add_flow(std::move(e));
    }
    pending_.insert(pending_.begin(), std::make_move_iterator(restart.begin()), std::make_move_iterator(restart.end()));
    return {};
}

std::vector<std::uint64_t> session::take_restarted() {
    std::vector<std::uint64_t> out;
    out.swap(restarted_);
    return out;
}

bool session::resend(actions& out, std::deque<inflight_entry>::iterator& it, clock::time_point now) {
    auto& e = *it;
    if (e.state == inflight_state::pubrec_received) {
        send(out, pubrel{e.packet_id, 0, {}}, now);
        return true;
    }
    const auto sendable = sendable_qos(e.message.qos);
    if (!sendable) {
        // Never above the broker's Maximum QoS: it waits (the callers hold
        // such a flow back before they get here).
        resend_due_.insert(e.packet_id);
        return true;
    }
    const auto q = *sendable;
    auto p = make_publish(e.message, q, e.packet_id, true);
    if (!p) {
        out.push_back(action::publish_completed{e.token, p.error()});
        it = erase_flow(it);
        return false;
    }
    e.message.qos = q;
    e.dup = true;
    send(out, std::move(*p), now);
    return true;
}

void session::resend_due(actions& out, clock::time_point now) {
    for (auto it = inflight_.begin(); it != inflight_.end() && !resend_due_.empty();) {
        // Every flow not waiting here is unacknowledged on this link.
        if (inflight_.size() - resend_due_.size() >= window()) return;
        if (!resend_due_.contains(it->packet_id)) {
            ++it;
            continue;
        }
        // Held by the broker's Maximum QoS, and what follows it with it.
        if (!sendable_qos(it->message.qos)) return;
        resend_due_.erase(it->packet_id);
        if (resend(out, it, now)) ++it;
    }
}

void session::drain(actions& out, clock::time_point now) {
    // Resumed flows first: they are older than anything queued, and hold
    // their slots of the window already. Until the last of them is out,
    // nothing queued goes, QoS 0 included: a QoS 0 message needs no slot,
    // but would overtake an older message of its topic that a lost link
    // kept from the broker.
    if (link_ == link::connected) resend_due(out, now);
    while (link_ == link::connected && resend_due_.empty() && !pending_.empty()) {
        auto& front = pending_.front();
        const auto q = sendable_qos(front.message.qos);
        if (!q) break;  // QoS 1/2 while the broker takes QoS 0 only: held, in order
        if (*q == qos::at_most_once) {
            auto p = make_publish(front.message, *q, 0, false);
            if (p) send(out, std::move(*p), now);
            out.push_back(action::publish_completed{front.token, p.error()});
            pending_.pop_front();
            continue;
        }
        if (inflight_.size() >= window()) break;
        const auto id = allocate_packet_id();
        if (!id) break;
        auto p = make_publish(front.message, *q, *id, false);
        if (!p) {
            out.push_back(action::publish_completed{front.token, p.error()});
            pending_.pop_front();
            continue;
        }
        send(out, std::move(*p), now);
        front.message.qos = *q;
        add_flow(inflight_entry{*id, std::move(front.message), front.token, inflight_state::publish_sent, true});
        if (track_writes_) unwritten_flows_.push_back(*id);
        pending_.pop_front();
    }
    // Subscriptions that found no free id earlier.
    send_subscribes(out, now, false);
    send_unsubscribes(out, now);
}

bool session::packet_id_in_use(std::uint16_t id) const {
    return flow_ids_.test(id) ||
           std::any_of(pending_subscribes_.begin(), pending_subscribes_.end(),
                       [&](const pending_subscribe& s) { return s.packet_id == id; }) ||
           std::any_of(pending_unsubscribes_.begin(), pending_unsubscribes_.end(),
                       [&](const pending_unsubscribe& u) { return u.packet_id == id; });
}

void session::add_flow(inflight_entry e) {
    flow_ids_.set(e.packet_id);
    inflight_.push_back(std::move(e));
}

std::deque<inflight_entry>::iterator session::erase_flow(
    const std::deque<inflight_entry>::iterator& it) {
    flow_ids_.reset(it->packet_id);
    resend_due_.erase(it->packet_id);
    return inflight_.erase(it);
}

void session::index_flows() {
    flow_ids_.reset();
    for (const auto& e : inflight_) flow_ids_.set(e.packet_id);
}

std::optional<std::uint16_t> session::allocate_packet_id() {
    // [MQTT-2.3.1-1], [MQTT-2.3.1-2]: non-zero and not in use by another flow.
    for (int tries = 0; tries < 65535; ++tries) {
        last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
        if (!packet_id_in_use(last_packet_id_)) return last_packet_id_;
    }
    return std::nullopt;
}

void session::close(actions& out, std::error_code reason, std::string detail) {
    drop_link(out);
    // Subscriptions sent but not acknowledged go out again on the next link.
    for (auto& s : pending_subscribes_) s.packet_id = 0;
    for (auto& u : pending_unsubscribes_) u.packet_id = 0;
    // The broker's Reason String goes to the log and to `status`: a broker
    // may send up to a whole packet of it.
    out.push_back(
        action::close_connection{reason, detail.size() > 200 ? shortened(detail, 200) : std::move(detail)});
}

void session::close_with(actions& out, std::error_code reason, std::uint8_t reason_code, clock::time_point now,
                         std::string detail) {
    // 5.0 asks for a DISCONNECT with the reason before closing on a protocol
    // error [MQTT-4.13.1-1]; only once CONNECT is out can one be sent.
    if (v5() && link_ != link::disconnected) send(out, mqtt::disconnect{reason_code, {}}, now);
    close(out, reason, std::move(detail));
}

std::size_t session::window() const noexcept {
    // [MQTT-3.3.4-7]: never more unacknowledged QoS 1/2 PUBLISH than the
    // broker's Receive Maximum.
    return std::max<std::size_t>(std::min<std::size_t>(options_.max_inflight, limits_.receive_maximum), 1);
}

std::optional<mqtt::qos> session::sendable_qos(mqtt::qos wanted) const {
    // [MQTT-3.2.2-11]: never above the broker's Maximum QoS. QoS 2 goes down
    // to 1 (still lossless, possibly duplicated); QoS 1/2 never go down to 0.
    if (wanted <= limits_.maximum_qos) return wanted;
    if (limits_.maximum_qos == qos::at_most_once) return std::nullopt;
    return limits_.maximum_qos;
}

bool session::held_by_maximum_qos() const noexcept {
    if (link_ != link::connected) return false;
    for (const auto& e : inflight_) {
        if (resend_due_.contains(e.packet_id)) return !sendable_qos(e.message.qos);
    }
    return !pending_.empty() && !sendable_qos(pending_.front().message.qos);
}

result<mqtt::publish> session::make_publish(const message& m, mqtt::qos q, std::uint16_t id, bool dup) {
    // Checked before anything is sent: a server closes the connection over a
    // topic it refuses, and the message would go again on every link.
    if (auto ec = check_outgoing_topic(m.topic)) return fieldbridge::fail(ec);
    if (v5() && !m.response_topic.empty()) {
        if (auto ec = check_outgoing_topic(m.response_topic)) return fieldbridge::fail(ec);
    }
    // [MQTT-3.2.2-14]: no retained PUBLISH to a broker without retain; the
    // message still goes out, as a plain one.
    mqtt::publish p{m.topic, m.payload, q, m.retain && limits_.retain_available, dup, id, {}};
    if (!v5()) return p;
    if (!m.response_topic.empty()) p.props.push_back(property{prop::response_topic, m.response_topic});
    if (!m.correlation_data.empty()) {
        p.props.push_back(property{prop::correlation_data,
                                   std::vector<std::uint8_t>(m.correlation_data.begin(), m.correlation_data.end())});
    }
    for (const auto& pair : m.user_properties) p.props.push_back(property{prop::user_property, pair});
    bool new_alias = false;
    if (limits_.topic_alias_maximum > 0) {
        // [MQTT-3.3.2-8]: aliases 1..Topic Alias Maximum. The first PUBLISH of a
        // topic carries name and alias, the later ones the alias alone.
        if (const auto it = topic_aliases_.find(m.topic); it != topic_aliases_.end()) {
            p.topic.clear();
            p.props.push_back(property{prop::topic_alias, std::uint32_t{it->second}});
        } else if (topic_aliases_.size() < limits_.topic_alias_maximum &&
                   m.topic.size() <= max_alias_topic_bytes - alias_topic_bytes_) {
            const auto alias = static_cast<std::uint16_t>(topic_aliases_.size() + 1);
            topic_aliases_.emplace(m.topic, alias);
            alias_topic_bytes_ += m.topic.size();
            p.props.push_back(property{prop::topic_alias, std::uint32_t{alias}});
            new_alias = true;
        }
    }
    if (limits_.maximum_packet_size > 0) {
        const auto bytes = encode(p, protocol_version::v5);
        if (!bytes || bytes->size() > limits_.maximum_packet_size) {
            if (new_alias) {
                topic_aliases_.erase(m.topic);
                alias_topic_bytes_ -= m.topic.size();
            }
            return fieldbridge::fail(bytes ? make_error_code(mqtt_errc::exceeds_broker_packet_size) : bytes.error());
        }
    }
    return p;
}

std::optional<clock::time_point> session::next_deadline() const {
    std::optional<clock::time_point> next;
    const auto consider = [&](std::optional<clock::time_point> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    consider(connack_deadline_);
    consider(ping_deadline_);
    if (link_ == link::connected && keepalive_.count() > 0 && !ping_deadline_) {
        consider(std::min(last_sent_, last_received_) + keepalive_);
    }
    return next;
}

void session::update_timer(actions& out, clock::time_point) {
    const auto next = next_deadline();
    if (next == armed_timer_) return;
    // The keepalive deadline moves later with every packet sent and
    // received. A timer armed earlier stays as it is: it fires early,
    // on_timer() finds nothing due and arms it for the new deadline. Moving
    // it every time would cost a system call per message.
    if (next && armed_timer_ && *armed_timer_ <= *next) return;
    armed_timer_ = next;
    if (next) {
        out.push_back(action::set_timer{*next});
    } else {
        out.push_back(action::cancel_timer{});
    }
}

session_state session::snapshot() const {
    session_state s;
    s.inflight.assign(inflight_.begin(), inflight_.end());
    s.incoming_qos2.assign(incoming_qos2_.begin(), incoming_qos2_.end());
    return s;
}

void session::flows(std::vector<flow_status>& out) const {
    out.clear();
    out.reserve(inflight_.size());
    for (const auto& e : inflight_) out.push_back(flow_status{e.token, e.packet_id, e.state, e.dup});
}

std::error_code session::restore(session_state state) {
    if (link_ != link::disconnected) return make_error_code(mqtt_errc::session_not_idle);
    inflight_.clear();
    flow_ids_.reset();
    incoming_qos2_ = std::set<std::uint16_t>(state.incoming_qos2.begin(), state.incoming_qos2.end());
    // A flow without a packet id of its own starts again as a queued message.
    return resume_flows(std::move(state.inflight));
}

}  // namespace fieldbridge::mqtt
