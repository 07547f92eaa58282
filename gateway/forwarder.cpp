#include "gateway/forwarder.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "mqtt/error.hpp"
#include "mqtt/properties.hpp"

namespace fieldbridge::gateway {
namespace {

// Tokens the client makes up for its own callback-style publishes start at
// 2^62; store ids never get there.
constexpr std::uint64_t client_token_base = std::uint64_t{1} << 62;

}  // namespace

forwarder::forwarder(store::message_store& store, mqtt::client& client, std::size_t window)
    : store_(store), client_(client), window_(std::max<std::size_t>(window, 1)), flush_timer_(client.get_executor()) {}

forwarder::~forwarder() {
    flush_timer_.cancel();
    (void)store_.flush();
}

// While the broker link is up, a batch is appended without its own commit:
// the write that carries its PUBLISHes follows within the same turn of the
// core loop, and the ledger commit before that write makes the batch durable
// too, so a poll result costs no extra fsync. Should no write follow (the
// window full, the link stalled), the timer commits it within 5 ms.
void forwarder::schedule_flush() {
    if (flush_armed_ || !store_.uncommitted()) return;
    flush_armed_ = true;
    flush_timer_.expires_after(std::chrono::milliseconds(5));
    flush_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        flush_armed_ = false;
        if (auto r = store_.flush(); !r) {
            ++stats_.ledger_errors;
            spdlog::error("queue: cannot commit stored messages: {}", r.error().message());
        }
    });
}

result<void> forwarder::resume() {
    auto inflight = store_.load_in_flight();
    if (!inflight) return fail(inflight.error());
    auto incoming = store_.incoming_qos2();
    if (!incoming) return fail(incoming.error());

    mqtt::session_state state;
    for (auto& m : *inflight) {
        const auto s = m.state == store::flow_state::pubrec ? mqtt::inflight_state::pubrec_received
                                                            : mqtt::inflight_state::publish_sent;
        state.inflight.push_back(
            mqtt::inflight_entry{m.packet_id, m.message, static_cast<std::uint64_t>(m.id), s, m.dup});
        committed_[m.id] = flow{m.state, m.packet_id, m.dup};
        handed_.insert(m.id);
        restored_.insert(m.id);
    }
    state.incoming_qos2 = *incoming;
    committed_incoming_ = *incoming;
    if (const auto ec = client_.restore_session(std::move(state))) return fail(ec);
    if (!inflight->empty()) {
        spdlog::info("queue: resuming {} message(s) in flight; {} stored in all", inflight->size(),
                     store_.stats().rows);
    } else if (store_.stats().rows > 0) {
        spdlog::info("queue: {} message(s) stored from before the restart", store_.stats().rows);
    }

    client_.on_completed([this](std::uint64_t token, std::error_code error) { on_completed(token, error); });
    client_.on_before_write([this] { commit_ledger(); });
    refill();
    return {};
}

void forwarder::submit(const std::vector<mqtt::message>& batch, std::chrono::system_clock::time_point now) {
    if (batch.empty()) return;
    stats_.submitted += batch.size();
    const bool defer = client_.state() == mqtt::link_state::connected;
    const auto results = defer ? store_.append_uncommitted(batch, now) : store_.append(batch, now);
    std::uint64_t refused = 0;
    std::error_code why;
    for (const auto& r : results) {
        if (r) {
            ++stats_.stored;
        } else {
            ++refused;
            why = r.error();
        }
    }
    if (refused > 0) {
        // Once per batch, not per message: a full queue refuses a lot.
        stats_.refused += refused;
        spdlog::warn("queue: {} message(s) not stored: {} ({} refused so far)", refused, why.message(),
                     stats_.refused);
    }
    refill();
    schedule_flush();
}

void forwarder::refill() {
    while (handed_.size() < window_) {
        const auto want = window_ - handed_.size();
        auto batch = store_.load(cursor_, want);
        if (!batch) {
            spdlog::error("queue: cannot read the queue: {}", batch.error().message());
            return;
        }
        for (auto& m : *batch) {
            cursor_ = m.id;
            if (restored_.count(m.id)) continue;  // already with the client
            handed_.insert(m.id);
            client_.publish(std::move(m.message), static_cast<std::uint64_t>(m.id));
        }
        if (batch->size() < want) return;
    }
}

void forwarder::on_completed(std::uint64_t token, std::error_code error) {
    if (token >= client_token_base) return;  // not ours
    const bool refused = error && (error.category() == mqtt::reason_code_category() ||
                                   error == mqtt::mqtt_errc::exceeds_broker_packet_size);
    if (error && !refused) return;  // the client stopped: stays stored, sent again after the restart
    const auto id = static_cast<std::int64_t>(token);
    // A refusal (MQTT 5.0 reason code >= 0x80 in PUBACK/PUBREC, or a message
    // the broker's size limit excludes) is final: the broker answered and
    // would answer the same again, so keeping it would block the queue for
    // good. It is deleted, counted and logged.
    completed_.push_back(id);
    handed_.erase(id);
    restored_.erase(id);
    if (refused) {
        ++stats_.refused_by_broker;
        if (const auto held = log_limit_.admit(error.message(), std::chrono::steady_clock::now())) {
            spdlog::warn("queue: the broker refused a message: {} ({} refused so far){}", error.message(),
                         stats_.refused_by_broker, log_limiter::suffix(*held));
        }
    } else {
        ++stats_.delivered;
    }
    // Acks come back one by one: read the store again only when half the
    // window is free, so that a backlog is read in large slices. (New
    // messages are handed over by submit() as they are stored.)
    if (handed_.size() <= window_ / 2) refill();
}

void forwarder::commit_ledger() {
    changes_.clear();
    client_.flows(flows_);
    for (const auto& e : flows_) {
        if (e.token >= client_token_base) continue;
        const auto id = static_cast<std::int64_t>(e.token);
        const flow now{e.state == mqtt::inflight_state::pubrec_received ? store::flow_state::pubrec
                                                                        : store::flow_state::sent,
                       e.packet_id, e.dup};
        auto& before = committed_[id];
        if (before == now) continue;
        if (before.state != store::flow_state::sent || before.packet_id != now.packet_id || before.dup != now.dup) {
            changes_.push_back(store::change{store::change::kind::sent, id, now.packet_id, now.dup});
        }
        if (now.state == store::flow_state::pubrec) changes_.push_back(store::change{store::change::kind::pubrec, id});
        before = now;
    }
    for (const auto id : completed_) {
        changes_.push_back(store::change{store::change::kind::done, id});
        committed_.erase(id);
    }
    completed_.clear();
    // apply() commits what append_uncommitted() left open as well.
    if (!changes_.empty() || store_.uncommitted()) {
        if (auto r = store_.apply(changes_); !r) {
            ++stats_.ledger_errors;
            spdlog::error("queue: cannot record the MQTT flow state: {}", r.error().message());
        }
    }
    const auto& incoming = client_.incoming_qos2();
    if (!std::equal(incoming.begin(), incoming.end(), committed_incoming_.begin(), committed_incoming_.end())) {
        std::vector<std::uint16_t> ids(incoming.begin(), incoming.end());
        if (auto r = store_.set_incoming_qos2(ids); r) {
            committed_incoming_ = std::move(ids);
        } else {
            ++stats_.ledger_errors;
            spdlog::error("queue: cannot record the incoming QoS 2 ids: {}", r.error().message());
        }
    }
}

void forwarder::expire(std::chrono::system_clock::time_point now) {
    auto n = store_.expire(now);
    if (!n) {
        spdlog::error("queue: cannot expire old messages: {}", n.error().message());
    } else if (*n > 0) {
        spdlog::warn("queue: dropped {} message(s) older than the age limit", *n);
    }
}

}  // namespace fieldbridge::gateway
