#include "gateway/command_dispatcher.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/log_context.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

namespace fieldbridge::gateway {

mqtt::message reply_address(const mqtt::message& m, const std::string& configured) {
    // A Response Topic that is no topic name (a wildcard, say) or one the
    // broker refuses cannot be published to; the answer then goes to the
    // configured topic.
    const bool usable = !m.response_topic.empty() && !mqtt::check_outgoing_topic(m.response_topic);
    return mqtt::message{
        usable ? m.response_topic : configured, {}, mqtt::qos::at_least_once, false, {}, m.correlation_data};
}

std::string command_dispatcher::unusable_response_topic(const std::string& topic) const {
    // The decoder refuses a packet whose strings are not UTF-8 [MQTT-1.5.4-1];
    // checked again here for a message that came another way.
    if (mqtt::check_mqtt_string(topic)) return "the Response Topic is not a valid UTF-8 topic name";
    if (topic.find_first_of("+#") != std::string::npos) {
        return "the Response Topic '" + shortened(topic) + "' holds a wildcard (+ or #): no reply can be published there";
    }
    if (mqtt::check_topic_name(topic)) return "the Response Topic '" + shortened(topic) + "' is no topic name";
    if (const auto ec = mqtt::check_outgoing_topic(topic)) {
        return "the Response Topic '" + shortened(topic) + "' is one the broker refuses: " + ec.message();
    }
    if (table_.takes_commands_on(topic)) {
        return "the Response Topic '" + shortened(topic) +
               "' is one of the gateway's command topics: a reply there would come back as a command";
    }
    if (table_.publishes_on(topic)) {
        return "the Response Topic '" + shortened(topic) +
               "' is one the gateway publishes its own messages on (values, availability, status or "
               "Sparkplug): a reply there would be taken for one of them";
    }
    return {};
}

command_dispatcher::command_dispatcher(const config::gateway& cfg, command_ports ports,
                                       std::shared_ptr<const point_topics> topics)
    : cfg_(&cfg), ports_(std::move(ports)), table_(cfg, std::move(topics)) {}

void command_dispatcher::reconfigure(const config::gateway& cfg, std::shared_ptr<const point_topics> topics) {
    cfg_ = &cfg;
    table_ = command_table(cfg, std::move(topics));
}

void command_dispatcher::subscribe() {
    // A reload that moved or removed command topics: the broker would go on
    // sending commands for topics that name no point any more.
    const auto& wanted = table_.filters();
    for (auto it = subscribed_.begin(); it != subscribed_.end();) {
        if (std::find(wanted.begin(), wanted.end(), *it) != wanted.end()) {
            ++it;
            continue;
        }
        if (!mqtt::check_topic_filter(*it)) {
            spdlog::info("commands: unsubscribing from {}: no command topic of the configuration is under it", *it);
            if (ports_.unsubscribe) ports_.unsubscribe(*it);
        }
        it = subscribed_.erase(it);
    }
    for (const auto& filter : wanted) {
        if (!subscribed_.insert(filter).second) continue;
        // One filter per SUBSCRIBE, each checked first: a filter that cannot
        // be encoded would otherwise take every other command topic with it.
        if (const auto bad = mqtt::check_topic_filter(filter)) {
            spdlog::error("commands: cannot subscribe to {}: {}; its commands get no answer", filter,
                          bad.message());
            continue;
        }
        ports_.subscribe(filter);
    }
}

bool command_dispatcher::admit(const mqtt::message& m) {
    ++counters_.received;
    if (m.retain && !cfg_->commands.accept_retained) {
        ++counters_.retained_ignored;
        // At every subscription the broker hands over every retained
        // command at once: one line a minute for them all.
        if (const auto held = log_limit_.admit("retained command ignored", ports_.now())) {
            spdlog::info("ignoring the retained command on {} (commands.accept_retained is off){}",
                         shortened(m.topic), log_limiter::suffix(*held));
        }
        return false;
    }
    return true;
}

void command_dispatcher::on_command(const mqtt::message& m) {
    if (!admit(m)) return;
    if (m.topic.size() > table_.topic_limit()) {
        ++counters_.topic_too_long;
        if (const auto held = log_limit_.admit("command topic too long", ports_.now())) {
            spdlog::warn(
                "command on {} dropped unanswered: its topic is longer than any command topic ({} bytes){}",
                shortened(m.topic), table_.topic_limit(), log_limiter::suffix(*held));
        }
        return;
    }
    const auto target = table_.find(m.topic);
    const auto configured_reply = table_.reply_topic_for(m.topic);
    if (m.response_topic.size() > max_command_topic || m.correlation_data.size() > max_correlation_data) {
        // Not carried into the reply: it goes to the configured topic, without correlation data.
        ++counters_.reply_address_too_long;
        return refuse({m.topic, mqtt::message{configured_reply, {}, mqtt::qos::at_least_once, false},
                       command_id(m.payload)},
                      "the Response Topic is longer than " + std::to_string(max_command_topic) +
                          " bytes or the Correlation Data longer than " +
                          std::to_string(max_correlation_data));
    }
    if (!m.response_topic.empty()) {
        if (auto why = unusable_response_topic(m.response_topic); !why.empty()) {
            // Not written: the caller waits on a topic no answer can reach,
            // and would not learn the outcome. The refusal goes to the
            // configured topic, with the Correlation Data to match it.
            ++counters_.response_topic_refused;
            return refuse({m.topic,
                           mqtt::message{configured_reply, {}, mqtt::qos::at_least_once, false, {}, m.correlation_data},
                           command_id(m.payload)},
                          why + "; not written");
        }
    }
    if (m.payload.size() > max_command_payload) ++counters_.payload_too_large;
    if (target && target->whole_device) {
        return on_device_command(m, *target, {m.topic, reply_address(m, configured_reply), std::nullopt});
    }
    auto decision = decide_point_command(*cfg_, target, m.topic, m.payload);
    const reply_to to{m.topic, reply_address(m, configured_reply), decision.id};
    if (!decision.write) return refuse(to, decision.refusal);
    const auto device_index = decision.write->device;
    const auto& device = cfg_->devices[device_index];
    if (auto not_now = not_writable_now(device_index)) return refuse(to, *not_now);
    auto go = [this, device_index, point_index = decision.write->point,
               value = std::move(decision.write->value), to, device = device.name, bus = device.bus,
               point = device.points[decision.write->point]] {
        if (!room_on_bus(bus, 1, to)) return;
        write_on_bus(device_index, point_index, value, bus,
                     [this, to, device, point](const modbus::point_result& r) { point_done(to, device, point, r); });
    };
    when_online(device.name, std::move(go), to);
}

// Several points of one device in one command: all are checked before any is
// written, then written in the order given, and answered together.
void command_dispatcher::on_device_command(const mqtt::message& m, const command_target& target,
                                           const reply_to& address) {
    auto parsed = parse_device_command(m.payload);
    auto to = address;
    to.id = parsed.id;
    if (!parsed.command) return refuse(to, parsed.error);
    const auto& device = cfg_->devices[target.device];
    struct one_write {
        std::size_t index;
        config::point point;
        modbus::value value;
    };
    std::vector<one_write> writes;
    for (const auto& entry : parsed.command->values) {
        const auto& [name, v] = entry;
        const auto pt = std::find_if(device.points.begin(), device.points.end(),
                                     [&entry](const auto& x) { return x.name == entry.first; });
        if (pt == device.points.end()) {
            return refuse(to, "device " + device.name + " has no point named '" + shortened(name) + "'");
        }
        std::string why;
        auto value = write_value(device, *pt, v, why);
        if (!value) return refuse(to, why);
        writes.push_back({static_cast<std::size_t>(pt - device.points.begin()), *pt, std::move(*value)});
    }
    if (writes.size() > max_queued_writes_per_bus) {
        // Never room on the bus, however long it waits: say so, not "later".
        return refuse(to, "the command names " + std::to_string(writes.size()) + " points; one command writes at most " +
                              std::to_string(max_queued_writes_per_bus) + " (the writes a bus queues): split it");
    }
    if (auto not_now = not_writable_now(target.device)) return refuse(to, *not_now);
    struct progress {
        std::size_t remaining;
        nlohmann::json values = nlohmann::json::object();
        nlohmann::json errors = nlohmann::json::object();
    };
    auto go = [this, device_index = target.device, writes = std::move(writes), to, device = device.name,
               bus = device.bus] {
        if (!room_on_bus(bus, writes.size(), to)) return;  // all or none
        auto state = std::make_shared<progress>(progress{writes.size()});
        for (const auto& w : writes) {
            write_on_bus(
                device_index, w.index, w.value, bus,
                [this, state, to, device, point = w.point](const modbus::point_result& r) {
                    if (r.error) {
                        ++counters_.writes_failed;
                        state->errors[point.name] = failure_fields(r);
                        log_failed_write(device, point, r);
                    } else {
                        ++counters_.writes_ok;
                        state->values[point.name] = point_value(point, r.readback);
                        ports_.written(device, point, r.readback);
                    }
                    if (--state->remaining > 0) return;
                    nlohmann::json j = {{"id", to.id ? nlohmann::json(*to.id) : nlohmann::json(nullptr)},
                                        {"ok", state->errors.empty()},
                                        {"values", state->values}};
                    if (!state->errors.empty()) j["errors"] = state->errors;
                    answer(to, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
                });
        }
    };
    when_online(device.name, std::move(go), to);
}

void command_dispatcher::write_point(const std::string& topic, std::size_t device, std::size_t point,
                                     const nlohmann::json& value) {
    const reply_to to{topic, {}, std::nullopt};  // no address: nothing is answered
    if (device >= cfg_->devices.size() || point >= cfg_->devices[device].points.size()) {
        return refuse(to, "no such point");
    }
    const auto& d = cfg_->devices[device];
    const auto& p = d.points[point];
    std::string why;
    auto v = write_value(d, p, value, why);
    if (!v) return refuse(to, why);
    if (auto not_now = not_writable_now(device)) return refuse(to, *not_now);
    auto go = [this, device, point, v = std::move(*v), to, name = d.name, bus = d.bus, pt = p] {
        if (!room_on_bus(bus, 1, to)) return;
        write_on_bus(device, point, v, bus,
                     [this, to, name, pt](const modbus::point_result& r) { point_done(to, name, pt, r); });
    };
    when_online(d.name, std::move(go), to);
}

void command_dispatcher::refused(const std::string& topic, const std::string& why) {
    refuse(reply_to{topic, {}, std::nullopt}, why);
}

void command_dispatcher::point_done(const reply_to& to, const std::string& device, const config::point& point,
                                    const modbus::point_result& r) {
    const log_scope on_device(log_field::device, device);
    const log_scope on_point(log_field::point, point.name);
    if (r.error) {
        ++counters_.writes_failed;
        log_failed_write(device, point, r);
    } else {
        ++counters_.writes_ok;
    }
    answer(to, write_reply(to.id, point, r));
    if (!r.error) ports_.written(device, point, r.readback);
}

void command_dispatcher::log_failed_write(const std::string& device, const config::point& point,
                                          const modbus::point_result& r) {
    // A client repeating a command to a device that does not take it: the
    // reply says so each time, the journal once a minute per point.
    if (const auto held = log_limit_.admit("write failed " + device + "/" + point.name, ports_.now())) {
        spdlog::warn("command to {}/{} failed: {}{}", device, point.name, r.error.message(),
                     log_limiter::suffix(*held));
    }
}

bool command_dispatcher::room_on_bus(const std::string& bus, std::size_t n, const reply_to& to) {
    auto& queued = queued_writes_[bus];
    if (queued + n > max_queued_writes_per_bus) {
        ++counters_.bus_queue_full;
        refuse(to, "bus " + bus + " already has " + std::to_string(queued) + " writes waiting (at most " +
                       std::to_string(max_queued_writes_per_bus) + "); not written, send it again later");
        return false;
    }
    queued += n;
    return true;
}

void command_dispatcher::left_bus(const std::string& bus) {
    if (const auto it = queued_writes_.find(bus); it != queued_writes_.end() && it->second > 0) --it->second;
}

void command_dispatcher::write_on_bus(std::size_t device, std::size_t point, const modbus::value& v,
                                      const std::string& bus, command_ports::point_handler then) {
    ports_.write(device, point, v, [this, bus, then = std::move(then)](const modbus::point_result& r) {
        left_bus(bus);
        then(r);
        settled();
    });
}

bool command_dispatcher::writes_out() const {
    return std::any_of(queued_writes_.begin(), queued_writes_.end(), [](const auto& q) { return q.second > 0; });
}

void command_dispatcher::when_writes_answered(std::function<void()> done) {
    pending_replies_->then = nullptr;
    writes_answered_ = std::move(done);
    settled();
}

// After a write's answer was handed to the client: the last one hands what
// waits for them to the replies still out, or runs it when none is.
void command_dispatcher::settled() {
    if (!writes_answered_ || writes_out()) return;
    auto done = std::exchange(writes_answered_, {});
    if (pending_replies_->pending == 0) return done();
    pending_replies_->then = std::move(done);
}

std::optional<std::string> command_dispatcher::not_writable_now(std::size_t device) const {
    // The shutdown retires the buses after close(): its reason, not "not polled".
    if (closed_) return closed_;
    if (!ports_.polled(device)) return "device " + cfg_->devices[device].name + " is not polled";
    return std::nullopt;
}

void command_dispatcher::when_online(const std::string& device, std::function<void()> go,
                                     const reply_to& to) {
    if (closed_) return refuse(to, *closed_);
    if (!ports_.offline(device)) return go();
    const auto max_age = cfg_->commands.max_age;
    if (max_age.count() <= 0) return refuse(to, "device " + device + " is offline");
    const auto now = ports_.now();
    const auto held = held_.hold(
        {device, now + max_age, std::move(go), [this, to](const std::string& why) { refuse(to, why); }});
    if (held.refused != held_commands::refusal::none) {
        ++counters_.held_full;
        return refuse(
            to, "device " + device + " is offline and " +
                    (held.refused == held_commands::refusal::device_full
                         ? std::to_string(held.waiting) + " commands already wait for it"
                         : std::to_string(held.waiting) + " commands already wait for offline devices"));
    }
    if (const auto logged = log_limit_.admit("held for " + device, now)) {
        spdlog::info("command for offline device {} held for up to {} ms{}", device, max_age.count(),
                     log_limiter::suffix(*logged));
    }
    expire(now);
}

void command_dispatcher::device_back(const std::string& device) {
    const log_scope on_device(log_field::device, device);
    // A deadline may have passed while the wake-up timer had not run yet:
    // such a command is answered as expired, never written late.
    auto [ready, expired] = held_.release(device, ports_.now());
    for (auto& c : expired) c.give_up(expired_reason(c.device));
    if (ready.empty()) return;
    spdlog::info("device {} is back: writing {} held command(s)", device, ready.size());
    for (auto& c : ready) c.go();
}

std::string command_dispatcher::expired_reason(const std::string& device) const {
    return "device " + device + " stayed offline for longer than commands.max_age (" +
           std::to_string(cfg_->commands.max_age.count()) + " ms); not written";
}

void command_dispatcher::expire(time_point now) {
    for (auto& c : held_.expire(now)) c.give_up(expired_reason(c.device));
    if (const auto next = held_.next_deadline()) ports_.wake_at(*next);
}

void command_dispatcher::give_up_all(const std::string& why) {
    for (auto& c : held_.take_all()) c.give_up(why);
}

void command_dispatcher::close(const std::string& why) {
    closed_ = why;
    give_up_all(why);
}

void command_dispatcher::refuse(const reply_to& to, const std::string& why) {
    ++counters_.refused;
    // A client repeating a bad command must not flood the journal: one line
    // a minute per command topic, and one for all topics that name no point
    // (a flood of made-up topics is one kind of trouble, not thousands).
    // Sparkplug NCMD/DCMD (no reply address): one for them all, since any
    // device name may follow DCMD in a topic.
    const auto key = to.address.topic.empty()        ? std::string("Sparkplug command")
                     : table_.find(to.command_topic) ? "command " + to.command_topic
                                                     : std::string("command on a topic naming no point");
    if (const auto held = log_limit_.admit(key, ports_.now())) {
        spdlog::warn("command on {} refused: {}{}", shortened(to.command_topic), shortened(why, 400),
                     log_limiter::suffix(*held));
    }
    answer(to, reply_payload(to.id, false, why, nullptr, 0));
}

// Straight to the client, not through the queue: an answer is for the
// caller waiting now, not worth a disk commit ahead of it.
void command_dispatcher::answer(const reply_to& to, std::string payload) {
    if (to.address.topic.empty()) return;  // a Sparkplug DCMD: no reply message
    auto message = to.address;
    message.payload = std::move(payload);
    send_reply(std::move(message));
}

// Replies bypass the queue and wait in the client while the link is down or
// slow: their number is bounded, a reply past the bound is not sent (counted).
void command_dispatcher::send_reply(mqtt::message answer) {
    // A reply on a command topic would be taken as a command (by this
    // gateway, or by one sharing its topics). Response Topics are checked
    // on arrival and configured reply topics by the loader; this holds
    // whatever got past them.
    if (table_.takes_commands_on(answer.topic)) {
        ++counters_.replies_looping;
        if (const auto held = log_limit_.admit("command reply on a command topic", ports_.now())) {
            spdlog::error("command reply to {} not sent: it is a command topic and would come back as a command{}",
                          shortened(answer.topic), log_limiter::suffix(*held));
        }
        return;
    }
    if (pending_replies_->pending >= max_pending_replies) {
        ++counters_.replies_dropped;
        if (const auto held = log_limit_.admit("command replies dropped", ports_.now())) {
            spdlog::warn("command reply to {} not sent: {} replies already wait for the broker{}",
                         shortened(answer.topic), max_pending_replies, log_limiter::suffix(*held));
        }
        return;
    }
    ++pending_replies_->pending;
    ports_.publish(std::move(answer), [out = pending_replies_] {
        if (--out->pending == 0 && out->then) std::exchange(out->then, {})();
    });
}

}  // namespace fieldbridge::gateway
