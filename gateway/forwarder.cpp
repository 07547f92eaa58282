#include "gateway/forwarder.hpp"

#include <algorithm>
#include <optional>
#include <span>

#include <spdlog/spdlog.h>

#include "gateway/quota_retry.hpp"
#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/token.hpp"

namespace fieldbridge::gateway {
namespace {

// Store ids; the client's own publishes (replies, birth) carry tokens from
// mqtt::client_token_base up.
bool ours(std::uint64_t token) { return mqtt::caller_token(token); }

// Direct QoS 0 messages: tokens from here up to mqtt::client_token_base,
// far above any store id.
constexpr std::uint64_t direct_token_base = mqtt::client_token_base >> 1;
bool direct_token(std::uint64_t token) { return token >= direct_token_base && ours(token); }

mqtt::inflight_entry flow_of(store::stored_message& m) {
    const auto s = m.state == store::flow_state::pubrec ? mqtt::inflight_state::pubrec_received
                                                        : mqtt::inflight_state::publish_sent;
    return mqtt::inflight_entry{m.packet_id, std::move(m.message), static_cast<std::uint64_t>(m.id), s, m.dup};
}

}  // namespace

forwarder::forwarder(store::message_store& store, uplink& link, std::function<void()> arm_flush, std::size_t window,
                     config::qos0_route qos0)
    : store_(store),
      link_(link),
      arm_flush_(std::move(arm_flush)),
      window_(std::max<std::size_t>(window, 1)),
      qos0_(qos0),
      next_direct_(direct_token_base) {
    // A message the client holds, or one the broker acknowledged and whose
    // delete is not committed yet, is never evicted: evicting it would count
    // as dropped a message that is (or may be) delivered.
    store_.protect([this](std::int64_t id) { return held(id); });
}

forwarder::~forwarder() {
    store_.protect({});
    // The last poll's messages; flow states are committed before each write.
    if (!resync_needed_) (void)store_.flush();
}

void forwarder::set_order(config::store_order order, std::function<void(mqtt::message&)> mark) {
    order_ = order;
    mark_ = std::move(mark);
}

result<void> forwarder::resume() {
    auto lanes = store_.lanes();
    if (!lanes) return fail(lanes.error());
    lanes_ = std::move(*lanes);
    if (fresh_first()) {
        if (auto r = reload_latest(); !r) return r;
    }
    auto inflight = store_.load_in_flight();
    if (!inflight) return fail(inflight.error());
    auto incoming = store_.incoming_qos2();
    if (!incoming) return fail(incoming.error());

    mqtt::session_state state;
    for (auto& m : *inflight) {
        committed_[m.id] = ledger_flow{m.state, m.packet_id, m.dup};
        if (given_up(m)) continue;
        handed_[m.id] = m.message.qos;
        // Sent marked or not before the restart: the same bytes again.
        mark_if_historical(m.message, m.id);
        state.inflight.push_back(flow_of(m));
    }
    state.incoming_qos2 = *incoming;
    committed_incoming_ = *incoming;
    if (const auto ec = link_.restore_session(std::move(state))) return fail(ec);
    lost_seen_ = store_.counters().lost_uncommitted;
    if (!handed_.empty()) {
        spdlog::info("queue: resuming {} message(s) in flight; {} stored in all", handed_.size(),
                     store_.stats().rows);
    } else if (store_.stats().rows > 0) {
        spdlog::info("queue: {} message(s) stored from before the restart", store_.stats().rows);
    }
    return {};
}

void forwarder::submit(const std::vector<mqtt::message>& batch, std::chrono::system_clock::time_point now) {
    if (batch.empty()) return;
    stats_.submitted += batch.size();
    // QoS 0 messages at the head of the batch go directly while nothing
    // stored waits; from the first one stored on, the rest queues behind it.
    std::size_t direct = 0;
    while (direct < batch.size() && batch[direct].qos == mqtt::qos::at_most_once && direct_open()) {
        send_direct(batch[direct++]);
    }
    if (direct == batch.size()) return;
    const auto rest = std::span<const mqtt::message>(batch).subspan(direct);
    caught_up_ = false;
    const auto before = store_.counters();
    // While the link is up the batch rides on the ledger commit before the
    // write that carries it (or the flush timer): one fsync, not two.
    const bool defer = link_.connected() && !resync_needed_;
    const auto results = defer ? store_.append_uncommitted(rest, now) : store_.append(rest, now);
    std::uint64_t refused = 0;
    std::error_code why;
    for (std::size_t n = 0; n < results.size(); ++n) {
        const auto& r = results[n];
        if (r) {
            ++stats_.stored;
            if (fresh_first()) latest_[rest[n].topic] = *r;
        } else {
            ++refused;
            why = r.error();
        }
    }
    if (refused > 0) {
        // Once a minute per reason, not per batch: a full queue refuses
        // every poll's batch (the count is in the stats either way).
        stats_.refused += refused;
        if (const auto held_back = log_limit_.admit("not stored: " + why.message(), std::chrono::steady_clock::now())) {
            spdlog::warn("queue: {} message(s) not stored: {} ({} refused so far){}", refused, why.message(),
                         stats_.refused, log_limiter::suffix(*held_back));
        }
        check_damage(why);
    }
    report_drops(before);
    if (lost_unseen()) {
        store_failed("cannot commit stored messages", why ? why : make_error_code(store::store_errc::io_error));
        return;
    }
    refill();
    request_flush();
}

void forwarder::report_drops(const store::counters& before) {
    const auto& after = store_.counters();
    const auto rows = after.dropped_by_rows - before.dropped_by_rows;
    const auto bytes = after.dropped_by_bytes - before.dropped_by_bytes;
    if (rows + bytes == 0) return;
    if (const auto held_back = log_limit_.admit("queue full", std::chrono::steady_clock::now())) {
        spdlog::warn("queue: full; dropped {} stored message(s) by the drop policy to stay within max_messages / "
                     "max_bytes ({} by rows and {} by bytes so far){}",
                     rows + bytes, after.dropped_by_rows, after.dropped_by_bytes, log_limiter::suffix(*held_back));
    }
}

bool forwarder::direct_open() const {
    return qos0_ == config::qos0_route::direct && caught_up_ && !resync_needed_ && !refilling_ &&
           link_.connected() && room();
}

void forwarder::send_direct(const mqtt::message& m) {
    const auto token = next_direct_++;
    direct_handed_.insert(token);
    ++stats_.direct;
    link_.publish(m, token);
}

void forwarder::lose_direct() {
    const auto lost = direct_handed_.size() + direct_unwritten_;
    stats_.delivered -= std::min<std::uint64_t>(stats_.delivered, direct_unwritten_);
    stats_.qos0_lost += lost;
    direct_handed_.clear();
    direct_unwritten_ = 0;
    if (lost == 0) return;
    if (const auto held_back = log_limit_.admit("qos0 lost", std::chrono::steady_clock::now())) {
        spdlog::warn("queue: {} QoS 0 message(s) sent directly were not written before the link dropped ({} so far){}",
                     lost, stats_.qos0_lost, log_limiter::suffix(*held_back));
    }
}

void forwarder::refill() {
    if (refilling_ || resync_needed_ || !link_.connected()) return;
    // Whatever asks first once the link is up (the owner's births, a poll's
    // batch, a flush), the split comes before any row is handed over.
    if (split_due_ && fresh_first()) {
        split_due_ = false;
        split_backlog();
        if (resync_needed_) return;
    }
    // A QoS 0 message completes inside publish(); its completion must not
    // start another refill over the same rows (they would be sent twice).
    refilling_ = true;
    caught_up_ = false;
    bool at_end = false;
    std::size_t handed_now = 0;
    bool historical_lane = false;  // fresh_first: the live lane is empty
    std::size_t examined = 0;
    const auto quota_waiting = quota_wait_.empty() ? quota_topics{} : quota_index();
    while (room() && handed_now < window_ && link_.connected()) {
        if (examined >= max_examined()) {
            request_flush(true);
            break;
        }
        const auto want = std::min(window_ - handed(), max_unwritten() - unwritten());
        auto batch = load_lane(historical_lane, want);
        if (!batch) {
            spdlog::error("queue: cannot read the queue: {}", batch.error().message());
            check_damage(batch.error());
            break;
        }
        for (auto& m : *batch) {
            auto& cursor = historical_lane ? historical_cursor_ : cursor_;
            cursor = std::max(cursor, m.id);
            ++examined;
            if (held(m.id)) continue;  // in flight, or acknowledged and not yet deleted
            // A message waiting out its 0x97 retry (until quota_due(), which
            // reads the queue again from it) holds back the later ones of
            // its topic: per-topic order.
            if (!quota_wait_.empty() && quota_holds(quota_waiting, m.id, m.message.topic))
                continue;
            if (!link_.ready(m.message)) continue;  // stays stored until rewind()
            handed_[m.id] = m.message.qos;
            ++handed_now;
            mark_if_historical(m.message, m.id);
            link_.publish(std::move(m.message), static_cast<std::uint64_t>(m.id));
            if (resync_needed_ || !link_.connected()) break;
        }
        if (batch->size() < want) {
            // The live lane came up short: the historical one next.
            if (fresh_first() && !historical_lane) {
                historical_lane = true;
                continue;
            }
            at_end = true;
            break;
        }
    }
    refilling_ = false;
    // Messages waiting for their 0x97 retry are stored ones: QoS 0 ones
    // sent directly would overtake them.
    caught_up_ = at_end && link_.connected() && !resync_needed_ && quota_wait_.empty();
    // QoS 0 messages leave the window as fast as they are handed over: the
    // rest follows after the next commit, not all in one turn.
    if (handed_now >= window_) request_flush(true);
}

void forwarder::on_completed(std::uint64_t token, std::error_code error) {
    if (!ours(token)) return;
    const bool refused = error && (error.category() == mqtt::reason_code_category() || mqtt::unsendable(error));
    if (direct_token(token)) return direct_completed(token, error, refused);
    if (error && !refused) return;  // the client stopped: stays stored, sent again after the restart
    const auto id = static_cast<std::int64_t>(token);
    const auto it = handed_.find(id);
    if (it == handed_.end()) return;
    const bool qos0 = it->second == mqtt::qos::at_most_once;
    handed_.erase(it);
    if (qos0 && !error) {
        // Complete for the client once in its write buffer, not yet on the wire.
        unwritten_.insert(id);
        count_delivered(id);
        if (handed() <= window_ / 2) refill();
        return;
    }
    if (refused && error.category() == mqtt::reason_code_category() && error.value() == quota_exceeded) {
        // 0x97 Quota exceeded: "an implementation or administrative imposed
        // limit has been exceeded" (5.0, 3.4.2.1 / 3.5.2.1): a limit of the
        // broker's that frees up, not a verdict on the message. The flow is
        // over [MQTT-4.3.3]; the message stays stored and is sent again as a
        // new PUBLISH, at most quota_retries times (then it is
        // refused as below, so that a broker that always says so does not
        // keep one message going round for ever).
        // Entries of messages evicted or expired while they waited: the
        // oldest go first.
        if (!quota_tries_.contains(id) && quota_tries_.size() >= max_examined()) {
            quota_tries_.erase(quota_tries_.begin());
        }
        auto& tries = quota_tries_[id];
        if (tries < quota_retries) {
            ++tries;
            ++stats_.quota_retries;
            requeued_.insert(id);
            caught_up_ = false;
            log_quota(error);
            auto topic = stored_topic(id);
            if (quota_clock_) {
                const auto due = quota_clock_() + quota_retry_delay(tries);
                quota_wait_[id] = quota_wait{due, topic};
                quota_wake_(due);
            } else {
                rewind(id);
            }
            // Later messages of its topic that the client still queues (not
            // sent yet: its in-flight window was full) come back to the
            // store and wait behind it; only those already sent overtake
            // it. Not with store.qos0: direct, where a QoS 0 message of the
            // topic sent directly (never stored) may queue behind them and
            // would overtake them instead.
            if (!topic.empty() && qos0_ != config::qos0_route::direct) {
                for (const auto later : link_.withdraw_queued([&](const mqtt::message&m, std::uint64_t t) {
                         return ours(t) && !direct_token(t) && static_cast<std::int64_t>(t) > id &&
                                m.topic == topic;
                     })) {
                    const auto back = static_cast<std::int64_t>(later);
                    handed_.erase(back);
                    rewind(back);
                }
            }
            // Sent again after the commit that records it as queued, by
            // the flush: not from inside this acknowledgement.
            request_flush(true);
            return;
        }
    }
    quota_tries_.erase(id);
    // A refusal (MQTT 5.0 reason code >= 0x80 in PUBACK/PUBREC, or a message
    // the broker's size limit excludes) is final: the broker answered and
    // would answer the same again, so keeping it would block the queue for
    // good. It is deleted, counted and logged.
    acknowledged_.insert(id);
    if (refused) {
        broker_refused(error);
    } else {
        count_delivered(id);
    }
    // The delete is committed with the next write, or by the flush timer
    // when nothing is written: the queue does not keep acknowledged messages.
    request_flush();
    // Acks come back one by one: read the store again only when half the
    // window is free, so that a backlog is read in large slices.
    if (handed() <= window_ / 2) refill();
}

void forwarder::direct_completed(std::uint64_t token, std::error_code error, bool refused) {
    if (direct_handed_.erase(token) == 0) return;
    if (refused) {
        broker_refused(error);
    } else if (error) {
        ++stats_.qos0_lost;  // the client stopped before writing it
    } else {
        // In the client's write buffer: written with the next write, or lost
        // with the link.
        ++direct_unwritten_;
        ++stats_.delivered;
    }
    // A direct message held a place in the window that stored ones may wait for.
    if (!caught_up_ && handed() <= window_ / 2) refill();
}

void forwarder::set_quota_wait(std::function<quota_clock::time_point()> clock,
                               std::function<void(quota_clock::time_point)> wake) {
    quota_clock_ = std::move(clock);
    quota_wake_ = std::move(wake);
}

void forwarder::quota_due() {
    if (quota_wait_.empty()) return;
    const auto now = quota_clock_();
    std::optional<quota_clock::time_point> next;
    for (auto it = quota_wait_.begin(); it != quota_wait_.end();) {
        if (it->second.due <= now) {
            rewind(it->first);
            it = quota_wait_.erase(it);
        } else {
            next = next ? std::min(*next, it->second.due) : it->second.due;
            ++it;
        }
    }
    if (next) quota_wake_(*next);
    caught_up_ = false;
    refill();
}

forwarder::quota_topics forwarder::quota_index() const {
    quota_topics q;
    for (const auto& [id, wait] : quota_wait_) {  // by id: the first of a topic is its oldest
        if (wait.topic.empty())
            continue;
        q.oldest.emplace(wait.topic, id);
        if (!lanes_.historical(id))
            q.oldest_live.emplace(wait.topic, id);
    }
    return q;
}

bool forwarder::quota_holds(const quota_topics& waiting, std::int64_t id, const std::string& topic) const {
    if (quota_wait_.contains(id))
        return true;
    // Any older waiting message of its topic holds a historical one back; a
    // live one only an older live one (fresh_first: a live row may pass a
    // historical one).
    const auto& older = lanes_.historical(id) ? waiting.oldest : waiting.oldest_live;
    const auto it = older.find(topic);
    return it != older.end() && it->second < id;
}

std::string forwarder::stored_topic(std::int64_t id) {
    auto rows = store_.load(id - 1, 1);
    if (!rows || rows->empty() || rows->front().id != id) return {};
    return std::move(rows->front().message.topic);
}

void forwarder::log_quota(std::error_code error) {
    if (const auto held_back = log_limit_.admit("quota exceeded", std::chrono::steady_clock::now())) {
        spdlog::warn("queue: the broker answered {}; the message is sent again, at most {} times ({} so far){}",
                     error.message(), quota_retries, stats_.quota_retries, log_limiter::suffix(*held_back));
    }
}

void forwarder::broker_refused(std::error_code error) {
    // A reason code, or a size over the broker's announced maximum, is the
    // broker's refusal; any other error the session's own verdict before
    // sending (mqtt::unsendable).
    const bool broker = error.category() == mqtt::reason_code_category() ||
                        error == mqtt::mqtt_errc::exceeds_broker_packet_size;
    auto& count = broker ? stats_.refused_by_broker : stats_.unsendable;
    ++count;
    if (const auto held_back = log_limit_.admit(error.message(), std::chrono::steady_clock::now())) {
        spdlog::warn("queue: {}: {} ({} so far){}",
                     broker ? "the broker refused a message" : "a message no server takes was dropped unsent",
                     error.message(), count, log_limiter::suffix(*held_back));
    }
}

bool forwarder::before_write() {
    if (resync_needed_) return false;
    if (!commit_ledger(true)) return false;
    direct_unwritten_ = 0;  // they go with this write
    // The write buffer's messages left the window: what waits in the store
    // follows after this write.
    if (!caught_up_) request_flush(true);
    return true;
}

void forwarder::take_restarted() {
    for (const auto token : link_.take_restarted()) {
        if (ours(token) && !direct_token(token)) requeued_.insert(static_cast<std::int64_t>(token));
    }
}

bool forwarder::lost_unseen() {
    const auto lost = store_.counters().lost_uncommitted;
    if (lost == lost_seen_) return false;
    lost_seen_ = lost;
    return true;
}

bool forwarder::commit_ledger(bool writing) {
    // Messages appended and handed over may have been rolled back by a
    // failure another part of the store met on the shared transaction (a
    // refused read remembered, an expiry): nothing is written on them.
    if (lost_unseen()) {
        store_failed("messages not yet committed were lost", make_error_code(store::store_errc::io_error));
        return false;
    }
    // Flows the session started again on a broker without our session are
    // recorded so in this commit, before anything written after that
    // CONNACK: a store still saying PUBREC would resume them with PUBREL alone.
    take_restarted();
    link_.flows(flows_);
    // Unwritten QoS 0 messages are deleted with the commit before their
    // write: if it fails they were never sent and go back to the queue.
    std::set<std::int64_t> merged;
    if (writing && !unwritten_.empty()) {
        merged = acknowledged_;
        merged.insert(unwritten_.begin(), unwritten_.end());
    }
    const auto changes = ledger_changes(committed_, flows_, merged.empty() ? acknowledged_ : merged, requeued_,
                                        mqtt::client_token_base);
    // apply() commits what append_uncommitted() left open as well.
    if (!changes.empty() || store_.uncommitted()) {
        if (auto r = store_.apply(changes); !r) {
            store_failed("cannot record the MQTT flow state", r.error());
            return false;
        }
        ledger_commit(committed_, changes);
        acknowledged_.clear();
        if (writing) unwritten_.clear();
    }
    // Recorded by this commit, or nothing to record (the store already says
    // so, or the session holds the flow again): an entry kept longer could
    // restart, at a resync, a flow the broker's session has since taken.
    requeued_.clear();
    const auto& incoming = link_.incoming_qos2();
    if (!std::equal(incoming.begin(), incoming.end(), committed_incoming_.begin(), committed_incoming_.end())) {
        std::vector<std::uint16_t> ids(incoming.begin(), incoming.end());
        if (auto r = store_.set_incoming_qos2(ids); !r) {
            store_failed("cannot record the incoming QoS 2 ids", r.error());
            return false;
        }
        committed_incoming_ = std::move(ids);
    }
    return true;
}

void forwarder::request_flush(bool more_to_hand) {
    if (flush_armed_ || resync_needed_) return;
    if (!more_to_hand && !store_.uncommitted() && acknowledged_.empty() && requeued_.empty()) return;
    flush_armed_ = true;
    if (arm_flush_) arm_flush_();
}

void forwarder::flush_due() {
    flush_armed_ = false;
    if (resync_needed_) return;
    if (commit_ledger(false)) refill();
}

void forwarder::store_failed(const char* what, std::error_code why) {
    check_damage(why);
    ++stats_.ledger_errors;
    spdlog::error("queue: {}: {}; nothing more is sent until the session is rebuilt from the store", what,
                  why.message());
    // Nothing more is written (before_write refuses), the link is dropped,
    // and on_link_down() rebuilds.
    resync_needed_ = true;
    link_.drop_link();
}

void forwarder::check_damage(std::error_code why) {
    if (damaged_ || why != make_error_code(store::store_errc::corrupt)) return;
    damaged_ = true;
    if (on_damaged_) on_damaged_();
}

void forwarder::rewind() {
    cursor_ = 0;
    historical_cursor_ = 0;
    caught_up_ = false;
    refill();
}

void forwarder::on_link_up() {
    // Flows a CONNACK with Session Present 0 restarted are recorded so by
    // the flush timer too, not only with the next write: a broker that takes
    // QoS 0 only lets none of them be written, and a store still saying
    // PUBREC through a restart would resume them with PUBREL alone.
    take_restarted();
    request_flush();
    refill();
}

void forwarder::on_link_down() {
    split_due_ = true;
    if (resync_needed_) return resync();
    // Flows a CONNACK with Session Present 0 restarted are recorded so now,
    // not with the first write of a later link: the store must not say
    // PUBREC for them through an outage the process may not survive. So are
    // the flows no write took before the link went: the session queued them
    // again, and the withdraw below brings them back to the store with the
    // unwritten QoS 0 messages, in production order.
    take_restarted();
    requeue_unwritten();
    // Queued messages go back to the store alone, so that while the link is
    // down the store's limits bound what is held; flows in progress stay
    // with the session, which resumes them. Direct QoS 0 ones are lost.
    const auto taken = link_.withdraw(ours, false);
    for (const auto token : taken) {
        if (direct_token(token)) continue;
        const auto id = static_cast<std::int64_t>(token);
        handed_.erase(id);
        rewind(id);
    }
    lose_direct();
    request_flush();
}

// QoS 0 messages of a write that never happened go back to the queue.
void forwarder::requeue_unwritten() {
    caught_up_ = false;
    std::uint64_t historical = 0;
    for (const auto id : unwritten_) {
        rewind(id);
        historical += lanes_.historical(id) ? 1U : 0U;
    }
    // Counted again when they are delivered again.
    stats_.delivered -= std::min<std::uint64_t>(stats_.delivered, unwritten_.size());
    stats_.historical -= std::min(stats_.historical, historical);
    unwritten_.clear();
}

// After a failed commit the store may have rolled back messages and flow
// states the session already holds: the session's flows are replaced with
// what the store has, as after a restart. Messages acknowledged but not yet
// deleted stay out; they are deleted with the next commit.
void forwarder::resync() {
    // Flows the session gave up on a fresh broker session stay given up:
    // the store may still have them in flight (the commit that would have
    // said otherwise failed).
    take_restarted();
    link_.withdraw(ours, true);
    requeue_unwritten();
    lose_direct();
    auto inflight = store_.load_in_flight();
    auto last = store_.last_id();
    if (!inflight || !last) {
        spdlog::error("queue: cannot read the queue to rebuild the session: {}",
                      (inflight ? last.error() : inflight.error()).message());
        check_damage(inflight ? last.error() : inflight.error());
        return;  // tried again when the link next goes down
    }
    handed_.clear();
    committed_.clear();
    lost_seen_ = store_.counters().lost_uncommitted;
    // Ids above the last committed one were rolled back with their messages
    // and will be given to new ones.
    for (auto it = acknowledged_.begin(); it != acknowledged_.end();) {
        it = *it > *last ? acknowledged_.erase(it) : std::next(it);
    }
    quota_tries_.erase(quota_tries_.upper_bound(*last), quota_tries_.end());
    quota_wait_.erase(quota_wait_.upper_bound(*last), quota_wait_.end());
    // Rows rolled back may have been the latest of their topic.
    if (fresh_first()) {
        if (auto r = reload_latest(); !r) {
            spdlog::error("queue: cannot read the queue to rebuild the session: {}", r.error().message());
            check_damage(r.error());
            return;
        }
    }
    std::vector<mqtt::inflight_entry> flows;
    for (auto& m : *inflight) {
        if (acknowledged_.count(m.id)) continue;
        committed_[m.id] = ledger_flow{m.state, m.packet_id, m.dup};
        // Given up (or the next commit says so: committed_ keeps the state
        // the store has until then): sent again by refill().
        if (given_up(m) || requeued_.count(m.id)) continue;
        handed_[m.id] = m.message.qos;
        mark_if_historical(m.message, m.id);
        flows.push_back(flow_of(m));
    }
    if (const auto ec = link_.resume_flows(std::move(flows))) {
        spdlog::error("queue: cannot rebuild the session: {}", ec.message());
        return;
    }
    cursor_ = 0;
    historical_cursor_ = 0;
    resync_needed_ = false;
    ++stats_.resyncs;
    // A flow given up and not yet recorded so is committed as soon as it can.
    request_flush();
    spdlog::warn("queue: session rebuilt from the store: {} message(s) in flight, {} stored", handed_.size(),
                 store_.stats().rows);
}

void forwarder::expire(std::chrono::system_clock::time_point now) {
    auto n = store_.expire(now);
    if (!n) {
        spdlog::error("queue: cannot expire old messages: {}", n.error().message());
        check_damage(n.error());
    } else if (*n > 0) {
        spdlog::warn("queue: dropped {} message(s) older than the age limit", *n);
    }
}

}  // namespace fieldbridge::gateway
