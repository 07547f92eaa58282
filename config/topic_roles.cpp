#include "config/topic_roles.hpp"

#include <optional>
#include <string_view>
#include <utility>

#include "common/shortened.hpp"
#include "common/topic_filter.hpp"
#include "config/topic.hpp"

namespace fieldbridge::config {

namespace {

enum class use {
    point_value,
    device_values,
    availability,
    gateway_status,
    point_command,
    point_reply,
    device_command,
    device_reply,
};

struct user {
    use u;
    const device* d = nullptr;
    const point* p = nullptr;
};

bool received(use u) { return u == use::point_command || u == use::device_command; }

std::string describe(const user& x) {
    const auto device_name = x.d != nullptr ? "devices." + x.d->name : std::string();
    const auto point_name = x.p != nullptr ? device_name + ".points[" + x.p->name + "]" : std::string();
    switch (x.u) {
        case use::point_value:
            return "the topic of " + point_name;
        case use::device_values:
            return "the device topic (publish.device_topic) of " + device_name;
        case use::availability:
            return "the availability topic (availability.device_topic) of " + device_name;
        case use::gateway_status:
            return "the gateway's status topic (availability.gateway_topic)";
        case use::point_command:
            return "the command topic of " + point_name;
        case use::point_reply:
            return "the reply topic of " + point_name;
        case use::device_command:
            return "the device command topic (commands.device_topic) of " + device_name;
        case use::device_reply:
            return "the device reply topic (commands.device_topic) of " + device_name;
    }
    return "a topic";
}

class checker {
public:
    checker(const gateway& cfg, const point_topic_map& points, diagnostic_list& out)
        : cfg_(cfg), points_(points), out_(out),
          sparkplug_(cfg.publish.format == payload_format::sparkplug),
          values_published_(cfg.publish.format != payload_format::device && !sparkplug_),
          commands_(cfg.commands.enabled) {}

    void run() {
        std::map<std::string_view, const bus*> buses;
        for (const auto& b : cfg_.buses) buses.emplace(b.name, &b);
        // What the gateway publishes besides the points' values, each
        // checked against what came before. A Sparkplug edge node publishes
        // its own topics instead (its states in NBIRTH/NDEATH, DBIRTH/DDEATH,
        // its values in DDATA); the points' JSON command topics and their
        // replies are there all the same, and checked below.
        if (!sparkplug_) add_published(status_topic(cfg_), {use::gateway_status});
        const bool device_commands = commands_ && !cfg_.commands.device_topic.empty();
        std::vector<std::pair<std::string, const device*>> device_command_topics;
        for (const auto& d : cfg_.devices) {
            const auto b = buses.find(d.bus);
            if (b == buses.end()) continue;  // validate says so
            if (!sparkplug_) {
                add_published(expand_topic(cfg_.availability.device_topic, cfg_.publish, d, point{}, *b->second),
                              {use::availability, &d});
            }
            if (cfg_.publish.format == payload_format::device) {
                add_published(expand_topic(cfg_.publish.device_topic, cfg_.publish, d, point{}, *b->second),
                              {use::device_values, &d});
            }
            if (device_commands) {
                const auto base = expand_topic(cfg_.commands.device_topic, cfg_.publish, d, point{}, *b->second);
                add_published(base + cfg_.commands.reply_suffix, {use::device_reply, &d});
                device_command_topics.emplace_back(base, &d);
            }
        }
        if (!commands_) {
            for (const auto& [topic, who] : published_) against_points(topic, who);
            return;
        }
        // Commands or replies on the points' own topics.
        if (cfg_.commands.suffix.empty()) return empty_suffix("suffix", "command", "/set");
        if (cfg_.commands.reply_suffix.empty()) return empty_suffix("reply_suffix", "reply", "/reply");
        // What the gateway takes commands on.
        std::map<std::string, user, std::less<>> commands;
        for (const auto& [base, d] : device_command_topics) {
            const user who{use::device_command, d};
            if (const auto p = points_.find(base); p != points_.end()) {
                report(who, {use::point_command, p->second.d, p->second.p}, base + cfg_.commands.suffix);
                continue;
            }
            auto topic = base + cfg_.commands.suffix;
            if (const auto [it, inserted] = commands.emplace(topic, who); !inserted) {
                report(who, it->second, topic);
            }
        }
        for (const auto& [topic, who] : published_) {
            if (const auto c = commands.find(topic); c != commands.end()) {
                report(c->second, who, topic);
            } else {
                against_points(topic, who);
            }
        }
        // The points' values and replies against the commands, the replies
        // against the values (the points' own topics are unique already).
        const auto& s = cfg_.commands.suffix;
        const auto& rs = cfg_.commands.reply_suffix;
        // Subscribed when there is a command topic at all.
        const auto wildcard =
            points_.empty() && device_command_topics.empty() ? std::nullopt : command_wildcard(cfg_);
        std::string reply;
        for (const auto& [topic, owner] : points_) {
            const user value{use::point_value, owner.d, owner.p};
            if (values_published_) {
                if (const auto c = commands.find(topic); c != commands.end()) {
                    report(c->second, value, topic);
                } else if (const auto q = strip(topic, s); q != points_.end()) {
                    report(value, {use::point_command, q->second.d, q->second.p}, topic);
                } else if (wildcard && topic_matches(*wildcard, topic)) {
                    under_wildcard(value, topic, *wildcard);
                }
            }
            reply.assign(topic).append(rs);
            const user replies{use::point_reply, owner.d, owner.p};
            if (const auto c = commands.find(reply); c != commands.end()) {
                report(c->second, replies, reply);
            } else if (const auto q = strip(reply, s); q != points_.end()) {
                report(replies, {use::point_command, q->second.d, q->second.p}, reply);
            } else if (const auto v = points_.find(reply); v != points_.end() && values_published_) {
                report(replies, {use::point_value, v->second.d, v->second.p}, reply);
            } else if (wildcard && topic_matches(*wildcard, reply)) {
                under_wildcard(replies, reply, *wildcard);
            }
        }
        if (!wildcard) return;
        for (const auto& [topic, who] : published_) {
            if (!commands.contains(topic) && strip(topic, s) == points_.end() && topic_matches(*wildcard, topic)) {
                under_wildcard(who, topic, *wildcard);
            }
        }
    }

private:
    void empty_suffix(std::string_view key, std::string_view role, std::string_view example) {
        const auto& mark = cfg_.commands.mark;
        out_.add(mark, "commands." + std::string(key) + " is empty: every point's topic would be its " +
                           std::string(role) + " topic too; expected text that follows the point's topic, such as " +
                           std::string(example));
    }

    // A topic the gateway publishes, not yet used: one more use of it is
    // reported (the device topic against another device's or an
    // availability topic: validate reports those).
    void add_published(std::string topic, user who) {
        const auto [it, inserted] = published_.emplace(std::move(topic), who);
        if (inserted) return;
        if (who.u == use::device_values &&
            (it->second.u == use::device_values || it->second.u == use::availability)) {
            return;
        }
        report(who, it->second, it->first);
    }

    // A published topic against the points' values and replies.
    void against_points(const std::string& topic, const user& who) {
        if (values_published_) {
            if (const auto v = points_.find(topic); v != points_.end()) {
                if (who.u != use::device_values) report(who, {use::point_value, v->second.d, v->second.p}, topic);
                return;
            }
        }
        if (!commands_) return;
        if (const auto q = strip(topic, cfg_.commands.suffix); q != points_.end()) {
            report(who, {use::point_command, q->second.d, q->second.p}, topic);
        } else if (const auto r = strip(topic, cfg_.commands.reply_suffix); r != points_.end()) {
            report(who, {use::point_reply, r->second.d, r->second.p}, topic);
        }
    }

    // The point whose topic is `topic` without `suffix` at its end.
    point_topic_map::const_iterator strip(std::string_view topic, std::string_view suffix) const {
        if (suffix.empty() || !topic.ends_with(suffix)) return points_.end();
        return points_.find(topic.substr(0, topic.size() - suffix.size()));
    }

    void under_wildcard(const user& who, const std::string& topic, const std::string& wildcard) {
        add(who, describe(who) + " " + shortened(topic) + " is under the command filter " + shortened(wildcard) +
                     " the gateway subscribes to: it would take its own message for a command and answer it; "
                     "expected topics apart from the command topics: change commands.suffix or the topic");
    }

    void report(const user& a, const user& b, const std::string& topic) {
        std::string message = describe(a) + " " + shortened(topic) + " is also " + describe(b);
        if (received(a.u) || received(b.u)) {
            message += ": the gateway would take its own messages on it for commands; expected command topics apart "
                       "from every topic the gateway publishes: change commands.suffix or the topics";
        } else {
            message += "; expected a topic of its own for each: change the topic templates or names";
        }
        // At the first one's line; at the second's when the first has none
        // (the gateway's status topic with no availability section written).
        const auto& at = mark_of(a);
        out_.add(at.line > 0 ? at : mark_of(b), std::move(message));
    }

    void add(const user& at, std::string message) { out_.add(mark_of(at), std::move(message)); }

    const source_mark& mark_of(const user& at) const {
        const auto& a = cfg_.availability;
        return at.p != nullptr                                             ? at.p->mark
               : at.u == use::availability && a.device_topic_mark.line > 0 ? a.device_topic_mark
               : at.d != nullptr                                           ? at.d->mark
                                                                           : a.mark;
    }

    const gateway& cfg_;
    const point_topic_map& points_;
    diagnostic_list& out_;
    const bool sparkplug_;
    const bool values_published_;  // format: device publishes per device instead, sparkplug as DDATA
    const bool commands_;
    std::map<std::string, user, std::less<>> published_;
};

}  // namespace

void check_topic_roles(const gateway& cfg, const point_topic_map& points, diagnostic_list& out) {
    checker(cfg, points, out).run();
}

}  // namespace fieldbridge::config
