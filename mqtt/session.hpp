// The MQTT client protocol as a state machine without I/O: the shell feeds
// it events (transport up, packet in, timer fired, link lost, application
// requests) with the current time, and carries out the actions it returns
// (send, arm the one timer, deliver, complete, close). Not thread-safe: one
// owner calls it from one thread. The in-flight ledger is plain data
// (snapshot()/restore()) so that a durable store can persist and resume it.
#pragma once

#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packet.hpp"

namespace fieldbridge::mqtt {

using clock = std::chrono::steady_clock;

struct session_options {
    protocol_version version = protocol_version::v3_1_1;
    std::string client_id;
    std::chrono::seconds keepalive{30};  // 0 turns keepalive off
    bool clean_session = true;  // 5.0: Clean Start
    // 5.0 Session Expiry Interval: seconds the broker keeps the session after
    // the link drops; 0 ends it with the link, 0xFFFFFFFF never. 3.1.1 has
    // no such field (a persistent session lasts until a clean one replaces it).
    std::uint32_t session_expiry = 0;
    std::optional<will_message> will;
    std::optional<std::string> username;
    std::optional<std::string> password;
    // Unacknowledged outgoing QoS 1/2 PUBLISH packets at any time; further
    // messages wait in order.
    std::size_t max_inflight = 64;
    // How long a PINGREQ may go unanswered before the link is declared dead.
    std::chrono::milliseconds ping_timeout{5000};
    std::chrono::milliseconds connack_timeout{10000};
    // The largest packet this client takes (mqtt/inbound.hpp); 5.0 tells the
    // broker in CONNECT (Maximum Packet Size, [MQTT-3.1.2-24]). 0: not sent.
    std::uint32_t maximum_packet_size = 0;
};

// Where an outgoing QoS 1/2 message stands in its flow.
enum class inflight_state : std::uint8_t {
    publish_sent,     // PUBLISH sent; awaiting PUBACK (QoS 1) or PUBREC (QoS 2)
    pubrec_received,  // QoS 2: PUBREC received and PUBREL sent; awaiting PUBCOMP
};

struct inflight_entry {
    std::uint16_t packet_id = 0;
    mqtt::message message;
    std::uint64_t token = 0;
    inflight_state state = inflight_state::publish_sent;
    bool dup = false;  // the PUBLISH went out at least once, so a resend carries DUP=1

    bool operator==(const inflight_entry&) const = default;
};

// Everything a persistent session has to survive a restart of the process:
// outgoing flows in the order they started, and the ids of incoming QoS 2
// messages delivered but not yet released by PUBREL.
struct session_state {
    std::vector<inflight_entry> inflight;
    std::vector<std::uint16_t> incoming_qos2;

    bool operator==(const session_state&) const = default;
};

// Where one outgoing flow stands, without its message: what a durable
// ledger records before each write, cheap enough to take every time.
struct flow_status {
    std::uint64_t token = 0;
    std::uint16_t packet_id = 0;
    inflight_state state = inflight_state::publish_sent;
    bool dup = false;
};

// What the broker announced in its CONNACK (5.0), with the 3.1.1 defaults
// (no limits) otherwise. Valid while connected.
struct server_limits {
    std::uint16_t receive_maximum = 65535;
    std::uint32_t maximum_packet_size = 0;  // 0: no limit announced
    mqtt::qos maximum_qos = qos::exactly_once;
    bool retain_available = true;
    std::uint16_t topic_alias_maximum = 0;
    std::optional<std::uint16_t> server_keep_alive;
    std::string assigned_client_id;

    bool operator==(const server_limits&) const = default;
};

// Actions the owner carries out, in order.
namespace action {
struct send {
    mqtt::packet packet;
};
struct set_timer {
    clock::time_point deadline;  // call on_timer(now) at or after this instant
};
struct cancel_timer {};
struct deliver {
    mqtt::message message;
};
struct publish_completed {
    std::uint64_t token = 0;
    std::error_code error;  // empty: QoS 0 handed to the transport, QoS 1 PUBACK, QoS 2 PUBCOMP
    // A QoS 2 PUBLISH the broker answered with PUBACK: it granted QoS 1 and
    // took the message (at least once, not exactly once).
    bool downgraded = false;
};
struct subscribe_completed {
    std::uint64_t token = 0;
    std::vector<std::uint8_t> return_codes;
    std::error_code error;  // subscription_refused when any code is 0x80
    // The SUBSCRIBE's filters in its order (return_codes[i] answers
    // filters[i]), so that a failure can name them.
    std::vector<std::string> filters;
};
// 5.0: the broker's UNSUBACK refused to end some of an UNSUBSCRIBE's
// subscriptions (a reason code of 0x80 or more): their messages may go on
// arriving. 3.1.1's UNSUBACK carries no codes.
struct unsubscribe_refused {
    std::vector<std::string> filters;        // the UNSUBSCRIBE's, in its order
    std::vector<std::uint8_t> reason_codes;  // reason_codes[i] answers filters[i]
};
struct connected {
    bool session_present = false;
};
struct close_connection {
    std::error_code reason;  // empty for a requested disconnect
    std::string detail;      // what the log says of it: the broker's Reason String (5.0), the packet at fault
};
}  // namespace action

using session_action = std::variant<action::send, action::set_timer, action::cancel_timer, action::deliver,
                                    action::publish_completed, action::subscribe_completed,
                                    action::unsubscribe_refused, action::connected, action::close_connection>;
using actions = std::vector<session_action>;

// Carries out `list` for an owner: the session's own actions (send, timers,
// connected, close) first, in order, then the notifications (completions,
// deliveries), in order. A notification handler may call into the session
// again (hand over the next message, publish a reply); what that sends
// then goes out after every packet of this list, so the wire keeps the
// session's order (a QoS 0 message handed over on an ack cannot overtake
// the QoS 1/2 message that ack let out).
template <class Perform>
void carry_out(actions& list, Perform&& perform) {
    const auto notification = [](const session_action& a) {
        return std::holds_alternative<action::publish_completed>(a) || std::holds_alternative<action::deliver>(a) ||
               std::holds_alternative<action::subscribe_completed>(a) ||
               std::holds_alternative<action::unsubscribe_refused>(a);
    };
    for (auto& a : list) {
        if (!notification(a)) std::visit(perform, a);
    }
    for (auto& a : list) {
        if (notification(a)) std::visit(perform, a);
    }
}

// Bytes of the topics one connection keeps Topic Aliases for (5.0). A
// broker may allow 65 535 aliases, and topics are up to 65 535 bytes each
// (a command's Response Topic is the caller's choice): past this bound a
// new topic goes by its name alone.
inline constexpr std::size_t max_alias_topic_bytes = std::size_t{1} << 20;

class session {
public:
    enum class link { disconnected, awaiting_connack, connected };

    explicit session(session_options options);

    // Transport is up: sends CONNECT and waits for CONNACK.
    actions on_transport_connected(clock::time_point now);
    actions on_packet(const packet& p, clock::time_point now);
    // Bytes came from the broker (a packet not yet whole, or the rest of one
    // too large to take): the link is alive, so a PINGREQ outstanding gets
    // ping_timeout from now for its PINGRESP, which may wait behind them.
    void note_received(clock::time_point now);
    // A PUBLISH too large to take (inbound.hpp), without its payload: it is
    // acknowledged as its QoS asks, never delivered.
    actions on_oversized_publish(const mqtt::publish& head, clock::time_point now);
    actions on_timer(clock::time_point now);
    // Transport is gone (for whatever reason); state is kept for the next link.
    actions on_connection_lost(clock::time_point now);

    // Queue a message; `token` comes back in publish_completed.
    actions publish(message m, std::uint64_t token, clock::time_point now);
    // Subscribe now if connected, else when connected; the subscription is
    // remembered and renewed on every connection without a session present.
    actions subscribe(std::vector<subscription> subscriptions, std::uint64_t token, clock::time_point now);
    // Ends the filters' subscriptions: they are no longer renewed, and an
    // UNSUBSCRIBE goes now if connected, else on the next link whose broker
    // kept the session (a fresh session has none to end). A filter
    // subscribed again before its UNSUBSCRIBE went is not unsubscribed.
    // What the broker answers (5.0: a reason code per filter) is not
    // reported: the owner stops listening to the filters either way.
    actions unsubscribe(std::vector<std::string> filters, clock::time_point now);
    // The will of every CONNECT from the next one on (none: no will); the
    // connection up now keeps the one it registered.
    void set_will(std::optional<will_message> will) { options_.will = std::move(will); }
    // Sends DISCONNECT if connected, then asks for the link to close.
    actions disconnect(clock::time_point now);
    // The owner found the link unusable (e.g. the decoder refused the bytes):
    // in 5.0 a DISCONNECT with `reason_code` goes out first [MQTT-4.13.1-1].
    actions fail(std::error_code reason, std::uint8_t reason_code, clock::time_point now);
    // Completes every queued and in-flight message with `reason` and forgets
    // them: the application gave up (client stopped).
    actions abandon(std::error_code reason);
    // Takes back, without completing them, the queued messages whose token
    // `mine` accepts (in queue order), and with `in_flight` (only while
    // disconnected) their flows in progress too: an owner with a durable
    // ledger reloads them from there.
    std::vector<std::uint64_t> withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight);
    // The same for queued messages only, chosen by message and token.
    std::vector<std::uint64_t> withdraw_queued(const std::function<bool(const message&, std::uint64_t)>& which);
    // Adds flows persisted by the owner (only while disconnected), after the
    // ones held. A flow whose packet id is taken by one held starts again as
    // a queued message, ahead of the queue.
    std::error_code resume_flows(std::vector<inflight_entry> flows);
    // The tokens of flows this session started again as new messages
    // because the broker had no session for them (CONNACK Session Present
    // 0), since the last call: a durable ledger still holds them as sent or
    // PUBREC-received and must record them as queued before anything else
    // is written, or a later resumed session would finish them with PUBREL
    // unpublished. Kept only after keep_restarted(): an owner that never
    // takes them would make the list grow with every such CONNACK.
    //
    // Also the flows this session started on a link whose transport went
    // (on_connection_lost(), after a close of its own too) before any write
    // took their PUBLISH (see written()): the broker never saw
    // them, so they go back to the queue, ahead of it, as new messages, and
    // a QoS 0 message of their topic queued before them (which the owner
    // may take back unwritten) is not overtaken by their resend.
    std::vector<std::uint64_t> take_restarted();
    void keep_restarted() { keep_restarted_ = true; }
    // The owner handed everything sent so far to a write on the link: the
    // PUBLISH packets of the flows started so far may reach the broker.
    // Only after track_writes(), by an owner that calls written() before
    // each write; otherwise every flow sent is taken as written.
    void written() { unwritten_flows_.clear(); }
    void track_writes() { track_writes_ = true; }

    link state() const noexcept { return link_; }
    const server_limits& limits() const noexcept { return limits_; }
    // The keepalive in force: the broker's Server Keep Alive when it set one.
    std::chrono::seconds keepalive() const noexcept { return keepalive_; }
    // QoS 1/2 messages waiting because the broker's Maximum QoS is 0.
    bool held_by_maximum_qos() const noexcept;
    std::size_t queued() const noexcept { return pending_.size(); }
    std::size_t inflight() const noexcept { return inflight_.size(); }

    session_state snapshot() const;
    // The outgoing flows in the order they started (replaces out's contents),
    // and the incoming QoS 2 ids not yet released: snapshot() without copies.
    void flows(std::vector<flow_status>& out) const;
    const std::set<std::uint16_t>& incoming_qos2() const noexcept { return incoming_qos2_; }
    // Resume a persisted session; only while disconnected. The flows replace
    // those held; one without a packet id of its own (0, or one an earlier
    // flow has) starts again as a queued message, as in resume_flows().
    std::error_code restore(session_state state);

private:
    struct queued_message {
        mqtt::message message;
        std::uint64_t token = 0;
    };
    struct pending_subscribe {
        std::uint16_t packet_id = 0;
        std::vector<subscription> subscriptions;
        std::uint64_t token = 0;
    };

    struct pending_unsubscribe {
        std::uint16_t packet_id = 0;  // 0: not sent on this link
        std::vector<std::string> filters;
        // As last sent: what the UNSUBACK's codes answer (filters loses
        // those subscribed again meanwhile).
        std::vector<std::string> sent;
    };

    void send(actions& out, packet p, clock::time_point now);
    void drain(actions& out, clock::time_point now);
    // The UNSUBSCRIBEs not sent on this link yet, after the SUBSCRIBEs; one
    // that cannot go on this link (too large, no free packet id) waits.
    void send_unsubscribes(actions& out, clock::time_point now);
    // Resumed flows not resent yet on this link, in the order they started,
    // while the broker's Receive Maximum leaves room.
    void resend_due(actions& out, clock::time_point now);
    // Resends one resumed flow: PUBLISH with DUP=1, or PUBREL. False: it
    // could not be sent (too large for the broker) and was completed.
    bool resend(actions& out, std::deque<inflight_entry>::iterator& it, clock::time_point now);
    // The SUBSCRIBEs not sent on this link yet (again: those sent before it
    // too); one larger than the broker's Maximum Packet Size completes with
    // subscribe_too_large instead, one that cannot be encoded with the
    // encoder's error. The client's own SUBSCRIBEs (token 0) that do not go
    // whole are split into one per filter first.
    void send_subscribes(actions& out, clock::time_point now, bool again);
    // Why `s` cannot go on this link (it does not encode, or exceeds the
    // broker's Maximum Packet Size), or nothing.
    std::error_code subscribe_error(const pending_subscribe& s) const;
    std::optional<std::uint16_t> allocate_packet_id();
    bool packet_id_in_use(std::uint16_t id) const;
    // inflight_ changes that keep flow_ids_ in step.
    void add_flow(inflight_entry e);
    std::deque<inflight_entry>::iterator erase_flow(const std::deque<inflight_entry>::iterator& it);
    void index_flows();
    void on_connack(actions& out, const connack& c, clock::time_point now);
    // Acknowledges p as its QoS asks, and hands it to the owner unless
    // deliver is false (a PUBLISH too large to take).
    void on_publish(actions& out, const mqtt::publish& p, clock::time_point now, bool deliver = true);
    void on_ack(actions& out, std::uint16_t id, packet_type type, std::uint8_t reason_code, clock::time_point now);
    void on_suback(actions& out, const suback& s);
    void on_unsuback(actions& out, const unsuback& u);
    void close(actions& out, std::error_code reason, std::string detail = {});
    // 5.0: DISCONNECT with a reason code, then close; 3.1.1: just close.
    void close_with(actions& out, std::error_code reason, std::uint8_t reason_code, clock::time_point now,
                    std::string detail = {});
    // The PUBLISH for m at QoS q (topic alias, 5.0 properties); an error
    // that mqtt::unsendable() accepts when no server would take it (its topic
    // or Response Topic is no topic name a server takes) or it would exceed
    // the broker's Maximum Packet Size.
    result<mqtt::publish> make_publish(const message& m, mqtt::qos q, std::uint16_t id, bool dup);
    std::optional<mqtt::qos> sendable_qos(mqtt::qos wanted) const;
    std::size_t window() const noexcept;
    bool v5() const noexcept { return options_.version == protocol_version::v5; }
    void drop_link(actions& out);
    // The link failed: the flows no write took go back to the queue.
    void restart_unwritten_flows();
    void update_timer(actions& out, clock::time_point now);
    std::optional<clock::time_point> next_deadline() const;

    session_options options_;
    link link_ = link::disconnected;
    std::deque<queued_message> pending_;
    // In the order the flows started. A deque: acknowledgements mostly end
    // the oldest flow, and a vector would move every other flow's message
    // for each of them.
    std::deque<inflight_entry> inflight_;
    std::bitset<65536> flow_ids_;  // the packet ids of inflight_
    // Flows of a resumed session whose PUBLISH (DUP) waits for room under
    // the broker's Receive Maximum on this link; emptied with the link.
    std::set<std::uint16_t> resend_due_;
    std::vector<std::uint64_t> restarted_;  // see take_restarted()
    // The packet ids of the flows started on this link whose PUBLISH no
    // write has taken yet (written()), in the order they started.
    std::vector<std::uint16_t> unwritten_flows_;
    bool track_writes_ = false;
    bool keep_restarted_ = false;
    std::set<std::uint16_t> incoming_qos2_;
    std::vector<subscription> subscriptions_;  // everything ever subscribed, renewed on a fresh session
    std::vector<pending_subscribe> pending_subscribes_;
    std::vector<pending_unsubscribe> pending_unsubscribes_;
    std::uint16_t last_packet_id_ = 0;
    clock::time_point last_sent_{};
    clock::time_point last_received_{};
    std::optional<clock::time_point> ping_deadline_;
    std::optional<clock::time_point> connack_deadline_;
    std::optional<clock::time_point> armed_timer_;
    server_limits limits_;
    std::chrono::seconds keepalive_;
    std::map<std::string, std::uint16_t, std::less<>> topic_aliases_;  // this connection's outgoing aliases
    std::size_t alias_topic_bytes_ = 0;                                // their topics' bytes together
};

}  // namespace fieldbridge::mqtt
