#include "gateway/store/session_ledger.hpp"

#include <limits>

#include "gateway/store/message_queue.hpp"

namespace fieldbridge::store {

result<completed_rows> session_ledger::apply(std::span<const change> changes) {
    completed_rows removed;
    auto outcome = db_.in_transaction(true, [&]() -> result<void> {
        auto sent = db_.prepared("UPDATE messages SET state = 1, packet_id = ?, dup = ? WHERE id = ?");
        auto pubrec = db_.prepared("UPDATE messages SET state = 2 WHERE id = ?");
        auto requeue = db_.prepared("UPDATE messages SET state = 0, packet_id = 0, dup = 0 WHERE id = ?");
        // Acknowledged messages come in runs of consecutive ids (the ledger
        // lists them in order): one statement deletes a run.
        auto done = db_.prepared("DELETE FROM messages WHERE id BETWEEN ? AND ? RETURNING size");
        for (std::size_t i = 0; i < changes.size(); ++i) {
            const auto& c = changes[i];
            switch (c.what) {
                case change::kind::sent:
                    sent->reset();
                    sent->bind(1, c.packet_id).bind(2, c.dup ? 1 : 0).bind(3, c.id);
                    if (auto r = sent->run(); !r) return r;
                    break;
                case change::kind::pubrec:
                    pubrec->reset();
                    pubrec->bind(1, c.id);
                    if (auto r = pubrec->run(); !r) return r;
                    break;
                case change::kind::requeue:
                    requeue->reset();
                    requeue->bind(1, c.id);
                    if (auto r = requeue->run(); !r) return r;
                    break;
                case change::kind::done: {
                    auto last = c.id;
                    while (i + 1 < changes.size() && changes[i + 1].what == change::kind::done &&
                           last < std::numeric_limits<std::int64_t>::max() && changes[i + 1].id == last + 1) {
                        last = changes[++i].id;
                    }
                    done->reset();
                    done->bind(1, c.id).bind(2, last);
                    // RETURNING: the delete is complete once stepped to the end.
                    for (;;) {
                        auto row = done->next();
                        if (!row) return fail(row.error());
                        if (!*row) break;
                        ++removed.rows;
                        removed.bytes += static_cast<std::uint64_t>(done->integer(0));
                    }
                    break;
                }
            }
        }
        return {};
    });
    if (!outcome) return fail(outcome.error());
    return removed;
}

result<std::vector<stored_message>> session_ledger::load_in_flight() {
    auto s = db_.once(
        "SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup FROM messages "
        "WHERE state != 0 ORDER BY id");
    return read_messages(s);
}

result<std::vector<std::uint16_t>> session_ledger::incoming_qos2() {
    auto s = db_.once("SELECT packet_id FROM incoming_qos2 ORDER BY packet_id");
    std::vector<std::uint16_t> out;
    for (;;) {
        auto row = s.next();
        if (!row) return fail(row.error());
        if (!*row) return out;
        out.push_back(static_cast<std::uint16_t>(s.integer(0)));
    }
}

result<void> session_ledger::set_incoming_qos2(std::span<const std::uint16_t> ids) {
    return db_.in_transaction(true, [&]() -> result<void> {
        if (auto r = db_.prepared("DELETE FROM incoming_qos2")->run(); !r) return r;
        auto insert = db_.prepared("INSERT OR IGNORE INTO incoming_qos2(packet_id) VALUES(?)");
        for (const auto id : ids) {
            insert->reset();
            insert->bind(1, id);
            if (auto r = insert->run(); !r) return r;
        }
        return {};
    });
}

}  // namespace fieldbridge::store
