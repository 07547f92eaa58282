// The uplink without sockets, for the model-based tests: a real forwarder
// and a real message_store (SQLite in a temporary directory) over the pure
// MQTT session, whose packets go to a scripted broker instead of a socket.
// The broker is the reference for what was delivered; a second, read-only
// SQLite connection is the reference for what the store holds durably
// (it sees committed transactions only). Everything runs on the test's
// thread with a manual clock.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/forwarder.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/uplink.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge::gateway::model {

// A message of the test is named by a number carried as its payload; one
// sent as historical (store.order: fresh_first) has "/h" after it.
inline std::string key_payload(std::uint64_t key) { return "k" + std::to_string(key); }
inline std::uint64_t payload_key(const std::string& payload) { return std::stoull(payload.substr(1)); }
inline void mark_key_historical(mqtt::message& m) {
    m.payload += "/h";
    m.retain = false;
}
inline bool marked_historical(const std::string& payload) { return payload.ends_with("/h"); }

// One PUBLISH as the broker saw it.
struct delivery {
    std::uint64_t key = 0;
    mqtt::qos qos = mqtt::qos::at_most_once;
    bool dup = false;
    bool delivered = false;  // passed on to subscribers (not a QoS 2 duplicate)
    int incarnation = 0;     // the broker's: a restart without persistence starts a new one
    bool historical = false; // marked as historical (store.order: fresh_first)
    std::uint8_t refused = 0;  // the reason code of a refusal (MQTT 5.0), 0 when taken
    std::uint64_t sent = 0;    // on the broker's clock, when the client's session sent it
};

// A broker with the behaviour the scenarios choose: persistent sessions it
// may forget, a Receive Maximum, and optionally a QoS 2 taken as QoS 1
// (answered with PUBACK).
struct broker {
    bool downgrade_qos2 = false;
    std::uint16_t receive_maximum = 65535;  // 5.0 CONNACK property
    mqtt::qos maximum_qos = mqtt::qos::exactly_once;  // 5.0 CONNACK property
    std::string qos_violation;                        // a PUBLISH above the Maximum QoS, if any
    bool v5 = false;
    // The next `refusals` QoS 1/2 PUBLISH packets are answered with this
    // reason code (5.0) and not taken.
    std::uint8_t refusal_code = 0;
    std::size_t refusals = 0;
    std::map<std::uint64_t, int> refused_keys;  // key -> PUBLISH packets of it refused
    std::set<std::uint64_t> refused_for_good;   // keys refused with a code other than 0x97
    // A refused message was out from its PUBLISH (when the client's session
    // sent it, sent_at) until the client had taken in the refusal or lost
    // the link; a later
    // message of its topic sent in between may overtake it: nothing could
    // tell the forwarder to hold that one back. One clock of events.
    std::uint64_t clock = 0;
    std::map<std::uint64_t, std::uint64_t> sent_at;             // key -> its latest PUBLISH
    std::map<std::uint64_t, std::vector<std::uint64_t>> sends;  // key -> each PUBLISH of it
    std::map<std::uint64_t, std::vector<std::uint64_t>>
        handovers;                                        // key -> each hand-over of it to the client
    std::map<std::uint16_t, std::uint64_t> refused_pids;  // packet id -> key, refusal not yet told
    std::map<std::uint64_t, std::uint64_t> untold;  // key -> its refused send, the refusal lost with the link
    // The client's session sends `key` (into its write buffer).
    void sending(std::uint64_t key) {
        sent_at[key] = ++clock;
        sends[key].push_back(clock);
    }
    // `key` is written to the broker (again): a refusal the client never
    // had ends here (not at a send that a lost link or a crash kept from
    // the wire).
    void written(std::uint64_t key) {
        if (const auto it = untold.find(key); it != untold.end()) {
            refused_while_out[key].emplace_back(it->second, ++clock);
            untold.erase(it);
        }
    }
    std::map<std::uint64_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> refused_while_out;

    bool has_session = false;
    int incarnation = 0;
    std::set<std::uint16_t> qos2_received;      // PUBREC sent, PUBREL awaited
    std::set<std::uint16_t> outstanding;        // QoS 1/2 PUBLISH not yet finally acknowledged on this link
    std::deque<mqtt::packet> to_client;         // acknowledgements not yet delivered
    std::vector<delivery> log;                  // every PUBLISH received, in order
    std::string violation;                      // protocol rule the client broke, if any
    // QoS 2 packet ids whose PUBLISH this broker session received: a PUBREL
    // for another would finish, unpublished here, a flow this session never
    // had (the client resumed a session the broker had forgotten).
    std::set<std::uint16_t> session_qos2_ids;
    std::string resume_violation;
    // The client could not have recorded that the broker forgot it (killed
    // before any write after a CONNACK with Session Present 0): until the
    // next new session, such a PUBREL is what it can only send.
    bool unknown_pubrel_excused = false;

    // The broker restarts without persistence: sessions and QoS 2 state are gone.
    void forget() {
        has_session = false;
        session_qos2_ids.clear();
        unknown_pubrel_excused = false;
        qos2_received.clear();
        ++incarnation;
    }
    void link_lost() {
        to_client.clear();
        // Refusals the client never had: it holds those messages as in
        // flight until it sends them again (after a reconnect, or a restart
        // that resumed them), and what it sends meanwhile goes first.
        for (const auto& [pid, key] : refused_pids)
            untold.emplace(key, sent_at[key]);
        refused_pids.clear();
        outstanding.clear();
    }

    mqtt::connack on_connect(const mqtt::connect& c) {
        mqtt::connack a;
        a.session_present = has_session && !c.clean_session;
        if (!a.session_present) {
            qos2_received.clear();
            session_qos2_ids.clear();
            unknown_pubrel_excused = false;
        }
        has_session = true;
        if (v5) a.props.push_back(mqtt::property{mqtt::prop::receive_maximum, std::uint32_t{receive_maximum}});
        if (v5 && maximum_qos != mqtt::qos::exactly_once) {
            a.props.push_back(mqtt::property{mqtt::prop::maximum_qos, static_cast<std::uint32_t>(maximum_qos)});
        }
        return a;
    }

    void on_packet(const mqtt::packet& p) {
        if (const auto* pub = std::get_if<mqtt::publish>(&p)) return on_publish(*pub);
        if (const auto* rel = std::get_if<mqtt::pubrel>(&p)) {
            if (!session_qos2_ids.count(rel->packet_id) && !unknown_pubrel_excused && resume_violation.empty()) {
                resume_violation = "PUBREL " + std::to_string(rel->packet_id) +
                                   " for a QoS 2 PUBLISH this broker session never received (incarnation " +
                                   std::to_string(incarnation) + ")";
            }
            qos2_received.erase(rel->packet_id);
            to_client.push_back(mqtt::pubcomp{rel->packet_id, 0, {}});
            return;
        }
    }

    void on_publish(const mqtt::publish& p) {
        delivery d{payload_key(p.payload), p.qos, p.dup, true, incarnation, marked_historical(p.payload)};
        d.sent = sent_at[d.key];
        if (p.qos > maximum_qos && qos_violation.empty()) {
            qos_violation = "PUBLISH of message " + std::to_string(d.key) + " at QoS " +
                            std::to_string(static_cast<int>(p.qos)) + ", the broker's Maximum QoS " +
                            std::to_string(static_cast<int>(maximum_qos)) + " (a DISCONNECT 0x9B)";
        }
        if (p.qos != mqtt::qos::at_most_once) {
            outstanding.insert(p.packet_id);
            if (outstanding.size() > (v5 ? receive_maximum : 65535)) {
                violation = "more unacknowledged QoS 1/2 PUBLISH than the Receive Maximum " +
                            std::to_string(receive_maximum);
            }
        }
        // A QoS 2 PUBLISH whose packet id waits for its PUBREL is a duplicate
        // the broker has taken already: answered PUBREC, never refused
        // [MQTT-4.3.3-9] (a refusal would have its sender publish it again).
        const bool taken_already =
            p.qos == mqtt::qos::exactly_once && !downgrade_qos2 && qos2_received.count(p.packet_id) > 0;
        if (p.qos != mqtt::qos::at_most_once && refusals > 0 && !taken_already) {
            --refusals;
            d.delivered = false;
            d.refused = refusal_code;
            ++refused_keys[d.key];
            if (refusal_code != 0x97)
                refused_for_good.insert(d.key);
            refused_pids[p.packet_id] = d.key;
            if (p.qos == mqtt::qos::at_least_once || downgrade_qos2) {
                to_client.push_back(mqtt::puback{p.packet_id, refusal_code, {}});
            } else {
                to_client.push_back(mqtt::pubrec{p.packet_id, refusal_code, {}});
            }
            log.push_back(d);
            return;
        }
        switch (p.qos) {
            case mqtt::qos::at_most_once:
                break;
            case mqtt::qos::at_least_once:
                to_client.push_back(mqtt::puback{p.packet_id, 0, {}});
                break;
            case mqtt::qos::exactly_once:
                if (downgrade_qos2) {
                    to_client.push_back(mqtt::puback{p.packet_id, 0, {}});
                    break;
                }
                d.delivered = qos2_received.insert(p.packet_id).second;
                session_qos2_ids.insert(p.packet_id);
                to_client.push_back(mqtt::pubrec{p.packet_id, 0, {}});
                break;
        }
        log.push_back(d);
    }

    // The client has taken in an acknowledgement: a refusal ends the span in
    // which the refused message was out.
    void told(const mqtt::packet& p) {
        std::optional<std::uint16_t> refusal;
        if (const auto* a = std::get_if<mqtt::puback>(&p); a && a->reason_code >= 0x80)
            refusal = a->packet_id;
        if (const auto* r = std::get_if<mqtt::pubrec>(&p); r && r->reason_code >= 0x80)
            refusal = r->packet_id;
        if (!refusal)
            return;
        if (const auto it = refused_pids.find(*refusal); it != refused_pids.end()) {
            refused_while_out[it->second].emplace_back(sent_at[it->second], ++clock);
            refused_pids.erase(it);
        }
    }

    // An acknowledgement leaves for the client: a final one frees its slot.
    void delivering(const mqtt::packet& p) {
        if (const auto* a = std::get_if<mqtt::puback>(&p)) outstanding.erase(a->packet_id);
        if (const auto* c = std::get_if<mqtt::pubcomp>(&p)) outstanding.erase(c->packet_id);
        if (const auto* r = std::get_if<mqtt::pubrec>(&p); r && r->reason_code >= 0x80) outstanding.erase(r->packet_id);
    }
};

// The store as committed, read through a connection of its own.
class store_oracle {
public:
    struct row {
        std::int64_t id = 0;
        store::flow_state state = store::flow_state::queued;
        std::uint16_t packet_id = 0;
    };

    explicit store_oracle(const std::filesystem::path& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) db_ = nullptr;
    }
    ~store_oracle() { sqlite3_close(db_); }
    store_oracle(const store_oracle&) = delete;
    store_oracle& operator=(const store_oracle&) = delete;

    // key -> row, as committed now.
    std::map<std::uint64_t, row> rows() const {
        std::map<std::uint64_t, row> out;
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, "SELECT id, payload, state, packet_id FROM messages", -1, &s, nullptr) != SQLITE_OK) {
            return out;
        }
        while (sqlite3_step(s) == SQLITE_ROW) {
            const auto* text = static_cast<const char*>(sqlite3_column_blob(s, 1));
            const std::string payload(text, static_cast<std::size_t>(sqlite3_column_bytes(s, 1)));
            out[payload_key(payload)] = row{sqlite3_column_int64(s, 0),
                                            static_cast<store::flow_state>(sqlite3_column_int(s, 2)),
                                            static_cast<std::uint16_t>(sqlite3_column_int(s, 3))};
        }
        sqlite3_finalize(s);
        return out;
    }

    // One message as committed now; `known` (an earlier rows()) gives its
    // id, else the table is scanned.
    std::optional<row> find(std::uint64_t key, const std::map<std::uint64_t, row>& known) const {
        if (const auto k = known.find(key); k != known.end()) {
            sqlite3_stmt* s = nullptr;
            std::optional<row> out;
            if (sqlite3_prepare_v2(db_, "SELECT payload, state, packet_id FROM messages WHERE id = ?", -1, &s,
                                   nullptr) == SQLITE_OK) {
                sqlite3_bind_int64(s, 1, k->second.id);
                if (sqlite3_step(s) == SQLITE_ROW) {
                    const auto* text = static_cast<const char*>(sqlite3_column_blob(s, 0));
                    const std::string payload(text, static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
                    if (payload_key(payload) == key) {
                        out = row{k->second.id, static_cast<store::flow_state>(sqlite3_column_int(s, 1)),
                                  static_cast<std::uint16_t>(sqlite3_column_int(s, 2))};
                    }
                }
                sqlite3_finalize(s);
            }
            if (out) return out;
        }
        const auto all = rows();
        if (const auto it = all.find(key); it != all.end()) return it->second;
        return std::nullopt;
    }

    bool empty() const {
        sqlite3_stmt* s = nullptr;
        bool none = false;
        if (sqlite3_prepare_v2(db_, "SELECT NOT EXISTS (SELECT 1 FROM messages)", -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            none = sqlite3_column_int(s, 0) != 0;
        }
        sqlite3_finalize(s);
        return none;
    }

private:
    sqlite3* db_ = nullptr;
};

// The uplink over a pure session: actions are carried out at once, the way
// mqtt::client does (a QoS 0 completion reaches the forwarder inside
// publish()), packets wait in `outbox` until write().
class session_link final : public uplink {
public:
    session_link(mqtt::session_options o, broker& b, std::function<void(const mqtt::publish&)> on_wire)
        : session_(std::move(o)), broker_(b), on_wire_(std::move(on_wire)) {
        session_.keep_restarted();  // as client_uplink does
        session_.track_writes();    // as mqtt::client does
    }

    void attach(forwarder& f) { forwarder_ = &f; }
    // Runs between the CONNACK and on_link_up(), as other listeners of the
    // link do in the client (the Sparkplug births rewind the forwarder).
    void before_link_up(std::function<void()> f) { before_link_up_ = std::move(f); }
    // Runs between the CONNECT's write and the broker's CONNACK (a flush
    // timer that fires while the CONNACK is on its way).
    void before_connack(std::function<void()> f) { before_connack_ = std::move(f); }
    // Sees every message the forwarder hands over, as handed.
    void on_hand_over(std::function<void(const mqtt::message&, std::uint64_t)> f) { on_hand_over_ = std::move(f); }
    mqtt::session& session() { return session_; }
    bool up() const { return transport_; }
    std::size_t outbox_size() const { return outbox_.size(); }
    // PUBLISH packets waiting for the write: the client's write buffer.
    std::size_t outbox_publishes() const {
        return static_cast<std::size_t>(std::count_if(outbox_.begin(), outbox_.end(), [](const mqtt::packet& p) {
            return std::holds_alternative<mqtt::publish>(p);
        }));
    }

    bool connected() const override { return session_.state() == mqtt::session::link::connected; }
    // What ready() answers; without it, every message is.
    void set_ready(std::function<bool(const mqtt::message&)> f) { ready_ = std::move(f); }
    bool ready(const mqtt::message& m) const override { return !ready_ || ready_(m); }
    void publish(mqtt::message m, std::uint64_t token) override {
        // A forwarder that hands the same messages over again and again
        // would never return: stop it, and let the checks say why.
        if (++publishes_this_step_ > runaway_bound) {
            runaway = true;
            return;
        }
        if (on_hand_over_) on_hand_over_(m, token);
        execute(session_.publish(std::move(m), token, now_));
    }
    std::vector<std::uint64_t> withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) override {
        return session_.withdraw(mine, in_flight);
    }
    std::vector<std::uint64_t> withdraw_queued(
        const std::function<bool(const mqtt::message&, std::uint64_t)>& which) override {
        return session_.withdraw_queued(which);
    }
    std::error_code restore_session(mqtt::session_state state) override { return session_.restore(std::move(state)); }
    std::error_code resume_flows(std::vector<mqtt::inflight_entry> flows) override {
        return session_.resume_flows(std::move(flows));
    }
    void flows(std::vector<mqtt::flow_status>& out) const override { session_.flows(out); }
    std::vector<std::uint64_t> take_restarted() override { return session_.take_restarted(); }
    // As the client does: once the current handler is done.
    void drop_link() override { drop_requested_ = true; }
    // The end of a handler: a drop asked for happens now.
    void settle() {
        if (drop_requested_) {
            drop_requested_ = false;
            drop();
        }
    }
    const std::set<std::uint16_t>& incoming_qos2() const override { return session_.incoming_qos2(); }

    void tick() {
        now_ += std::chrono::milliseconds(1);
        publishes_this_step_ = 0;
    }

    // TCP up, CONNECT out, the broker's CONNACK back.
    void connect() {
        if (transport_) return;
        transport_ = true;
        broker_.link_lost();
        execute(session_.on_transport_connected(now_));
        write();
        if (before_connack_) before_connack_();
        if (!transport_ || connect_ == std::nullopt) return;
        const auto ack = broker_.on_connect(*connect_);
        connect_.reset();
        if (ack.session_present) ++resumed_sessions;
        else ++fresh_sessions;
        if (!ack.session_present) {
            writes_at_fresh_connack = writes;
            flushes_at_fresh_connack = clean_flushes;
            ledger_errors_at_fresh_connack_ = forwarder_->stats().ledger_errors;
        }
        execute(session_.on_packet(ack, now_));
        if (connected() && before_link_up_) before_link_up_();
        if (connected()) forwarder_->on_link_up();
        write();
    }

    // The network fails: what was not written is gone, and so are the
    // broker's acknowledgements on the way.
    void drop() {
        drop_requested_ = false;
        if (!transport_) return;
        transport_ = false;
        outbox_.clear();
        broker_.link_lost();
        execute(session_.on_connection_lost(now_));
        forwarder_->on_link_down();
    }

    // The owner's flush timer fires. Counted when its commit did not fail
    // (nor any since the last Session Present 0).
    void flush() {
        forwarder_->flush_due();
        if (forwarder_->stats().ledger_errors == ledger_errors_at_fresh_connack_) ++clean_flushes;
    }

    // Nothing since the last CONNACK with Session Present 0 has committed
    // the ledger (no write, no flush): the store may not know yet that the
    // broker forgot us.
    bool nothing_committed_since_fresh_connack() const {
        return writes_at_fresh_connack && *writes_at_fresh_connack == writes &&
               flushes_at_fresh_connack == clean_flushes;
    }
    // A commit failed since the last Session Present 0.
    bool ledger_failed_since_fresh_connack() const {
        return writes_at_fresh_connack && forwarder_->stats().ledger_errors != ledger_errors_at_fresh_connack_;
    }

    // The client's pending write, as the client does it after each handler.
    void write() {
        settle();
        if (!transport_) return;
        if (outbox_.empty()) {
            if (close_after_write_) {
                close_after_write_ = false;
                drop();
            }
            return;
        }
        if (!forwarder_->before_write()) {
            ++refused_writes;
            close_after_write_ = false;
            drop();
            return;
        }
        ++writes;
        session_.written();  // as the client does when a write takes its buffer
        auto packets = std::move(outbox_);
        outbox_.clear();
        for (auto& p : packets) {
            // What the client writes must encode.
            if (!mqtt::encode(p, version())) encode_failures++;
            if (const auto* c = std::get_if<mqtt::connect>(&p)) {
                connect_ = *c;
                continue;
            }
            if (const auto* pub = std::get_if<mqtt::publish>(&p)) {
                broker_.written(payload_key(pub->payload));
                on_wire_(*pub);
            }
            broker_.on_packet(p);
        }
        if (close_after_write_) {
            close_after_write_ = false;
            drop();
        }
    }

    // The broker's acknowledgements reach the client: `count` of them, the
    // i-th taken from position pick(i) of what is waiting (any order).
    void deliver_acks(std::size_t count, const std::function<std::size_t(std::size_t)>& pick, bool duplicate) {
        for (std::size_t i = 0; i < count && transport_ && !broker_.to_client.empty(); ++i) {
            const auto at = pick(broker_.to_client.size());
            auto p = broker_.to_client[at];
            if (!duplicate) broker_.to_client.erase(broker_.to_client.begin() + static_cast<std::ptrdiff_t>(at));
            broker_.delivering(p);
            execute(session_.on_packet(p, now_));
            broker_.told(p);
        }
        write();
    }

    std::uint64_t fresh_sessions = 0;
    std::uint64_t resumed_sessions = 0;
    std::uint64_t refused_writes = 0;
    std::uint64_t writes = 0;                    // writes that reached the broker
    std::optional<std::uint64_t> writes_at_fresh_connack;  // `writes` at the last Session Present 0
    std::uint64_t clean_flushes = 0;
    std::uint64_t flushes_at_fresh_connack = 0;
    std::uint64_t encode_failures = 0;
    bool runaway = false;
    static constexpr std::uint64_t runaway_bound = 100'000;

private:
    mqtt::protocol_version version() const { return v5_ ? mqtt::protocol_version::v5 : mqtt::protocol_version::v3_1_1; }

    // In the order mqtt::client carries actions out (mqtt::carry_out).
    void execute(mqtt::actions list) {
        mqtt::carry_out(list, [&](auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, mqtt::action::send>) {
                if (const auto* c = std::get_if<mqtt::connect>(&a.packet)) v5_ = c->version == mqtt::protocol_version::v5;
                if (const auto* pub = std::get_if<mqtt::publish>(&a.packet); pub && transport_) {
                    broker_.sending(payload_key(pub->payload));
                }
                if (transport_) outbox_.push_back(std::move(a.packet));
            } else if constexpr (std::is_same_v<T, mqtt::action::publish_completed>) {
                forwarder_->on_completed(a.token, a.error);
            } else if constexpr (std::is_same_v<T, mqtt::action::close_connection>) {
                close_after_write_ = true;
            }
        });
        if (close_after_write_) write();
    }

    mqtt::session session_;
    broker& broker_;
    std::function<void(const mqtt::publish&)> on_wire_;
    std::function<void(const mqtt::message&, std::uint64_t)> on_hand_over_;
    std::function<bool(const mqtt::message&)> ready_;
    std::function<void()> before_link_up_;
    std::function<void()> before_connack_;
    std::uint64_t ledger_errors_at_fresh_connack_ = 0;
    forwarder* forwarder_ = nullptr;
    std::vector<mqtt::packet> outbox_;
    std::optional<mqtt::connect> connect_;
    mqtt::clock::time_point now_{};
    bool transport_ = false;
    bool close_after_write_ = false;
    bool drop_requested_ = false;
    std::uint64_t publishes_this_step_ = 0;
    bool v5_ = false;
};

}  // namespace fieldbridge::gateway::model
