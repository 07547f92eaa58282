// <utility> first: Boost.Asio's awaitable headers use std::exchange.
#include <utility>

#include "mqtt/client.hpp"

#include <array>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "common/log_limiter.hpp"
#include "common/shortened.hpp"
#include "mqtt/backoff.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/error.hpp"
#include "mqtt/inbound.hpp"
#include "mqtt/properties.hpp"
#include "mqtt/subscription_failure.hpp"
#include "mqtt/topic.hpp"

namespace fieldbridge::mqtt {
namespace asio = boost::asio;

namespace {

const char* state_text(link_state s) {
    switch (s) {
        case link_state::disconnected:
            return "disconnected";
        case link_state::connecting:
            return "connecting";
        case link_state::connected:
            return "connected";
    }
    return "?";
}

// How long a link must stay up before the reconnect back-off starts again
// from its minimum.
constexpr std::chrono::seconds stable_link{10};

// How long a link being closed (a keep-alive timeout, a protocol error) may
// take to finish the write in progress before it is closed under it.
constexpr std::chrono::seconds close_write_wait{2};

// The largest packet taken from the broker: options.max_incoming_packet,
// at least 256 bytes (below, a CONNACK with its properties would not fit),
// at most what MQTT can carry.
std::size_t incoming_limit(const client_options& o) {
    return std::clamp<std::size_t>(o.max_incoming_packet, 256, 1 + 4 + max_remaining_length);
}

session_options session_options_from(const client_options& o) {
    session_options s;
    s.version = o.version;
    s.session_expiry = o.session_expiry;
    s.client_id = o.client_id;
    s.keepalive = o.keepalive;
    s.clean_session = o.clean_session;
    s.will = o.will;
    if (!o.username.empty()) s.username = o.username;
    if (!o.password.empty()) s.password = o.password;
    s.max_inflight = o.max_inflight;
    s.connack_timeout = o.connect_timeout;
    s.maximum_packet_size = static_cast<std::uint32_t>(incoming_limit(o));
    return s;
}

}  // namespace

struct client::impl : std::enable_shared_from_this<impl> {
    impl(const asio::any_io_executor& ex, client_options o, transport_factory make)
        : executor(ex),
          options(std::move(o)),
          make_transport(std::move(make)),
          session(session_options_from(options)),
          retry(options.reconnect_min, options.reconnect_max, std::random_device{}()),
          session_timer(ex),
          reconnect_timer(ex),
          connect_timer(ex),
          close_timer(ex),
          rx(options.version, incoming_limit(options)) {
        stats.server = {options.host, options.port};
        session.track_writes();  // start_write() tells the session what a write took
    }

    asio::any_io_executor executor;
    client_options options;
    transport_factory make_transport;
    mqtt::session session;
    backoff retry;
    asio::steady_timer session_timer;
    asio::steady_timer reconnect_timer;
    asio::steady_timer connect_timer;
    asio::steady_timer close_timer;  // bounds the wait for a write before a close

    std::shared_ptr<transport> link;  // the current attempt or connection
    inbound rx;  // the broker's bytes, cut into packets within options.max_incoming_packet
    std::array<std::uint8_t, 16384> chunk{};
    std::vector<std::uint8_t> tx;  // encoded packets waiting for the write in progress
    bool writing = false;
    std::size_t writing_bytes = 0;  // of the write in progress
    bool write_posted = false;  // a start_write is queued on the executor
    std::size_t server_index = 0;  // into servers()
    bool close_after_write = false;
    std::error_code close_reason;
    std::string close_detail;
    bool malformed = false;  // the link is being closed over bytes the decoder refused
    bool oversized = false;  // ... over a packet larger than options.max_incoming_packet

    link_state state = link_state::disconnected;
    bool started = false;
    bool stopping = false;
    bool stopped = false;
    std::function<void()> stop_done;
    std::vector<std::function<void(link_state)>> on_state;

    std::uint64_t next_token = client_token_base;  // below: the caller's own tokens
    std::function<void(std::uint64_t, std::error_code)> on_completed;
    std::function<bool()> before_write;
    // When the link in use got its CONNACK: the back-off starts again from
    // its minimum only after a link that stayed up (see link_down).
    std::optional<clock::time_point> connected_at;
    std::map<std::uint64_t, publish_handler> completions;
    std::vector<std::pair<std::string, message_handler>> handlers;
    client_stats stats;
    log_limiter log_limit;  // repeated connection failures

    void set_state(link_state s) {
        if (s == state) return;
        state = s;
        spdlog::debug("mqtt: link {}", state_text(s));
        for (const auto& f : on_state) f(s);
    }

    // The address list: host:port, then the failover addresses.
    std::vector<server_address> servers() const {
        std::vector<server_address> all{{options.host, options.port}};
        all.insert(all.end(), options.failover.begin(), options.failover.end());
        return all;
    }
    const server_address& server() const { return stats.server; }

    // After an attempt that failed before its CONNACK: the next address.
    void next_server() {
        const auto all = servers();
        if (all.size() < 2) return;
        server_index = (server_index + 1) % all.size();
        stats.server = all[server_index];
        ++stats.failovers;
        spdlog::info("mqtt: trying the next broker address {}:{}", stats.server.host, stats.server.port);
    }

    void connect() {
        if (stopping) return;
        auto t = make_transport();
        link = t;
        rx.clear();
        tx.clear();
        writing = false;
        writing_bytes = 0;
        close_after_write = false;
        close_detail.clear();
        malformed = false;
        oversized = false;
        set_state(link_state::connecting);

        connect_timer.expires_after(options.connect_timeout);
        connect_timer.async_wait([self = shared_from_this(), t](const boost::system::error_code& ec) {
            if (ec || t != self->link || self->state == link_state::connected) return;
            self->link_down(t, make_error_code(mqtt_errc::connect_timeout), "");
        });
        t->async_connect(server(), [self = shared_from_this(), t](std::error_code ec, const std::string& context) {
            if (t != self->link) return;
            if (ec) return self->link_down(t, ec, context);
            self->transport_up(t);
        });
    }

    void transport_up(const std::shared_ptr<transport>& t) {
        execute(session.on_transport_connected(clock::now()));
        if (t == link) read_loop(t);
    }

    void read_loop(const std::shared_ptr<transport>& t) {
        t->async_read_some(chunk, [self = shared_from_this(), t](std::error_code ec, std::size_t n) {
            if (t != self->link) return;
            if (ec) return self->link_down(t, ec, "");
            self->rx.feed(std::span<const std::uint8_t>(self->chunk).first(n));
            self->session.note_received(clock::now());
            while (t == self->link) {
                auto r = self->rx.next();
                if (r.status == decode_status::need_more) break;
                if (r.status == decode_status::error) {
                    // 5.0: DISCONNECT 0x95 (Packet too large) for a packet
                    // over the Maximum Packet Size CONNECT gave, else 0x81
                    // (Malformed Packet), goes out first.
                    const bool too_large = r.error == make_error_code(mqtt_errc::packet_too_large);
                    self->malformed = !too_large;
                    self->oversized = too_large;
                    self->execute(self->session.fail(r.error, too_large ? 0x95 : 0x81, clock::now()));
                    if (t == self->link && !self->close_after_write) {
                        self->link_down(t, r.error, self->close_context());
                    }
                    return;
                }
                if (r.oversized) {
                    const auto& head = std::get<mqtt::publish>(r.packet);
                    if (const auto held = self->log_limit.admit("oversized", std::chrono::steady_clock::now())) {
                        spdlog::warn("mqtt: dropped a {}-byte message on {}: larger than the {} bytes this client "
                                     "takes{}",
                                     r.size, shortened(head.topic), incoming_limit(self->options),
                                     log_limiter::suffix(*held));
                    }
                    self->execute(self->session.on_oversized_publish(head, clock::now()));
                    continue;
                }
                self->execute(self->session.on_packet(r.packet, clock::now()));
            }
            if (t != self->link) return;
            self->read_loop(t);
        });
    }

    void start_write(const std::shared_ptr<transport>& t) {
        if (writing || tx.empty() || t != link) return;
        if (before_write && !before_write()) {
            // Durable before sent: what the ledger could not record stays
            // unsent, and the link goes so that the session resumes from
            // what the ledger holds.
            tx.clear();
            close_after_write = false;
            return link_down(t, make_error_code(mqtt_errc::ledger_failed), "");
        }
        writing = true;
        session.written();
        auto buffer = std::make_shared<std::vector<std::uint8_t>>(std::move(tx));
        tx.clear();
        writing_bytes = buffer->size();
        t->async_write(*buffer, [self = shared_from_this(), t, buffer](std::error_code ec, std::size_t) {
            if (t != self->link) return;
            self->writing = false;
            self->writing_bytes = 0;
            if (ec) return self->link_down(t, ec, "");
            if (!self->tx.empty()) return self->schedule_write();
            if (self->close_after_write) self->link_down(t, self->close_reason, self->close_context());
        });
    }

    void execute(actions list) {
        const auto t = link;
        carry_out(list, [&](auto& x) { perform(t, x); });
    }

    void perform(const std::shared_ptr<transport>& t, action::send& s) {
        if (!t || t != link) return;
        auto bytes = encode(s.packet, options.version);
        if (!bytes) {
            // Only a message the broker could never take gets here (a topic
            // that is not valid UTF-8, a payload over 256 MB).
            spdlog::error("mqtt: cannot encode {}: {}", name_of(type_of(s.packet)), bytes.error().message());
            return;
        }
        tx.insert(tx.end(), bytes->begin(), bytes->end());
        schedule_write();
    }

    // The write starts once the current handler is done, so that everything
    // it produces (the PUBLISHes freed by a read full of acks, a batch of
    // publishes) goes out in one write behind one ledger commit.
    void schedule_write() {
        if (writing || write_posted) return;
        write_posted = true;
        asio::post(executor, [self = shared_from_this()] {
            self->write_posted = false;
            // A copy: start_write() may end the link, which resets `link`.
            if (auto t = self->link) self->start_write(t);
        });
    }
    void perform(const std::shared_ptr<transport>& t, action::set_timer& s) {
        session_timer.expires_at(s.deadline);
        session_timer.async_wait([self = shared_from_this(), t](const boost::system::error_code& ec) {
            if (ec || t != self->link) return;
            self->execute(self->session.on_timer(clock::now()));
        });
    }
    void perform(const std::shared_ptr<transport>&, action::cancel_timer&) { session_timer.cancel(); }
    void perform(const std::shared_ptr<transport>&, action::deliver& d) {
        ++stats.received;
        for (const auto& [filter, handler] : handlers) {
            if (topic_matches(filter, d.message.topic)) handler(d.message);
        }
    }
    void perform(const std::shared_ptr<transport>&, action::publish_completed& c) {
        const auto it = completions.find(c.token);
        ++(c.error ? stats.failed : stats.acknowledged);
        if (c.error && c.error.category() == reason_code_category()) ++stats.refused;
        if (c.downgraded) {
            ++stats.downgraded;
            if (const auto held = log_limit.admit("downgraded", std::chrono::steady_clock::now())) {
                spdlog::warn("mqtt: the broker acknowledged a QoS 2 message with PUBACK: it takes QoS 1 only, so "
                             "delivery is at least once (duplicates possible), not exactly once ({} so far){}",
                             stats.downgraded, log_limiter::suffix(*held));
            }
        }
        if (on_completed) on_completed(c.token, c.error);
        if (it == completions.end()) return;
        auto done = std::move(it->second);
        completions.erase(it);
        if (done) done(c.error);
    }
    void perform(const std::shared_ptr<transport>&, action::subscribe_completed& c) {
        if (c.error) spdlog::warn("mqtt: {}", subscription_failure(c, options.version));
    }
    void perform(const std::shared_ptr<transport>&, action::unsubscribe_refused& r) {
        spdlog::warn("mqtt: {}", unsubscribe_failure(r));
    }
    void perform(const std::shared_ptr<transport>&, action::connected& c) {
        connect_timer.cancel();
        connected_at = clock::now();
        ++stats.connects;
        stats.last_error.clear();
        spdlog::info("mqtt: connected to {}:{}{} with MQTT {} (session {})", server().host, server().port,
                     options.tls.enabled ? " over TLS" : "", options.version == protocol_version::v5 ? "5.0" : "3.1.1",
                     c.session_present ? "resumed" : "new");
        const auto& l = session.limits();
        if (options.version == protocol_version::v5) {
            spdlog::debug("mqtt: broker limits: receive maximum {}, maximum packet size {}, maximum QoS {}, "
                          "retain {}, topic aliases {}",
                          l.receive_maximum, l.maximum_packet_size, static_cast<int>(l.maximum_qos),
                          l.retain_available ? "available" : "not available", l.topic_alias_maximum);
            if (l.maximum_qos == qos::at_most_once) {
                spdlog::error("mqtt: the broker accepts QoS 0 only; QoS 1 and 2 messages stay queued until it "
                              "accepts them (never sent at a lower guarantee)");
            } else if (l.maximum_qos == qos::at_least_once) {
                spdlog::warn("mqtt: the broker accepts QoS up to 1; QoS 2 messages are sent at QoS 1 "
                             "(at least once: duplicates possible)");
            }
            if (!l.retain_available) spdlog::warn("mqtt: the broker does not support retained messages; sent plain");
        }
        set_state(link_state::connected);
    }
    void perform(const std::shared_ptr<transport>& t, action::close_connection& c) {
        if (!t || t != link) return;
        close_reason = c.reason;
        close_detail = c.detail;
        if (writing || !tx.empty()) {
            // The write in progress (and the DISCONNECT behind it) may go
            // first, for a while: on a link that takes no more bytes (the
            // keep-alive found it dead) it would never end before the
            // kernel gives up, with the link taken for up meanwhile.
            close_after_write = true;
            close_timer.expires_after(close_write_wait);
            close_timer.async_wait([self = shared_from_this(), t](const boost::system::error_code& ec) {
                if (!ec) self->link_down(t, self->close_reason, self->close_context());
            });
            start_write(t);
            return;
        }
        link_down(t, c.reason, close_context());
    }

    // What a log line says around the reason a link closed.
    std::string close_context() const {
        if (malformed) return "malformed packet from the broker";
        if (oversized) return "packet from the broker over the Maximum Packet Size this client gave";
        if (close_reason && close_reason.category() == reason_code_category()) {
            return close_detail.empty() ? "broker said" : "broker said (" + close_detail + ")";
        }
        return close_detail;
    }

    // The link `t` is gone (or closed on purpose when reason is empty). By
    // value: a caller's reference may be `link` itself, which this resets.
    // NOLINTNEXTLINE(performance-unnecessary-value-param): the copy is the point.
    void link_down(std::shared_ptr<transport> t, std::error_code reason, const std::string& context) {
        if (!t || t != link) return;
        link.reset();
        t->close();
        connect_timer.cancel();
        close_timer.cancel();
        session_timer.cancel();
        execute(session.on_connection_lost(clock::now()));
        const bool was_connected = state == link_state::connected;
        if (was_connected) ++stats.disconnects;
        // A link that ends soon after its CONNACK (the broker closes it over
        // something this client sends) must not be retried at the minimum
        // delay forever: the back-off restarts only after a link that lasted.
        if (was_connected && connected_at && clock::now() - *connected_at >= stable_link) retry.reset();
        connected_at.reset();
        if (reason && !stopping) {
            stats.last_error = context.empty() ? reason.message() : context + ": " + reason.message();
            // A broker down for hours is retried every few seconds: say so once a minute.
            if (const auto held = log_limit.admit(stats.last_error, std::chrono::steady_clock::now())) {
                spdlog::warn("mqtt: {}:{}: {}{}", server().host, server().port, stats.last_error,
                             log_limiter::suffix(*held));
            }
        }
        set_state(link_state::disconnected);
        if (stopping) return finish_stop();
        if (!was_connected) next_server();
        const auto delay = retry.next();
        spdlog::debug("mqtt: reconnecting in {} ms", delay.count());
        reconnect_timer.expires_after(delay);
        reconnect_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && !self->stopping && !self->link) self->connect();
        });
    }

    // Messages taken back from the session: no longer published by us; one
    // published with a handler is completed as canceled (never inline).
    void withdrawn(const std::vector<std::uint64_t>& taken) {
        stats.published -= std::min<std::uint64_t>(stats.published, taken.size());
        for (const auto token : taken) {
            const auto it = completions.find(token);
            if (it == completions.end()) continue;
            asio::post(executor, [done = std::move(it->second)] { done(make_error_code(std::errc::operation_canceled)); });
            completions.erase(it);
        }
    }

    // A publish after stop(): completed with client_stopped, never inline.
    void fail_later(publish_handler done) {
        asio::post(executor, [done = std::move(done)] { done(make_error_code(mqtt_errc::client_stopped)); });
    }

    // drop_link(): once the current handler is done.
    void drop_soon(std::error_code reason) {
        asio::post(executor, [self = shared_from_this(), reason] {
            // A copy: link_down() resets `link`, and goes on using the transport it was given.
            if (auto t = self->link; t && !self->stopping) self->link_down(t, reason, "");
        });
    }

    void stop() {
        stopping = true;
        reconnect_timer.cancel();
        if (link && state == link_state::connected) {
            execute(session.disconnect(clock::now()));  // DISCONNECT, then link_down → finish_stop
            return;
        }
        if (link) {
            auto t = link;
            link_down(t, {}, "");
            return;
        }
        finish_stop();
    }

    void finish_stop() {
        if (stopped) return;
        stopped = true;
        connect_timer.cancel();
        session_timer.cancel();
        reconnect_timer.cancel();
        execute(session.abandon(make_error_code(mqtt_errc::client_stopped)));
        set_state(link_state::disconnected);
        if (stop_done) asio::post(executor, std::move(stop_done));
    }
};

client::client(const asio::any_io_executor& executor, client_options options) {
    auto transports = socket_transports(executor, options.tls);
    impl_ = std::make_shared<impl>(executor, std::move(options), std::move(transports));
}

client::client(const asio::any_io_executor& executor, client_options options, transport_factory transports)
    : impl_(std::make_shared<impl>(executor, std::move(options), std::move(transports))) {}

client::~client() {
    // Pending handlers hold the impl; make them find nothing to do.
    impl_->stopping = true;
    impl_->stopped = true;
    impl_->reconnect_timer.cancel();
    impl_->connect_timer.cancel();
    impl_->session_timer.cancel();
    if (impl_->link) {
        impl_->link->close();
        impl_->link.reset();
    }
}

void client::start() {
    if (impl_->started) return;
    impl_->started = true;
    impl_->connect();
}

void client::stop(std::function<void()> done) {
    impl_->stop_done = std::move(done);
    if (impl_->stopped) {
        if (impl_->stop_done) asio::post(impl_->executor, std::move(impl_->stop_done));
        return;
    }
    impl_->stop();
}

void client::publish(message m, publish_handler done) {
    auto& i = *impl_;
    ++i.stats.published;
    if (i.stopped) {
        ++i.stats.failed;
        if (done) i.fail_later(std::move(done));
        return;
    }
    const auto token = i.next_token++;
    if (done) i.completions.emplace(token, std::move(done));
    i.execute(i.session.publish(std::move(m), token, clock::now()));
}

void client::publish(message m, std::uint64_t token) {
    auto& i = *impl_;
    ++i.stats.published;
    i.execute(i.session.publish(std::move(m), token, clock::now()));
}

void client::on_completed(std::function<void(std::uint64_t, std::error_code)> f) {
    impl_->on_completed = std::move(f);
}

void client::on_before_write(std::function<bool()> f) { impl_->before_write = std::move(f); }

std::vector<std::uint64_t> client::withdraw(const std::function<bool(std::uint64_t)>& mine, bool in_flight) {
    auto taken = impl_->session.withdraw(mine, in_flight);
    impl_->withdrawn(taken);
    return taken;
}

std::vector<std::uint64_t> client::withdraw_queued(const std::function<bool(const message&, std::uint64_t)>& which) {
    auto taken = impl_->session.withdraw_queued(which);
    impl_->withdrawn(taken);
    return taken;
}

void client::drop_link(std::error_code reason) { impl_->drop_soon(reason); }
void client::set_will(std::optional<will_message> will) {
    impl_->options.will = will;
    impl_->session.set_will(std::move(will));
}

std::error_code client::resume_flows(std::vector<inflight_entry> flows) {
    return impl_->session.resume_flows(std::move(flows));
}

boost::asio::any_io_executor client::get_executor() const { return impl_->executor; }
void client::flows(std::vector<flow_status>& out) const { impl_->session.flows(out); }
std::vector<std::uint64_t> client::take_restarted() { return impl_->session.take_restarted(); }
void client::keep_restarted() { impl_->session.keep_restarted(); }
const std::set<std::uint16_t>& client::incoming_qos2() const { return impl_->session.incoming_qos2(); }

std::error_code client::restore_session(session_state state) {
    const auto flows = state.inflight.size();
    const auto ec = impl_->session.restore(std::move(state));
    // Resumed flows count as published by this run, so that what is
    // acknowledged never exceeds what was published.
    if (!ec) impl_->stats.published += flows;
    return ec;
}

void client::subscribe(std::string filter, qos q, message_handler handler) {
    subscribe(subscription{std::move(filter), q}, std::move(handler));
}

void client::subscribe(subscription s, message_handler handler) {
    auto& i = *impl_;
    i.handlers.emplace_back(s.filter, std::move(handler));
    i.execute(i.session.subscribe({std::move(s)}, 0, clock::now()));
}

void client::unsubscribe(const std::string& filter) {
    auto& i = *impl_;
    std::erase_if(i.handlers, [&](const auto& h) { return h.first == filter; });
    i.execute(i.session.unsubscribe({filter}, clock::now()));
}

void client::on_link_state(std::function<void(link_state)> f) { impl_->on_state.push_back(std::move(f)); }

client_stats client::stats() const {
    auto s = impl_->stats;
    s.queued = impl_->session.queued();
    s.inflight = impl_->session.inflight();
    s.unwritten_bytes = impl_->link ? impl_->tx.size() + impl_->writing_bytes : 0;
    s.limits = impl_->session.limits();
    s.keepalive = impl_->session.keepalive();
    return s;
}

link_state client::state() const { return impl_->state; }

}  // namespace fieldbridge::mqtt
