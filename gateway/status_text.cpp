#include "gateway/status_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <sstream>

namespace fieldbridge::gateway {

std::string format_age(const nlohmann::json& seconds) {
    if (!seconds.is_number()) return "-";
    const double s = seconds.get<double>();
    char buf[32];
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%d m %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%d h %02d m", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
    }
    return buf;
}

std::string terminal_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F) {
            out += '?';
        } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
            out += '?';  // U+0080..U+009F, the C1 controls (CSI among them)
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string table_text(const std::vector<std::vector<std::string>>& rows) {
    std::string out;
    std::vector<std::size_t> width;
    for (const auto& r : rows) {
        width.resize(std::max(width.size(), r.size()), 0);
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        out += line + "\n";
    }
    return out;
}

std::string text(const nlohmann::json& j) {
    if (j.is_string()) return terminal_text(j.get_ref<const std::string&>());
    if (j.is_null()) return "-";
    return j.dump();
}

namespace {

std::string percent(double fraction) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * fraction);
    return buf;
}

std::string millis(const nlohmann::json& seconds) {
    if (!seconds.is_number()) return "-";
    char buf[32];
    const double ms = 1000.0 * seconds.get<double>();
    std::snprintf(buf, sizeof buf, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
    return buf;
}

}  // namespace

std::string status_text(const nlohmann::json& s) {
    std::ostringstream out;
    const auto& b = s.at("broker");
    const auto& q = s.at("queue");
    out << "fieldbridge " << text(s.at("version")) << ", up " << format_age(s.at("uptime_s")) << ", "
              << (s.at("healthy").get<bool>() ? "healthy" : "UNHEALTHY") << "\n\n";
    out << "broker  " << text(b.at("host")) << ":" << text(b.at("port")) << " MQTT " << text(b.at("protocol"))
              << (b.at("tls").get<bool>() ? " TLS" : "") << "  " << text(b.at("state"));
    if (b.at("connected_since").is_string()) out << " since " << text(b.at("connected_since"));
    out << "; reconnects " << text(b.at("reconnects")) << ", in flight " << text(b.at("inflight"));
    if (!b.at("last_error").get<std::string>().empty()) out << "; last error: " << text(b.at("last_error"));
    out << "\n";
    if (const auto spb = s.find("sparkplug"); spb != s.end()) {
        out << "sparkplug  " << text(spb->at("group_id")) << "/" << text(spb->at("edge_node_id")) << "  "
            << (spb->at("born").get<bool>() ? "born" : "not born") << ", bdSeq " << text(spb->at("bd_seq"));
        if (spb->at("primary_host").is_string()) {
            out << "; primary host " << text(spb->at("primary_host")) << " "
                << (spb->at("primary_host_online").get<bool>() ? "online"
                                                                : "offline or unknown: births and data wait");
        }
        out << "\n";
    }
    const auto& d = q.at("dropped");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", q.at("commits_per_s").get<double>());
    out << "queue   " << text(q.at("messages")) << " message(s), " << text(q.at("bytes")) << " bytes, oldest "
              << format_age(q.at("oldest_age_s")) << "; stored " << text(q.at("stored")) << ", delivered "
              << text(q.at("delivered"))
              << (q.value("direct", 0) > 0 ? " (QoS 0 direct " + text(q.at("direct")) + ", lost with the link " +
                                                 text(q.at("qos0_lost")) + ")"
                                           : "")
              << ", refused " << text(q.at("refused"))
              << (q.value("refused_by_broker", 0) > 0 ? " (by the broker " + text(q.at("refused_by_broker")) + ")" : "")
              << (q.value("unsendable", 0) > 0 ? ", unsendable " + text(q.at("unsendable")) : "")
              << ", dropped "
              << d.at("by_messages").get<std::uint64_t>() + d.at("by_bytes").get<std::uint64_t>() +
                     d.at("by_age").get<std::uint64_t>()
              << "; " << rate << " commits/s\n\n";
    std::vector<std::vector<std::string>> buses{
        {"BUS", "UTIL", "POLLS", "REQUESTS", "FAILURES", "TIMEOUTS", "EXCEPTIONS", "RECONNECTS"}};
    for (const auto& x : s.at("buses")) {
        buses.push_back({text(x.at("name")), percent(x.at("utilisation").get<double>()), text(x.at("polls")),
                         text(x.at("requests")), text(x.at("failures")), text(x.at("timeouts")),
                         text(x.at("exceptions")), text(x.at("reconnects"))});
    }
    out << table_text(buses);
    out << "\n";
    std::vector<std::vector<std::string>> devices{{"DEVICE", "BUS", "UNIT", "STATE", "SINCE", "LAST GOOD", "POLL/INTERVAL",
                                                   "REQUESTS", "RETRIES", "TIMEOUTS", "EXCEPTIONS", "OTHER",
                                                   "LAST ERROR"}};
    for (const auto& x : s.at("devices")) {
        const auto& e = x.at("errors");
        devices.push_back({text(x.at("name")), text(x.at("bus")), text(x.at("unit_id")), text(x.at("state")),
                           text(x.at("state_since")), format_age(x.at("last_good_age_s")),
                           millis(x.at("last_poll_duration_s")) + " / " + millis(x.at("poll_interval_s")),
                           text(x.at("requests")), text(x.at("retries")), text(e.at("timeout")),
                           text(e.at("exception")), text(e.at("other")),
                           x.at("last_error").get<std::string>().empty() ? "-" : text(x.at("last_error"))});
    }
    out << table_text(devices);
    // Reads a device does not answer while it answers its others: held
    // back, their points bad, the device still online.
    bool heading = false;
    for (const auto& x : s.at("devices")) {
        const auto held = x.find("held_reads");
        if (held == x.end()) continue;
        for (const auto& r : *held) {
            if (!heading) {
                out << "\nReads held back (no answer in the last polls while the device answers its others; asked "
                       "again every offline_poll_interval):\n";
                heading = true;
            }
            out << "  " << text(x.at("name")) << ": " << text(r.at("register")) << ' ' << text(r.at("first")) << '-'
                << text(r.at("last")) << '\n';
        }
    }
    return out.str();
}

}  // namespace fieldbridge::gateway
