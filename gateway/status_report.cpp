#include "gateway/status_report.hpp"

#include <stdexcept>

#include "config/names.hpp"
#include "gateway/payload.hpp"

namespace fieldbridge::gateway {

const char* to_string(mqtt::link_state s) {
    switch (s) {
        case mqtt::link_state::disconnected:
            return "disconnected";
        case mqtt::link_state::connecting:
            return "connecting";
        case mqtt::link_state::connected:
            return "connected";
    }
    return "?";
}

namespace {

// A device's block reads held back (silent_blocks), as the configuration
// names registers: {"register": "holding", "first": 100, "last": 109}.
nlohmann::json held_reads(const std::vector<modbus::block_id>& held) {
    auto out = nlohmann::json::array();
    for (const auto& b : held) {
        out.push_back({{"register", config::to_string(b.kind)}, {"first", b.start}, {"last", b.start + b.count - 1}});
    }
    return out;
}

nlohmann::json broker_report(const status_snapshot::broker_part& b) {
    const auto& c = b.client;
    nlohmann::json broker = {
        {"host", c.server.host.empty() ? b.host : c.server.host},
        {"port", c.server.host.empty() ? b.port : c.server.port},
        {"failovers", c.failovers},
        {"tls", b.tls},
        {"state", to_string(b.state)},
        {"connects", c.connects},
        {"disconnects", c.disconnects},
        {"last_error", c.last_error},
        {"queued", c.queued},
        {"inflight", c.inflight},
        {"published", c.published},
        {"acknowledged", c.acknowledged},
        {"protocol", b.v5 ? "5" : "3.1.1"},
        {"client_id", b.client_id},
        {"connected_since",
         b.connected_since ? nlohmann::json(iso8601_utc_ms(*b.connected_since)) : nlohmann::json(nullptr)},
        {"reconnects", c.connects > 0 ? c.connects - 1 : 0},
        {"refused", c.refused},
        {"downgraded", c.downgraded},
        {"keepalive_s", c.keepalive.count()}};
    if (b.v5 && b.state == mqtt::link_state::connected) {
        broker["limits"] = {{"receive_maximum", c.limits.receive_maximum},
                            {"maximum_packet_size", c.limits.maximum_packet_size},
                            {"maximum_qos", static_cast<int>(c.limits.maximum_qos)},
                            {"retain_available", c.limits.retain_available},
                            {"topic_alias_maximum", c.limits.topic_alias_maximum}};
    }
    return broker;
}

}  // namespace

nlohmann::json status_report(const status_snapshot& s) {
    const auto age = [&](std::optional<std::chrono::system_clock::time_point> t) -> nlohmann::json {
        if (!t) return nullptr;
        return std::chrono::duration<double>(s.now - *t).count();
    };
    const auto since = [](std::optional<std::chrono::system_clock::time_point> t) -> nlohmann::json {
        if (!t) return nullptr;
        return iso8601_utc_ms(*t);
    };
    const auto uptime = s.uptime.count();
    const auto& q = s.queue.stats;
    const auto& qc = s.queue.counters;
    const auto& f = s.queue.forwarded;
    const nlohmann::json queue = {
        {"path", s.queue.path},
        {"messages", q.rows},
        {"bytes", q.bytes},
        {"oldest_age_s", age(q.oldest)},
        {"stored", f.stored},
        {"delivered", f.delivered},
        {"refused", f.refused},
        {"refused_by_broker", f.refused_by_broker},
        {"unsendable", f.unsendable},
        {"direct", f.direct},
        {"qos0_lost", f.qos0_lost},
        {"historical", f.historical},
        {"dropped",
         {{"by_messages", qc.dropped_by_rows},
          {"by_bytes", qc.dropped_by_bytes},
          {"by_age", qc.dropped_by_age}}},
        {"disk_full", qc.disk_full},
        {"commits", qc.commits},
        {"commits_per_s", uptime > 0 ? static_cast<double>(qc.commits) / uptime : 0.0},
        {"ledger_errors", f.ledger_errors},
        {"lost_uncommitted", qc.lost_uncommitted},
        {"resyncs", f.resyncs}};
    nlohmann::json buses = nlohmann::json::array();
    for (const auto& w : s.buses) {
        const auto& b = w.counters;
        buses.push_back({{"name", w.name},
                         {"started", w.started},
                         {"polls", b.polls},
                         {"requests", b.requests},
                         {"failures", b.failures},
                         {"timeouts", b.timeouts},
                         {"exceptions", b.exceptions},
                         {"reconnects", b.reconnects},
                         {"utilisation", b.utilisation()}});
    }
    nlohmann::json devices = nlohmann::json::array();
    bool all_online = true;
    for (const auto& d : s.devices) {
        const auto& h = d.health;
        const auto& dc = d.counters;
        if (h.state() == modbus::device_state::offline) all_online = false;
        devices.push_back(
            {{"name", d.name},
             {"bus", d.bus},
             {"unit_id", d.unit_id},
             {"state", to_string(h.state())},
             {"state_since", since(h.state_since)},
             {"poll_interval_s", std::chrono::duration<double>(d.poll_interval).count()},
             {"last_poll_duration_s", std::chrono::duration<double>(dc.last_poll_duration).count()},
             {"requests", dc.requests},
             {"retries", dc.retries},
             {"errors", {{"timeout", dc.timeouts}, {"exception", dc.exceptions}, {"other", dc.other_errors}}},
             {"last_poll_age_s", age(h.last_poll)},
             {"last_good_age_s", age(h.last_good)},
             {"polls", h.polls},
             {"missed_polls", dc.missed_polls},
             {"failed_polls", h.failed_polls},
             {"consecutive_failures", h.consecutive_failures},
             {"held_reads", held_reads(dc.held_reads)},
             {"last_error", h.last_error}});
    }
    const bool healthy = s.broker.state == mqtt::link_state::connected && all_online;
    const nlohmann::json configuration = {{"path", s.configuration.path},
                                          {"reloads", s.configuration.reloads},
                                          {"last_reload_error", s.configuration.last_reload_error}};
    auto commands = to_json(s.commands);
    commands["held"] = s.held_commands;
    commands["pending_replies"] = s.pending_replies;
    nlohmann::json out = {{"version", s.version},
                          {"config", configuration},
                          {"commands", commands},
                          {"started", iso8601_utc_ms(s.started)},
                          {"uptime_s", uptime},
                          {"healthy", healthy},
                          {"broker", broker_report(s.broker)},
                          {"queue", queue},
                          {"buses_stopping", s.buses_stopping}};
    // Moved in, not listed above: a value in a braced list is copied, and
    // with a thousand devices the copy doubled the answer's peak memory.
    out["buses"] = std::move(buses);
    out["devices"] = std::move(devices);
    if (const auto& spb = s.sparkplug) {
        out["sparkplug"] = {{"group_id", spb->group_id},
                            {"edge_node_id", spb->edge_node_id},
                            {"bd_seq", spb->bd_seq},
                            {"born", spb->born},
                            {"primary_host", spb->primary_host.empty() ? nlohmann::json(nullptr)
                                                                       : nlohmann::json(spb->primary_host)},
                            {"primary_host_online", spb->primary_host_online}};
    }
    return out;
}

points_query points_query_of(const nlohmann::json& request) {
    points_query q;
    if (const auto d = request.find("device"); d != request.end()) {
        if (!d->is_string())
            throw std::runtime_error("\"device\" must be a device's name (a string)");
        q.device = d->get<std::string>();
    }
    const auto count = [&](const char* key, std::size_t& out) {
        const auto v = request.find(key);
        if (v == request.end())
            return;
        if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<std::int64_t>() < 0))
            throw std::runtime_error(std::string("\"") + key + "\" must be a non-negative integer");
        out = v->get<std::size_t>();
    };
    count("from", q.from);
    count("limit", q.limit);
    if (q.limit == 0 || q.limit > points_page_rows) {
        throw std::runtime_error("\"limit\" must be 1 to " + std::to_string(points_page_rows));
    }
    return q;
}

nlohmann::json points_report(const config::gateway& cfg, const point_mapper& mapper,
                             const points_query& query, std::chrono::system_clock::time_point now) {
    nlohmann::json out = nlohmann::json::array();
    bool known = query.device.empty();
    std::size_t skip = query.from;
    for (const auto& d : cfg.devices) {
        if (!query.device.empty() && d.name != query.device)
            continue;
        known = true;
        if (skip >= d.points.size()) {
            skip -= d.points.size();
            continue;
        }
        for (std::size_t i = skip; i < d.points.size() && out.size() < query.limit; ++i) {
            const auto& pt = d.points[i];
            nlohmann::json row = {{"device", d.name}, {"point", pt.name},
                                  {"unit", pt.unit},  {"topic", mapper.topic(d.name, i)},
                                  {"value", nullptr}, {"quality", "none"},
                                  {"error", ""},      {"age_s", nullptr}};
            if (const auto r = mapper.latest(d.name, i)) {
                const auto payload = nlohmann::json::parse(json_payload(pt, *r));
                row["value"] = payload.at("value");
                row["quality"] = payload.at("quality");
                if (payload.contains("error")) row["error"] = payload.at("error");
                row["age_s"] = std::chrono::duration<double>(now - r->time).count();
            }
            out.push_back(std::move(row));
        }
        skip = 0;
        if (out.size() == query.limit || !query.device.empty())
            break;
    }
    if (!known)
        throw std::runtime_error("no device named " + query.device);
    return out;
}

}  // namespace fieldbridge::gateway
