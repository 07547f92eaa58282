// What a Sparkplug host application sees of one edge node, built from the
// messages it receives, and every rule of the specification those messages
// break: seq must run on by one from the NBIRTH's 0 [topics-dbirth-seq],
// an NBIRTH's bdSeq must be the one of the Will registered for that
// connection [topics-nbirth-bdseq-matching], no DDATA or DDEATH of a device
// before its DBIRTH [payloads-dbirth-order], aliases in data messages must be
// bound by a birth, births carry a datatype for every metric
// [payloads-metric-datatype-req]. Shared by the edge node's model test and
// the host simulator of the integration tests. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sparkplug/edge_node.hpp"
#include "sparkplug/payload_codec.hpp"

namespace fieldbridge::sparkplug::testing {

class host_view {
public:
    struct device_view {
        bool alive = false;
        std::map<std::uint64_t, std::string> names;       // by alias
        std::map<std::string, wire_value> values;          // by name
        std::map<std::string, data_type> types;            // by name
        std::map<std::string, bool> bad;                   // by name: Quality 0
        std::map<std::string, std::uint64_t> stamps;       // by name: the current value's timestamp
        std::size_t births = 0;
        std::size_t deaths = 0;
        std::size_t data = 0;
        std::vector<std::uint64_t> historical;  // the timestamps of is_historical metrics received
    };

    // The will the node registered for the connection that follows.
    void will_registered(const std::string& payload) {
        auto decoded = decode(payload);
        if (!std::holds_alternative<payload_t>(decoded)) return fail("the will is not a payload");
        will_bdseq_ = bdseq_of(std::get<payload_t>(decoded));
        if (!will_bdseq_) fail("the will has no bdSeq metric [topics-ndeath-payload]");
        new_connection_ = true;
    }

    void receive(const std::string& topic, const std::string& bytes) {
        const auto parts = split(topic);
        if (parts.size() < 4 || parts[0] != namespace_v1) return fail("not a Sparkplug topic: " + topic);
        const std::string& type = parts[2];
        auto decoded = decode(bytes);
        if (!std::holds_alternative<payload_t>(decoded)) return fail(type + ": " + std::get<decode_error>(decoded).why);
        const auto& p = std::get<payload_t>(decoded);
        ++messages_;
        if (type == "NDEATH") return node_death(p);
        if (!p.seq) return fail(type + " without seq");
        if (type == "NBIRTH") return node_birth(p);
        if (!node_alive_) return fail(type + " before the NBIRTH of the session");
        if (*p.seq != (last_seq_ + 1) % 256) {
            fail(type + " seq " + std::to_string(*p.seq) + " after " + std::to_string(last_seq_));
        }
        last_seq_ = *p.seq;
        if (parts.size() != 5) return fail(type + " without a device in its topic");
        auto& d = devices_[parts[4]];
        if (type == "DBIRTH") return device_birth(d, p);
        if (!d.alive) return fail(type + " of " + parts[4] + " before its DBIRTH [payloads-dbirth-order]");
        if (type == "DDEATH") {
            d.alive = false;
            ++d.deaths;
            return;
        }
        if (type == "DDATA") return device_data(d, parts[4], p);
        fail("unexpected " + type);
    }


    bool node_alive() const { return node_alive_; }
    std::optional<std::uint64_t> bdseq() const { return bdseq_; }
    std::size_t node_births() const { return node_births_; }
    std::size_t node_deaths() const { return node_deaths_; }
    std::size_t messages() const { return messages_; }
    const std::map<std::string, device_view>& devices() const { return devices_; }
    const std::vector<std::string>& violations() const { return violations_; }

private:
    using payload_t = payload;

    static std::vector<std::string> split(const std::string& topic) {
        std::vector<std::string> out(1);
        for (const char c : topic) {
            if (c == '/') {
                out.emplace_back();
            } else {
                out.back() += c;
            }
        }
        return out;
    }

    static std::optional<std::uint64_t> bdseq_of(const payload_t& p) {
        for (const auto& m : p.metrics) {
            if (m.name == std::string(bdseq_metric)) {
                if (const auto* v = std::get_if<std::uint64_t>(&m.value)) return *v;
            }
        }
        return std::nullopt;
    }

    void fail(std::string why) { violations_.push_back(std::move(why)); }

    void node_birth(const payload_t& p) {
        if (*p.seq != 0) fail("NBIRTH seq " + std::to_string(*p.seq) + " [payloads-nbirth-seq]");
        last_seq_ = 0;
        bdseq_ = bdseq_of(p);
        if (!bdseq_) fail("NBIRTH without bdSeq [payloads-nbirth-bdseq]");
        // The NBIRTH of a new connection: one more than the last one's
        // (a rebirth within a connection keeps it).
        if (new_connection_ && last_birth_bdseq_ && bdseq_ && *bdseq_ != (*last_birth_bdseq_ + 1) % 256) {
            fail("NBIRTH bdSeq " + std::to_string(*bdseq_) + " after " + std::to_string(*last_birth_bdseq_) +
                 " on the previous connection");
        }
        new_connection_ = false;
        last_birth_bdseq_ = bdseq_;
        if (will_bdseq_ && bdseq_ != will_bdseq_) {
            fail("NBIRTH bdSeq " + std::to_string(bdseq_.value_or(999)) + " is not the will's " +
                 std::to_string(*will_bdseq_) + " [topics-nbirth-bdseq-matching]");
        }
        bool rebirth = false;
        for (const auto& m : p.metrics) {
            if (m.name == std::string(rebirth_metric)) {
                rebirth = m.datatype == data_type::boolean && m.value == wire_value{false};
            }
        }
        if (!rebirth) fail("NBIRTH without Node Control/Rebirth = false [payloads-nbirth-rebirth-req]");
        node_alive_ = true;
        ++node_births_;
        // A new NBIRTH: every device needs a new DBIRTH.
        for (auto& [name, d] : devices_) d.alive = false;
    }

    void node_death(const payload_t& p) {
        if (p.seq) fail("NDEATH with a seq [payloads-ndeath-seq]");
        const auto b = bdseq_of(p);
        // A death of an older connection (its bdSeq not the current birth's) is stale: ignored.
        if (b != bdseq_) return;
        node_alive_ = false;
        ++node_deaths_;
        for (auto& [name, d] : devices_) d.alive = false;
    }

    void device_birth(device_view& d, const payload_t& p) {
        d.alive = true;
        ++d.births;
        d.names.clear();
        for (const auto& m : p.metrics) {
            if (!m.name || !m.datatype) {
                fail("DBIRTH metric without name or datatype [payloads-metric-datatype-req]");
                continue;
            }
            if (m.alias) d.names[*m.alias] = *m.name;
            d.types[*m.name] = *m.datatype;
            d.values[*m.name] = m.value;
            d.stamps[*m.name] = m.timestamp.value_or(0);
            d.bad[*m.name] = has_bad_quality(m);
        }
    }

    void device_data(device_view& d, const std::string& device, const payload_t& p) {
        ++d.data;
        for (const auto& m : p.metrics) {
            std::string name;
            if (m.name) {
                name = *m.name;
            } else if (m.alias && d.names.count(*m.alias)) {
                name = d.names.at(*m.alias);
            } else {
                fail("DDATA of " + device + " with an alias no birth bound");
                continue;
            }
            if (m.is_historical) {  // history does not change the current value
                d.historical.push_back(m.timestamp.value_or(0));
                continue;
            }
            // A current value older than the one the host shows would put
            // the present back in time: such a reading is history.
            if (m.timestamp && *m.timestamp < d.stamps[name]) {
                fail("DDATA of " + device + " " + name + " at " + std::to_string(*m.timestamp) +
                     " as current after a value at " + std::to_string(d.stamps[name]));
            }
            d.stamps[name] = m.timestamp.value_or(d.stamps[name]);
            d.values[name] = m.value;
            d.bad[name] = has_bad_quality(m);
        }
    }


    static bool has_bad_quality(const metric& m) {
        for (const auto& prop : m.properties) {
            if (prop.key == quality_property && prop.value == wire_value{quality_bad}) return true;
        }
        return false;
    }

    std::optional<std::uint64_t> will_bdseq_;
    std::optional<std::uint64_t> last_birth_bdseq_;
    bool new_connection_ = false;
    std::optional<std::uint64_t> bdseq_;
    bool node_alive_ = false;
    std::uint64_t last_seq_ = 0;
    std::size_t node_births_ = 0;
    std::size_t node_deaths_ = 0;
    std::size_t messages_ = 0;
    std::map<std::string, device_view> devices_;
    std::vector<std::string> violations_;
};

}  // namespace fieldbridge::sparkplug::testing
