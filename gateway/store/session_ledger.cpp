#include "gateway/store/session_ledger.hpp"

#include <limits>

#include "gateway/store/message_queue.hpp"

namespace fieldbridge::store {

namespace {

// The end of the run of changes starting at `first` that one statement can
// apply: the same kind, consecutive ids, and (`sent`) consecutive packet ids
// with the same DUP. The forwarder's ledger lists changes in id order, so
// messages written or acknowledged together form runs.
std::size_t run_end(std::span<const change> changes, std::size_t first) {
    const auto& c = changes[first];
    std::size_t last = first;
    while (last + 1 < changes.size()) {
        const auto& prev = changes[last];
        const auto& next = changes[last + 1];
        if (next.what != c.what || prev.id == std::numeric_limits<std::int64_t>::max() || next.id != prev.id + 1) break;
        // (A packet id that wraps from 65535 to 1 ends a run: 1 != 65536.)
        if (c.what == change::kind::sent && (next.packet_id != prev.packet_id + 1 || next.dup != c.dup)) break;
        ++last;
    }
    return last;
}

}  // namespace

result<completed_rows> session_ledger::apply(std::span<const change> changes) {
    completed_rows removed;
    auto outcome = db_.in_transaction(true, [&]() -> result<void> {
        // Each statement takes a run of changes (run_end): ids ?1..?2.
        auto sent = db_.prepared(
            "UPDATE messages SET state = 1, packet_id = ?3 + (id - ?1), dup = ?4 WHERE id BETWEEN ?1 AND ?2");
        auto pubrec = db_.prepared("UPDATE messages SET state = 2 WHERE id BETWEEN ?1 AND ?2");
        auto requeue = db_.prepared("UPDATE messages SET state = 0, packet_id = 0, dup = 0 WHERE id BETWEEN ?1 AND ?2");
        auto done = db_.prepared("DELETE FROM messages WHERE id BETWEEN ?1 AND ?2 RETURNING size");
        for (std::size_t i = 0; i < changes.size(); ++i) {
            const auto& c = changes[i];
            const auto last = run_end(changes, i);
            const auto last_id = changes[last].id;
            i = last;
            switch (c.what) {
                case change::kind::sent:
                    sent->reset();
                    sent->bind(1, c.id).bind(2, last_id).bind(3, c.packet_id).bind(4, c.dup ? 1 : 0);
                    if (auto r = sent->run(); !r) return r;
                    break;
                case change::kind::pubrec:
                    pubrec->reset();
                    pubrec->bind(1, c.id).bind(2, last_id);
                    if (auto r = pubrec->run(); !r) return r;
                    break;
                case change::kind::requeue:
                    requeue->reset();
                    requeue->bind(1, c.id).bind(2, last_id);
                    if (auto r = requeue->run(); !r) return r;
                    break;
                case change::kind::done:
                    done->reset();
                    done->bind(1, c.id).bind(2, last_id);
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
        if (removed.rows == 0) return {};
        // The oldest message may have gone: read inside the transaction, so
        // that no read transaction of its own follows each commit.
        // A figure only: a read that fails fails none of the changes (the
        // caller reads it again after the commit).
        if (auto oldest = oldest_created_ms(db_); oldest) {
            removed.oldest_read = true;
            removed.oldest_ms = *oldest;
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
    return collect(s, [](statement& r) { return static_cast<std::uint16_t>(r.integer(0)); });
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
