// The MQTT client: the pure session state machine (mqtt/session.hpp) driven
// over a transport (mqtt/transport.hpp) — TCP or TLS (OpenSSL) as the
// options say, or one the owner gives — with connect timeout and
// reconnection with jittered exponential backoff. Messages published while
// the link is down wait in the session's queue and go out, in order, when
// it returns.
//
// Thread-safety: none of its own. Every call and every callback happens on
// the executor given at construction, which must be run by one thread (the
// gateway's core io_context); call it from that thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "mqtt/client_stats.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/session.hpp"
#include "mqtt/token.hpp"
#include "mqtt/transport.hpp"

namespace fieldbridge::mqtt {

struct client_options {
    protocol_version version = protocol_version::v3_1_1;
    std::string host = "localhost";
    std::uint16_t port = 1883;
    // More addresses of the same broker (a cluster behind several names):
    // tried in turn after host:port when an attempt fails before its CONNACK.
    // A link lost after a CONNACK is tried again on the same address first.
    std::vector<server_address> failover;
    std::string client_id;
    std::chrono::seconds keepalive{30};
    std::string username;  // empty: not sent
    std::string password;  // empty: not sent
    bool clean_session = true;     // 5.0: Clean Start
    std::uint32_t session_expiry = 0;  // 5.0 Session Expiry Interval, seconds (0xFFFFFFFF: never)
    std::optional<will_message> will;
    tls_options tls;
    std::chrono::milliseconds reconnect_min{500};
    std::chrono::milliseconds reconnect_max{30000};
    std::chrono::milliseconds connect_timeout{10000};  // TCP + TLS + CONNACK
    std::size_t max_inflight = 64;
    // The largest packet taken from the broker, in bytes (mqtt/inbound.hpp):
    // a larger PUBLISH is acknowledged and dropped, never buffered whole;
    // 5.0 tells the broker (CONNECT Maximum Packet Size). At least 256.
    std::size_t max_incoming_packet = 1 << 20;
};

class client {
public:
    using publish_handler = std::function<void(std::error_code)>;
    using message_handler = std::function<void(const message&)>;

    // Connects over TCP, or TLS when options.tls.enabled.
    client(const boost::asio::any_io_executor& executor, client_options options);
    // Connects over what `transports` makes, one transport per attempt, to
    // the addresses of the options (options.tls is not used).
    client(const boost::asio::any_io_executor& executor, client_options options, transport_factory transports);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Connects, and reconnects whenever the link is lost, until stop().
    void start();
    // Sends DISCONNECT when connected (the will is not published), closes the
    // link, completes every queued message with client_stopped, then calls
    // done (posted, never inline).
    void stop(std::function<void()> done);

    // Queues m; done is called when the broker took it (QoS 1 PUBACK, QoS 2
    // PUBCOMP, QoS 0 written) or when the client is stopped.
    void publish(message m, publish_handler done = {});
    // The same for a caller that keeps its own ledger: `token` (below
    // client_token_base, mqtt/token.hpp; unique among messages not yet
    // completed) comes back through on_completed, the only notification for it.
    void publish(message m, std::uint64_t token);
    void on_completed(std::function<void(std::uint64_t token, std::error_code)> f);
    // Called right before bytes go to the broker, so that a durable ledger can
    // commit the session's state (flows(), incoming_qos2()) ahead of the wire.
    // Packets produced while one handler runs (a read of many acks, a batch
    // of publishes) leave in one write, so the ledger commits once for them.
    // When it returns false the bytes are discarded and the link is closed
    // (ledger_failed): nothing leaves that the ledger does not hold.
    void on_before_write(std::function<bool()> f);
    // Takes back the queued messages whose token `mine` accepts, and with
    // in_flight while disconnected their flows in progress too (session::withdraw).
    // The caller's tokens are not completed; a message published with a
    // handler is completed with operation_canceled (after this returns).
    std::vector<std::uint64_t> withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight);
    // The same for queued messages only, chosen by message and token.
    std::vector<std::uint64_t> withdraw_queued(const std::function<bool(const message&, std::uint64_t)>& which);
    // Closes the link (or the attempt in progress) once the current handler
    // is done, with `reason` as the cause; reconnects as after a lost link.
    void drop_link(std::error_code reason);
    // The will of the next connection and those after it (none: no will);
    // the broker keeps the one the connection up now registered. Sparkplug's
    // NDEATH carries a number that changes with every connection.
    void set_will(std::optional<will_message> will);
    // Adds flows reloaded from a durable ledger; only while disconnected.
    std::error_code resume_flows(std::vector<inflight_entry> flows);
    void flows(std::vector<flow_status>& out) const;
    // Flows started again as new messages on a session the broker did not
    // have, or because the link went before a write took their PUBLISH,
    // since the last call (session::take_restarted); kept only after
    // keep_restarted().
    std::vector<std::uint64_t> take_restarted();
    void keep_restarted();
    const std::set<std::uint16_t>& incoming_qos2() const;
    // Resume in-flight flows persisted by an earlier run; before start().
    std::error_code restore_session(session_state state);
    // Subscribes now or on the next connection; renewed on every connection
    // without a session present. handler gets every message matching filter.
    void subscribe(std::string filter, qos q, message_handler handler);
    // The same with the subscription's options (5.0: No Local, ...; a
    // 3.1.1 SUBSCRIBE carries none of them).
    void subscribe(subscription s, message_handler handler);
    // Forgets the filter's handlers and asks the broker to end the
    // subscription: now if connected, else on the next connection (a
    // resumed session still holds it). Not renewed any more.
    void unsubscribe(const std::string& filter);
    // Adds a listener, called in the order added at every change.
    void on_link_state(std::function<void(link_state)> f);
    boost::asio::any_io_executor get_executor() const;

    client_stats stats() const;
    link_state state() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace fieldbridge::mqtt
