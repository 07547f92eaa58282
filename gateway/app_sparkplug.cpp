// publish.format: sparkplug: the edge node's session over the service's
// client. Each connection registers NDEATH with the current bdSeq as its
// Will (the number is kept in the store, so a restart never reuses the
// one of the connection the broker may still be timing out); births go out
// when the link is up, ahead of the queue; DDATA leaves the store through
// the uplink, which stamps seq as it hands it over; DBIRTH and DDEATH follow
// the device health; NCMD and DCMD go to a rebirth and the command path.
#include <spdlog/spdlog.h>

#include "common/shortened.hpp"
#include "gateway/app.hpp"
#include "gateway/app_parts.hpp"
#include "mqtt/token.hpp"

namespace fieldbridge::gateway {
namespace {

constexpr const char* bd_seq_counter = "sparkplug_bd_seq";
// A DCMD larger than this is refused before it is decoded: a write of
// every point of a large device is far smaller.
constexpr std::size_t max_sparkplug_command = std::size_t{256} * 1024;

}  // namespace

void app::start_sparkplug() {
    auto& p = *parts_;
    std::uint8_t bd_seq = 0;
    if (auto kept = p.queue->counter(bd_seq_counter); !kept) {
        spdlog::error("queue: cannot read the Sparkplug bdSeq: {}; starting from 0", kept.error().message());
    } else if (*kept) {
        bd_seq = static_cast<std::uint8_t>(**kept & 0xFF);
    }
    p.sparkplug = std::make_unique<sparkplug_node>(cfg_, bd_seq);
    p.publisher.set_sparkplug(p.sparkplug.get(), [this](mqtt::message m) {
        if (parts_->sparkplug_ending) return;
        const bool birth = parts_->sparkplug->node().device_birth(m.topic);
        parts_->client.publish(std::move(m));
        // The device's stored DDATA waited for this DBIRTH; they follow it.
        if (birth) parts_->forward.rewind();
    });
    p.link.set_hand_over([this](mqtt::message m) {
        return parts_->sparkplug->hand_over(std::move(m), std::chrono::system_clock::now());
    });
    p.link.set_ready([this](const mqtt::message& m) { return parts_->sparkplug->ready(m); });
    register_sparkplug_will();
    // Nothing is handed over after the session's NDEATH (a primary host
    // gone offline, or the gateway stopping): it stays stored for the next
    // session. With a primary host, nothing before its STATE says online.
    p.link.set_gate([this] {
        const auto& q = *parts_;
        return !q.sparkplug_ending && (!q.primary_host || q.primary_host->online());
    });
    if (!cfg_.sparkplug.primary_host_id.empty()) {
        p.primary_host = std::make_unique<sparkplug::primary_host>(cfg_.sparkplug.primary_host_id);
        p.client.subscribe(p.primary_host->topic(), mqtt::qos::at_least_once, [this](const mqtt::message& m) {
            if (!stopping_) primary_host_state(m);
        });
    }
    for (const auto& filter : p.sparkplug->command_filters()) {
        p.client.subscribe(filter, mqtt::qos::at_least_once, [this](const mqtt::message& m) {
            if (!stopping_) sparkplug_command(m);
        });
    }
    spdlog::info("Sparkplug B edge node {}/{}: {} device(s), bdSeq {}", cfg_.sparkplug.group_id,
                 config::edge_node_id(cfg_.sparkplug, cfg_.mqtt), cfg_.devices.size(), bd_seq);
}

// The Will of the next connection, and the number the one after it (in
// this process or the next) will carry.
void app::register_sparkplug_will() {
    auto& p = *parts_;
    p.client.set_will(p.sparkplug->will(std::chrono::system_clock::now()));
    const auto next = static_cast<std::uint8_t>(p.sparkplug->bd_seq() + 1);
    if (auto r = p.queue->set_counter(bd_seq_counter, next); !r) {
        spdlog::error("queue: cannot keep the Sparkplug bdSeq: {}; a restart may repeat bdSeq {}", r.error().message(),
                      p.sparkplug->bd_seq());
    }
}

void app::sparkplug_link(bool up) {
    auto& p = *parts_;
    ++p.sparkplug_connection;
    p.sparkplug_ending = false;
    if (up) {
        if (p.primary_host && !p.primary_host->online()) {
            spdlog::info("Sparkplug: waiting for primary host {} to be online before the births",
                         p.primary_host->id());
            return;
        }
        return sparkplug_births();
    }
    if (p.primary_host) p.primary_host->link_lost();
    // Births, DBIRTH and DDEATH still queued in the client (a write pending
    // on a stalled socket) belong to the session that ended: the next one
    // sends its own, with its seq. The forwarder takes back its own
    // messages; JSON command replies wait for the next link as always.
    p.client.withdraw_queued([&node = p.sparkplug->node()](const mqtt::message& m, std::uint64_t token) {
        return !mqtt::caller_token(token) && node.in_namespace(m.topic);
    });
    p.sparkplug->session_ended();
    register_sparkplug_will();
}

// The primary host came online: births, then the queue (history first);
// went offline: NDEATH and a new connection, which waits for it.
void app::primary_host_state(const mqtt::message& m) {
    auto& p = *parts_;
    const auto verdict = p.primary_host->receive(m.payload);
    if (!verdict.error.empty()) {
        if (const auto held = p.state_log.admit("STATE", std::chrono::steady_clock::now())) {
            spdlog::warn("Sparkplug: {} on {}: ignored{}", shortened(verdict.error, 400), shortened(m.topic),
                         log_limiter::suffix(*held));
        }
        return;
    }
    using change = sparkplug::primary_host::change;
    if (verdict.what == change::none || p.client.state() != mqtt::link_state::connected) return;
    if (p.sparkplug_ending) return;  // this connection ends; the next one waits for the STATE again
    if (verdict.what == change::online) {
        spdlog::info("Sparkplug: primary host {} is online", p.primary_host->id());
        sparkplug_births();
        p.link.open_gate();
        return;
    }
    spdlog::warn("Sparkplug: primary host {} is offline: NDEATH, and data waits in the queue until it is back",
                 p.primary_host->id());
    // Nothing more of this session goes out: no DBIRTH/DDEATH, no births
    // should the host come back before the link is down.
    p.sparkplug_ending = true;
    p.client.publish(p.sparkplug->death(std::chrono::system_clock::now()),
                     [this, connection = p.sparkplug_connection](std::error_code) {
                         auto& q = *parts_;
                         if (stopping_ || q.sparkplug_connection != connection) return;  // another link by now
                         if (q.client.state() == mqtt::link_state::connected) {
                             q.client.drop_link(std::make_error_code(std::errc::connection_aborted));
                         }
                     });
}

// The gateway stops: its NDEATH, after which nothing of the session goes
// out (no DDATA from the queue, no DBIRTH or DDEATH): a host takes the
// node for offline once it has the NDEATH and would drop what follows.
mqtt::message app::sparkplug_goodbye() {
    parts_->sparkplug_ending = true;
    return parts_->sparkplug->death(std::chrono::system_clock::now());
}

// NBIRTH and DBIRTHs, straight to the client: they go out before anything
// the forwarder hands over after them.
void app::sparkplug_births() {
    auto& p = *parts_;
    if (p.client.state() != mqtt::link_state::connected) return;  // the next connection's births
    if (p.primary_host && !p.primary_host->online()) return;     // when the primary host is online
    if (p.sparkplug_ending) return;
    p.last_births = std::chrono::steady_clock::now();
    for (auto& m : p.sparkplug->births(std::chrono::system_clock::now())) p.client.publish(std::move(m));
    // Stored DDATA of the devices born now follow their DBIRTH.
    p.forward.rewind();
}

void app::sparkplug_command(const mqtt::message& m) {
    auto& p = *parts_;
    if (!p.dispatcher.admit(m)) return;
    // commands.enabled: false takes no write from MQTT, DCMD included (a
    // reload may turn it on or off); NCMD (a rebirth) writes nothing.
    if (!cfg_.commands.enabled && m.topic.find("/DCMD/") != std::string::npos) {
        p.dispatcher.refused(m.topic, "commands.enabled is false: no write is taken from MQTT");
        return;
    }
    if (m.payload.size() > max_sparkplug_command) {
        p.dispatcher.refused(m.topic, "a payload of " + std::to_string(m.payload.size()) + " bytes; at most " +
                                          std::to_string(max_sparkplug_command) + " are taken");
        return;
    }
    auto command = p.sparkplug->command(m.topic, m.payload);
    if (!command) return;
    for (const auto& why : command->refused) p.dispatcher.refused(m.topic, why);
    for (const auto& w : command->writes) p.dispatcher.write_point(m.topic, w.device, w.point, w.value);
    if (command->rebirth) {
        if (const auto why = rebirth_put_off(std::chrono::steady_clock::now() - p.last_births,
                                             p.client.stats().unwritten_bytes)) {
            spdlog::info("Sparkplug rebirth asked for on {}: put off, {}", m.topic, *why);
            return;
        }
        spdlog::info("Sparkplug rebirth asked for on {}", m.topic);
        sparkplug_births();
    }
}

// A reload kept the ids (config_reload refuses other changes) but the
// devices and points may differ: a new node with the same bdSeq and the
// aliases of the metrics it keeps, the devices online as their health says,
// a DDEATH for each born device that is not online in it, and births when
// the link is up.
void app::sparkplug_reconfigured() {
    auto& p = *parts_;
    const auto now = std::chrono::system_clock::now();
    sparkplug_node next(cfg_, p.sparkplug->bd_seq(), p.sparkplug.get());
    for (std::size_t d = 0; d < cfg_.devices.size(); ++d) {
        const auto state = p.publisher.health(cfg_.devices[d].name).state();
        next.device_state(d, state, now);  // not born: nothing to publish
    }
    for (auto& death : p.sparkplug->deaths_before(next, now)) {
        if (!p.sparkplug_ending) p.client.publish(std::move(death));
    }
    *p.sparkplug = std::move(next);
    sparkplug_births();
}

}  // namespace fieldbridge::gateway
