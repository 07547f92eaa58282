// client_uplink: the forwarder's uplink over the MQTT client, and the
// wiring of the client's events (completions, writes, link changes) and of
// the forwarder's flush timer on the client's executor. Same thread rules
// as the client: everything on its executor's one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "gateway/forwarder.hpp"
#include "gateway/histogram.hpp"
#include "gateway/wakeup_timer.hpp"
#include "gateway/uplink.hpp"
#include "mqtt/client.hpp"

namespace fieldbridge::gateway {

class client_uplink final : public uplink {
public:
    explicit client_uplink(mqtt::client& client);
    ~client_uplink() override;
    client_uplink(const client_uplink&) = delete;
    client_uplink& operator=(const client_uplink&) = delete;

    // Routes the client's events to f; once, before the client starts.
    void attach(forwarder& f);
    // What the forwarder is given as arm_flush: flush_due() in 5 ms.
    void arm_flush();

    // Runs on every message as it is handed to the client (Sparkplug
    // stamps its seq there, in the order messages leave).
    void set_hand_over(std::function<mqtt::message(mqtt::message)> f) { hand_over_ = std::move(f); }

    // Messages ready() refuses stay in the store until the owner calls
    // forwarder::rewind() (Sparkplug: a stored DDATA waits for its DBIRTH).
    void set_ready(std::function<bool(const mqtt::message&)> f) { ready_ = std::move(f); }
    bool ready(const mqtt::message& m) const override { return !ready_ || ready_(m); }

    // While gate() says false the forwarder sees the link as down and hands
    // nothing over (Sparkplug: no primary host online); open_gate() after it
    // turned true hands the queue over as when the link came up.
    void set_gate(std::function<bool()> gate) { gate_ = std::move(gate); }
    void open_gate();

    bool connected() const override;
    void publish(mqtt::message m, std::uint64_t token) override;
    std::vector<std::uint64_t> withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) override;
    std::vector<std::uint64_t> withdraw_queued(
        const std::function<bool(const mqtt::message&, std::uint64_t)>& which) override;
    std::error_code restore_session(mqtt::session_state state) override;
    std::error_code resume_flows(std::vector<mqtt::inflight_entry> flows) override;
    void drop_link() override;
    void flows(std::vector<mqtt::flow_status>& out) const override;
    std::vector<std::uint64_t> take_restarted() override { return client_.take_restarted(); }
    const std::set<std::uint16_t>& incoming_qos2() const override;

    // QoS 1/2 messages from publish() to their acknowledgement.
    const histogram& ack_latency() const { return ack_latency_; }

private:
    void completed(std::uint64_t token, std::error_code error);

    mqtt::client& client_;
    forwarder* forwarder_ = nullptr;
    boost::asio::steady_timer flush_timer_;
    boost::asio::steady_timer link_up_timer_;  // runs on_link_up() after the current handler
    wakeup_timer quota_timer_;                 // forwarder::quota_due() (0x97 retries)
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for handlers posted past our lifetime
    // When each QoS 1/2 message with the client was handed over. Bounded by
    // the forwarder's window; cleared past max_timed should a token never
    // come back (the histogram then misses those, nothing else does).
    static constexpr std::size_t max_timed = 1 << 16;
    std::unordered_map<std::uint64_t, std::chrono::steady_clock::time_point> handed_at_;
    histogram ack_latency_;
    std::function<mqtt::message(mqtt::message)> hand_over_;
    std::function<bool()> gate_;
    std::function<bool(const mqtt::message&)> ready_;
};

}  // namespace fieldbridge::gateway
