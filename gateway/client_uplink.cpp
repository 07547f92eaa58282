#include "gateway/client_uplink.hpp"

#include "mqtt/error.hpp"

namespace fieldbridge::gateway {

client_uplink::client_uplink(mqtt::client& client)
    : client_(client),
      flush_timer_(client.get_executor()),
      link_up_timer_(client.get_executor()),
      quota_timer_(client.get_executor(), [this] {
          if (forwarder_ != nullptr) forwarder_->quota_due();
      }) {}

client_uplink::~client_uplink() {
    *alive_ = false;
    flush_timer_.cancel();
    link_up_timer_.cancel();
    quota_timer_.cancel();
}

void client_uplink::attach(forwarder& f) {
    forwarder_ = &f;
    client_.keep_restarted();  // forwarder::take_restarted drains them
    f.set_quota_wait([] { return std::chrono::steady_clock::now(); },
                     [this](std::chrono::steady_clock::time_point t) { quota_timer_.wake_at(t); });
    client_.on_completed([this](std::uint64_t token, std::error_code error) { completed(token, error); });
    client_.on_before_write([this] { return forwarder_->before_write(); });
    client_.on_link_state([this, alive = alive_](mqtt::link_state s) {
        if (s == mqtt::link_state::disconnected) {
            forwarder_->on_link_down();
        } else if (s == mqtt::link_state::connected) {
            // After the other listeners of this change (the birth message
            // goes out ahead of the queue).
            link_up_timer_.expires_after(std::chrono::milliseconds(0));
            link_up_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
                if (!ec && *alive && connected()) forwarder_->on_link_up();
            });
        }
    });
}

// Bounds how long appended messages and acknowledgements stay uncommitted
// when no write follows to carry them.
void client_uplink::arm_flush() {
    flush_timer_.expires_after(std::chrono::milliseconds(5));
    flush_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive || forwarder_ == nullptr) return;
        forwarder_->flush_due();
    });
}

bool client_uplink::connected() const {
    return client_.state() == mqtt::link_state::connected && (!gate_ || gate_());
}

void client_uplink::open_gate() {
    if (forwarder_ != nullptr && connected()) forwarder_->on_link_up();
}

void client_uplink::publish(mqtt::message m, std::uint64_t token) {
    if (hand_over_) m = hand_over_(std::move(m));
    if (m.qos != mqtt::qos::at_most_once) {
        if (handed_at_.size() >= max_timed) handed_at_.clear();
        handed_at_[token] = std::chrono::steady_clock::now();
    }
    client_.publish(std::move(m), token);
}

void client_uplink::completed(std::uint64_t token, std::error_code error) {
    if (const auto it = handed_at_.find(token); it != handed_at_.end()) {
        if (!error) ack_latency_.observe(std::chrono::steady_clock::now() - it->second);
        handed_at_.erase(it);
    }
    forwarder_->on_completed(token, error);
}

std::vector<std::uint64_t> client_uplink::withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) {
    auto taken = client_.withdraw(mine, in_flight);
    for (const auto token : taken) handed_at_.erase(token);
    return taken;
}

std::vector<std::uint64_t> client_uplink::withdraw_queued(
    const std::function<bool(const mqtt::message&, std::uint64_t)>& which) {
    auto taken = client_.withdraw_queued(which);
    for (const auto token : taken)
        handed_at_.erase(token);
    return taken;
}

std::error_code client_uplink::restore_session(mqtt::session_state state) {
    return client_.restore_session(std::move(state));
}

std::error_code client_uplink::resume_flows(std::vector<mqtt::inflight_entry> flows) {
    return client_.resume_flows(std::move(flows));
}

void client_uplink::drop_link() { client_.drop_link(make_error_code(mqtt::mqtt_errc::ledger_failed)); }

void client_uplink::flows(std::vector<mqtt::flow_status>& out) const { client_.flows(out); }

const std::set<std::uint16_t>& client_uplink::incoming_qos2() const { return client_.incoming_qos2(); }

}  // namespace fieldbridge::gateway
