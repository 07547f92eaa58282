#include "gateway/store/lane_table.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "gateway/store/message_queue.hpp"

namespace fieldbridge::store {
namespace {

const std::string boundary_counter = "backlog_boundary";

}  // namespace

result<lane_state> lane_table::load() {
    lane_state out;
    auto boundary = read_counter(db_, boundary_counter);
    if (!boundary) return fail(boundary.error());
    out.boundary = boundary->value_or(0);
    auto s = db_.once("SELECT id FROM fresh_rows ORDER BY id");
    auto fresh = collect(s, [](statement& r) { return r.integer(0); });
    if (!fresh) return fail(fresh.error());
    out.fresh = std::move(*fresh);
    return out;
}

result<void> lane_table::save(const lane_state& lanes) {
    return db_.in_transaction(true, [&]() -> result<void> {
        if (auto r = db_.exec("DELETE FROM fresh_rows"); !r) return r;
        auto insert = db_.prepared("INSERT OR IGNORE INTO fresh_rows(id) VALUES(?)");
        for (const auto id : lanes.fresh) {
            insert->bind(1, id);
            if (auto r = insert->run(); !r) return r;
            insert->reset();
        }
        return write_counter(db_, boundary_counter, lanes.boundary);
    });
}

result<std::vector<lane_row>> lane_table::fresh_rows() {
    auto s = db_.once("SELECT m.id, m.topic, m.state FROM fresh_rows f JOIN messages m ON m.id = f.id ORDER BY m.id");
    return collect(s, [](statement& r) { return lane_row{r.integer(0), r.text(1), r.integer(2) != 0}; });
}

result<bool> lane_table::all_stored(std::span<const std::int64_t> ids) {
    auto s = db_.prepared("SELECT 1 FROM messages WHERE id = ?");
    for (const auto id : ids) {
        s->reset();
        s->bind(1, id);
        auto row = s->next();
        if (!row) return fail(row.error());
        if (!*row) return false;
    }
    return true;
}

result<std::vector<std::pair<std::string, std::int64_t>>> lane_table::latest_by_topic(std::int64_t after) {
    auto s = db_.once("SELECT topic, max(id) FROM messages WHERE id > ? GROUP BY topic");
    s.bind(1, after);
    return collect(s, [](statement& r) { return std::pair<std::string, std::int64_t>{r.text(0), r.integer(1)}; });
}

result<std::vector<stored_message>> lane_table::load_live(const lane_state& lanes, std::int64_t after,
                                                          std::size_t limit) {
    std::vector<stored_message> out;
    if (after < lanes.boundary && !lanes.fresh.empty()) {
        auto s = db_.prepared(
            "SELECT m.id, m.topic, m.payload, m.qos, m.retain, m.created_ms, m.state, m.packet_id, m.dup "
            "FROM fresh_rows f JOIN messages m ON m.id = f.id WHERE f.id > ? ORDER BY f.id LIMIT ?");
        s->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
        auto rows = read_messages(*s);
        if (!rows) return rows;
        out = std::move(*rows);
    }
    if (out.size() < limit) {
        auto s = db_.prepared("SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup "
                              "FROM messages WHERE id > ? ORDER BY id LIMIT ?");
        s->bind(1, std::max(after, lanes.boundary)).bind(2, static_cast<std::int64_t>(limit - out.size()));
        auto rows = read_messages(*s);
        if (!rows) return rows;
        for (auto& m : *rows) out.push_back(std::move(m));
    }
    return out;
}

result<std::vector<stored_message>> lane_table::load_historical(const lane_state& lanes, std::int64_t after,
                                                                std::size_t limit) {
    if (after >= lanes.boundary) return std::vector<stored_message>{};
    auto s = db_.prepared("SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup "
                          "FROM messages WHERE id > ? AND id <= ? AND id NOT IN (SELECT id FROM fresh_rows) "
                          "ORDER BY id LIMIT ?");
    s->bind(1, after).bind(2, lanes.boundary).bind(3, static_cast<std::int64_t>(limit));
    return read_messages(*s);
}

}  // namespace fieldbridge::store
