#include "mqtt/session.hpp"

#include <algorithm>

#include "mqtt/error.hpp"

namespace fieldbridge::mqtt {
namespace {

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

}  // namespace

session::session(session_options options) : options_(std::move(options)) {}

void session::send(actions& out, packet p, clock::time_point now) {
    out.push_back(action::send{std::move(p)});
    last_sent_ = now;
}

actions session::on_transport_connected(clock::time_point now) {
    actions out;
    if (link_ != link::disconnected) return out;
    link_ = link::awaiting_connack;
    connect c;
    c.version = options_.version;
    c.client_id = options_.client_id;
    c.clean_session = options_.clean_session;
    c.keepalive_seconds = static_cast<std::uint16_t>(std::clamp<std::int64_t>(options_.keepalive.count(), 0, 65535));
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
            close(out, make_error_code(mqtt_errc::protocol_error));  // [MQTT-3.2.0-1]: CONNACK comes first
        }
        return out;
    }
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, mqtt::publish>) {
                on_publish(out, x, now);
            } else if constexpr (std::is_same_v<T, puback>) {
                on_ack(out, x.packet_id, packet_type::puback, now);
            } else if constexpr (std::is_same_v<T, pubrec>) {
                on_ack(out, x.packet_id, packet_type::pubrec, now);
            } else if constexpr (std::is_same_v<T, pubcomp>) {
                on_ack(out, x.packet_id, packet_type::pubcomp, now);
            } else if constexpr (std::is_same_v<T, pubrel>) {
                // [MQTT-4.3.3-2]: PUBCOMP releases the id; the message was delivered on PUBLISH.
                incoming_qos2_.erase(x.packet_id);
                send(out, pubcomp{x.packet_id, 0, {}}, now);
            } else if constexpr (std::is_same_v<T, suback>) {
                on_suback(out, x);
            } else if constexpr (std::is_same_v<T, pingresp>) {
                ping_deadline_.reset();
            } else if constexpr (std::is_same_v<T, unsuback>) {
                // Nothing is unsubscribed by this client; tolerate it.
            } else if constexpr (std::is_same_v<T, mqtt::disconnect>) {
                close(out, make_error_code(mqtt_errc::connection_lost));
            } else {
                // CONNECT, a second CONNACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ:
                // never sent by a server.
                close(out, make_error_code(mqtt_errc::protocol_error));
            }
        },
        p);
    if (link_ == link::connected) update_timer(out, now);
    return out;
}

void session::on_connack(actions& out, const connack& c, clock::time_point now) {
    connack_deadline_.reset();
    if (c.return_code != 0) {
        close(out, connack_error(c.return_code));
        return;
    }
    link_ = link::connected;
    out.push_back(action::connected{c.session_present});
    if (!c.session_present) {
        // The broker has no state for us: flows in progress start again as
        // new messages, ahead of what was queued, in their original order
        // (QoS 1 may then arrive twice; QoS 2 cannot be kept exactly-once
        // without the broker's session).
        for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
            pending_.push_front(queued_message{it->message, it->token});
        }
        inflight_.clear();
        incoming_qos2_.clear();
        // Subscriptions are renewed; their completion carries token 0.
        std::vector<subscription> all = subscriptions_;
        pending_subscribes_.erase(std::remove_if(pending_subscribes_.begin(), pending_subscribes_.end(),
                                                 [](const pending_subscribe& s) { return s.token == 0; }),
                                  pending_subscribes_.end());
        if (!all.empty()) {
            // Filters still waiting for their first SUBACK are in `all` too.
            std::vector<subscription> renew;
            for (const auto& s : all) {
                const bool waiting = std::any_of(pending_subscribes_.begin(), pending_subscribes_.end(),
                                                 [&](const pending_subscribe& ps) {
                                                     return std::find(ps.subscriptions.begin(), ps.subscriptions.end(),
                                                                      s) != ps.subscriptions.end();
                                                 });
                if (!waiting) renew.push_back(s);
            }
            if (!renew.empty()) pending_subscribes_.insert(pending_subscribes_.begin(), pending_subscribe{0, renew, 0});
        }
    } else {
        // [MQTT-4.4.0-1]: resend unacknowledged PUBLISH (DUP=1) and PUBREL.
        for (auto& e : inflight_) {
            if (e.state == inflight_state::publish_sent) {
                mqtt::publish p{e.message.topic, e.message.payload, e.message.qos, e.message.retain, true, e.packet_id, {}};
                e.dup = true;
                send(out, std::move(p), now);
            } else {
                send(out, pubrel{e.packet_id, 0, {}}, now);
            }
        }
    }
    for (auto& s : pending_subscribes_) send_subscribe(out, s, now);
    drain(out, now);
    update_timer(out, now);
}

void session::on_publish(actions& out, const mqtt::publish& p, clock::time_point now) {
    switch (p.qos) {
        case qos::at_most_once:
            out.push_back(action::deliver{message{p.topic, p.payload, p.qos, p.retain}});
            break;
        case qos::at_least_once:
            out.push_back(action::deliver{message{p.topic, p.payload, p.qos, p.retain}});
            send(out, puback{p.packet_id, 0, {}}, now);
            break;
        case qos::exactly_once:
            // [MQTT-4.3.3-2]: deliver once; a resend (DUP) of an id not yet
            // released is acknowledged again but not delivered again.
            if (incoming_qos2_.insert(p.packet_id).second) {
                out.push_back(action::deliver{message{p.topic, p.payload, p.qos, p.retain}});
            }
            send(out, pubrec{p.packet_id, 0, {}}, now);
            break;
    }
}

void session::on_ack(actions& out, std::uint16_t id, packet_type type, clock::time_point now) {
    const auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const inflight_entry& e) { return e.packet_id == id; });
    if (it == inflight_.end()) {
        // A PUBREC for an id we no longer hold: answer PUBREL so that the
        // broker can finish its side [MQTT-4.3.3].
        if (type == packet_type::pubrec) send(out, pubrel{id, 0, {}}, now);
        return;
    }
    const auto q = it->message.qos;
    if (type == packet_type::puback && q == qos::at_least_once) {
        out.push_back(action::publish_completed{it->token, {}});
        inflight_.erase(it);
        drain(out, now);
    } else if (type == packet_type::pubrec && q == qos::exactly_once) {
        // [MQTT-4.3.3-1]: from here on the PUBLISH is never sent again, only PUBREL.
        it->state = inflight_state::pubrec_received;
        send(out, pubrel{id, 0, {}}, now);
    } else if (type == packet_type::pubcomp && q == qos::exactly_once && it->state == inflight_state::pubrec_received) {
        out.push_back(action::publish_completed{it->token, {}});
        inflight_.erase(it);
        drain(out, now);
    } else {
        close(out, make_error_code(mqtt_errc::protocol_error));  // an ack that does not fit the flow
    }
}

void session::on_suback(actions& out, const suback& s) {
    const auto it = std::find_if(pending_subscribes_.begin(), pending_subscribes_.end(),
                                 [&](const pending_subscribe& p) { return p.packet_id == s.packet_id && p.packet_id; });
    if (it == pending_subscribes_.end()) return;
    action::subscribe_completed done{it->token, s.return_codes, {}};
    if (std::find(s.return_codes.begin(), s.return_codes.end(), suback_failure) != s.return_codes.end()) {
        done.error = make_error_code(mqtt_errc::subscription_refused);
    }
    pending_subscribes_.erase(it);
    out.push_back(std::move(done));
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
    if (link_ == link::connected && options_.keepalive.count() > 0 && !ping_deadline_) {
        // [MQTT-3.1.2-23]: something must be sent within the keepalive; a
        // ping is also sent when nothing was received for that long, so that
        // a dead link is noticed even while we keep publishing.
        const auto quiet_since = std::min(last_sent_, last_received_);
        if (now >= quiet_since + options_.keepalive) {
            send(out, pingreq{}, now);
            ping_deadline_ = now + options_.ping_timeout;
        }
    }
    update_timer(out, now);
    return out;
}

actions session::on_connection_lost(clock::time_point) {
    actions out;
    if (link_ == link::disconnected) return out;
    drop_link(out);
    return out;
}

void session::drop_link(actions& out) {
    link_ = link::disconnected;
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
    pending_subscribes_.push_back(pending_subscribe{0, std::move(subscriptions), token});
    if (link_ == link::connected) {
        send_subscribe(out, pending_subscribes_.back(), now);
        update_timer(out, now);
    }
    return out;
}

void session::send_subscribe(actions& out, pending_subscribe& s, clock::time_point now) {
    if (s.packet_id == 0) {
        const auto id = allocate_packet_id();
        if (!id) return;  // every id in use; sent with the next drain
        s.packet_id = *id;
    }
    send(out, mqtt::subscribe{s.packet_id, s.subscriptions, {}}, now);
}

actions session::disconnect(clock::time_point now) {
    actions out;
    if (link_ == link::connected) {
        send(out, mqtt::disconnect{}, now);  // [MQTT-3.14.4-1]: then close, and the will is discarded
    }
    if (link_ != link::disconnected) close(out, {});
    return out;
}

actions session::abandon(std::error_code reason) {
    actions out;
    for (auto& e : inflight_) out.push_back(action::publish_completed{e.token, reason});
    for (auto& q : pending_) out.push_back(action::publish_completed{q.token, reason});
    for (auto& s : pending_subscribes_) {
        if (s.token != 0) out.push_back(action::subscribe_completed{s.token, {}, reason});
    }
    inflight_.clear();
    pending_.clear();
    pending_subscribes_.clear();
    return out;
}

void session::drain(actions& out, clock::time_point now) {
    while (link_ == link::connected && !pending_.empty()) {
        auto& front = pending_.front();
        if (front.message.qos == qos::at_most_once) {
            send(out, mqtt::publish{front.message.topic, front.message.payload, front.message.qos,
                                    front.message.retain, false, 0, {}},
                 now);
            out.push_back(action::publish_completed{front.token, {}});
            pending_.pop_front();
            continue;
        }
        if (inflight_.size() >= std::max<std::size_t>(options_.max_inflight, 1)) break;
        const auto id = allocate_packet_id();
        if (!id) break;
        send(out, mqtt::publish{front.message.topic, front.message.payload, front.message.qos, front.message.retain,
                                false, *id, {}},
             now);
        inflight_.push_back(inflight_entry{*id, std::move(front.message), front.token, inflight_state::publish_sent,
                                           true});
        pending_.pop_front();
    }
    // Subscriptions that found no free id earlier.
    for (auto& s : pending_subscribes_) {
        if (link_ == link::connected && s.packet_id == 0) send_subscribe(out, s, now);
    }
}

bool session::packet_id_in_use(std::uint16_t id) const {
    return std::any_of(inflight_.begin(), inflight_.end(), [&](const inflight_entry& e) { return e.packet_id == id; }) ||
           std::any_of(pending_subscribes_.begin(), pending_subscribes_.end(),
                       [&](const pending_subscribe& s) { return s.packet_id == id; });
}

std::optional<std::uint16_t> session::allocate_packet_id() {
    // [MQTT-2.3.1-1], [MQTT-2.3.1-2]: non-zero and not in use by another flow.
    for (int tries = 0; tries < 65535; ++tries) {
        last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
        if (!packet_id_in_use(last_packet_id_)) return last_packet_id_;
    }
    return std::nullopt;
}

void session::close(actions& out, std::error_code reason) {
    drop_link(out);
    // Subscriptions sent but not acknowledged go out again on the next link.
    for (auto& s : pending_subscribes_) s.packet_id = 0;
    out.push_back(action::close_connection{reason});
}

std::optional<clock::time_point> session::next_deadline() const {
    std::optional<clock::time_point> next;
    const auto consider = [&](std::optional<clock::time_point> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    consider(connack_deadline_);
    consider(ping_deadline_);
    if (link_ == link::connected && options_.keepalive.count() > 0 && !ping_deadline_) {
        consider(std::min(last_sent_, last_received_) + options_.keepalive);
    }
    return next;
}

void session::update_timer(actions& out, clock::time_point) {
    const auto next = next_deadline();
    if (next == armed_timer_) return;
    armed_timer_ = next;
    if (next) {
        out.push_back(action::set_timer{*next});
    } else {
        out.push_back(action::cancel_timer{});
    }
}

session_state session::snapshot() const {
    session_state s;
    s.inflight = inflight_;
    s.incoming_qos2.assign(incoming_qos2_.begin(), incoming_qos2_.end());
    return s;
}

std::error_code session::restore(session_state state) {
    if (link_ != link::disconnected) return make_error_code(mqtt_errc::session_not_idle);
    inflight_ = std::move(state.inflight);
    incoming_qos2_ = std::set<std::uint16_t>(state.incoming_qos2.begin(), state.incoming_qos2.end());
    for (const auto& e : inflight_) last_packet_id_ = std::max(last_packet_id_, e.packet_id);
    return {};
}

}  // namespace fieldbridge::mqtt
