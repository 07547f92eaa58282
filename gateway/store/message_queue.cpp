#include "gateway/store/message_queue.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

namespace fieldbridge::store {
namespace {

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

result<std::vector<stored_message>> read_messages(statement& s) {
    return collect(s, [](statement& r) {
        stored_message m;
        m.id = r.integer(0);
        m.message.topic = r.text(1);
        m.message.payload = r.text(2);
        m.message.qos = static_cast<mqtt::qos>(std::clamp<std::int64_t>(r.integer(3), 0, 2));
        m.message.retain = r.integer(4) != 0;
        m.created = from_ms(r.integer(5));
        m.state = static_cast<flow_state>(std::clamp<std::int64_t>(r.integer(6), 0, 2));
        m.packet_id = static_cast<std::uint16_t>(r.integer(7));
        m.dup = r.integer(8) != 0;
        return m;
    });
}

result<std::optional<std::int64_t>> oldest_created_ms(database& db) {
    auto s = db.prepared("SELECT created_ms FROM messages ORDER BY id LIMIT 1");
    auto row = s->next();
    if (!row) return fail(row.error());
    if (!*row) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{s->integer(0)};
}

message_queue::message_queue(database& db, const limits& l, drop_policy p) : db_(db), limits_(l), policy_(p) {}

result<void> message_queue::refresh_stats() {
    auto s = db_.once("SELECT count(*), coalesce(sum(size), 0), (SELECT created_ms FROM messages ORDER BY id LIMIT 1) "
                      "FROM messages");
    auto row = s.next();
    if (!row) return fail(row.error());
    if (!*row) return fail(store_errc::io_error);  // an aggregate always has its row
    stats_.rows = static_cast<std::uint64_t>(s.integer(0));
    stats_.bytes = static_cast<std::uint64_t>(s.integer(1));
    set_oldest(stats_.rows > 0 ? std::optional<std::int64_t>{s.integer(2)} : std::nullopt);
    return {};
}

result<void> message_queue::refresh_oldest() {
    auto oldest = oldest_created_ms(db_);
    if (!oldest) return fail(oldest.error());
    set_oldest(*oldest);
    return {};
}

void message_queue::set_oldest(std::optional<std::int64_t> created_ms) {
    if (created_ms) {
        stats_.oldest = from_ms(*created_ms);
    } else {
        stats_.oldest.reset();
    }
}

result<bool> message_queue::make_room(std::uint64_t rows, std::uint64_t bytes) {
    const auto over = [&](std::uint64_t have_rows, std::uint64_t have_bytes) {
        return have_rows + rows > limits_.max_rows || have_bytes + bytes > limits_.max_bytes;
    };
    if (!over(stats_.rows, stats_.bytes)) return true;
    if (policy_ == drop_policy::refuse_new) return false;
    // Only messages not yet handed to the broker are evicted: an in-flight
    // one belongs to the session until it is acknowledged.
    auto pick_qos0 = db_.prepared(
        "SELECT id, size FROM messages WHERE state = 0 AND qos = 0 AND id > ? ORDER BY id LIMIT 64");
    auto pick_any =
        db_.prepared("SELECT id, size, qos FROM messages WHERE state = 0 AND id > ? ORDER BY id LIMIT 64");
    auto remove = db_.prepared("DELETE FROM messages WHERE id = ?");
    // The same walk twice: first counting whether evicting makes room at
    // all (a message larger than what is not held cannot be made room for,
    // and must not cost the queued messages it would evict for nothing),
    // then evicting.
    const auto walk = [&](bool evict) -> result<bool> {
        std::uint64_t have_rows = stats_.rows;
        std::uint64_t have_bytes = stats_.bytes;
        bool qos0_left = policy_ == drop_policy::drop_qos0_first;
        // After the QoS 0 messages, the others: the QoS 0 ones left are
        // protected, or (counting) counted already.
        const bool qos0_first = qos0_left;
        std::int64_t after = 0;  // protected messages are stepped over, page by page
        while (over(have_rows, have_bytes)) {
            auto& pick = qos0_left ? *pick_qos0 : *pick_any;
            pick.reset();
            pick.bind(1, after);
            bool any = false;
            while (over(have_rows, have_bytes)) {
                auto row = pick.next();
                if (!row) return fail(row.error());
                if (!*row) break;
                any = true;
                const auto id = pick.integer(0);
                after = id;
                if (protect_ && protect_(id)) continue;
                if (!qos0_left && qos0_first && pick.integer(2) == 0) continue;
                const auto size = static_cast<std::uint64_t>(pick.integer(1));
                const bool by_rows = have_rows + rows > limits_.max_rows;
                --have_rows;
                have_bytes -= size;
                if (!evict) continue;
                remove->reset();
                remove->bind(1, id);
                if (auto d = remove->run(); !d) return fail(d.error());
                --stats_.rows;
                stats_.bytes -= size;
                ++(by_rows ? counters_.dropped_by_rows : counters_.dropped_by_bytes);
            }
            if (!any) {
                if (!qos0_left) return false;  // everything left is in flight or protected
                qos0_left = false;
                after = 0;
            }
        }
        return true;
    };
    auto fits = walk(false);
    if (!fits || !*fits) return fits;
    return walk(true);
}

std::vector<result<std::int64_t>> message_queue::append(std::span<const mqtt::message> batch,
                                                        std::chrono::system_clock::time_point now, bool commit) {
    std::vector<result<std::int64_t>> out;
    out.reserve(batch.size());
    if (batch.empty()) return out;

    const auto stats_before = stats_;
    const auto counters_before = counters_;
    const auto rollbacks_before = db_.rollbacks();
    std::uint64_t appended = 0;
    const auto outcome = db_.in_transaction(commit, [&]() -> result<void> {
        auto insert =
            db_.prepared("INSERT INTO messages(topic, payload, qos, retain, created_ms, size) VALUES(?, ?, ?, ?, ?, ?)");
        const auto created = to_ms(now);
        for (const auto& m : batch) {
            const auto size = static_cast<std::uint64_t>(m.topic.size() + m.payload.size());
            if (size > limits_.max_bytes) {
                out.emplace_back(fail(store_errc::queue_full));
                ++counters_.refused;
                continue;
            }
            auto room = make_room(1, size);
            if (!room) return fail(room.error());
            if (!*room) {
                out.emplace_back(fail(store_errc::queue_full));
                ++counters_.refused;
                continue;
            }
            insert->reset();
            insert->bind(1, m.topic)
                .bind_blob(2, m.payload)
                .bind(3, static_cast<std::int64_t>(m.qos))
                .bind(4, m.retain ? 1 : 0)
                .bind(5, created)
                .bind(6, static_cast<std::int64_t>(size));
            if (auto r = insert->run(); !r) return r;
            out.emplace_back(db_.last_insert_rowid());
            ++appended;
            ++stats_.rows;
            stats_.bytes += size;
            if (!stats_.oldest) stats_.oldest = now;
            if (earliest_) earliest_ = std::min(*earliest_, created);
        }
        return {};
    });
    if (!outcome) {
        // Nothing of the batch is stored.
        if (db_.rollbacks() == rollbacks_before) {
            // Only its savepoint went: what it evicted is back.
            stats_ = stats_before;
            counters_.dropped_by_rows = counters_before.dropped_by_rows;
            counters_.dropped_by_bytes = counters_before.dropped_by_bytes;
        }  // else the whole transaction went, and transaction_rolled_back() set the figures as at its BEGIN
        counters_.refused = counters_before.refused + batch.size();
        if (outcome.error() == make_error_code(store_errc::disk_full)) ++counters_.disk_full;
        out.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) out.emplace_back(fail(outcome.error()));
        return out;
    }
    if (!commit) uncommitted_rows_ += appended;
    counters_.appended += appended;
    if (counters_.dropped_by_rows != counters_before.dropped_by_rows ||
        counters_.dropped_by_bytes != counters_before.dropped_by_bytes) {
        (void)refresh_oldest();  // the oldest message may have gone
    }
    return out;
}

result<std::vector<stored_message>> message_queue::load(std::int64_t after, std::size_t limit) {
    auto s = db_.prepared(
        "SELECT id, topic, payload, qos, retain, created_ms, state, packet_id, dup FROM messages "
        "WHERE id > ? ORDER BY id LIMIT ?");
    s->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    return read_messages(*s);
}

result<std::int64_t> message_queue::last_id() {
    auto s = db_.once("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)");
    auto row = s.next();
    if (!row) return fail(row.error());
    return *row ? s.integer(0) : 0;
}

result<std::uint64_t> message_queue::expire(std::chrono::system_clock::time_point now) {
    if (limits_.max_age.count() <= 0) return std::uint64_t{0};
    const auto before = to_ms(now - limits_.max_age);
    // No row was created before the bound: nothing to look at (with a long
    // backlog, a pass over the table costs a tenth of a second a million rows).
    if (earliest_ && *earliest_ >= before) return std::uint64_t{0};
    earliest_.reset();  // known again only if the pass completes
    // One pass in id order, in the open transaction when there is one (a
    // rollback brings the rows back, transaction_rolled_back() takes back
    // their count and forgets the bound). Rows the caller still needs (the
    // client holds them, to be sent) stay, as with the drop policy: a message
    // counted as dropped must never be delivered after all. The others go a
    // run of ids at a time; what stays gives the new bound.
    auto pick = db_.once("SELECT id, state, created_ms FROM messages ORDER BY id");
    auto remove = db_.prepared("DELETE FROM messages WHERE id BETWEEN ? AND ? AND state = 0 AND created_ms < ?");
    std::uint64_t n = 0;
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    std::optional<std::pair<std::int64_t, std::int64_t>> run;
    const auto flush = [&]() -> result<void> {
        if (!run) return {};
        remove->reset();
        remove->bind(1, run->first).bind(2, run->second).bind(3, before);
        if (auto r = remove->run(); !r) return fail(r.error());
        n += db_.changes();
        run.reset();
        return {};
    };
    const auto pass = [&]() -> result<void> {
        while (true) {
            auto row = pick.next();
            if (!row) return fail(row.error());
            if (!*row) break;
            const auto id = pick.integer(0);
            const auto created = pick.integer(2);
            if (pick.integer(1) != 0 || created >= before || (protect_ && protect_(id))) {
                if (auto r = flush(); !r) return r;
                earliest = std::min(earliest, created);
            } else if (run) {
                run->second = id;
            } else {
                run.emplace(id, id);
            }
        }
        if (auto r = flush(); !r) return r;
        earliest_ = earliest;
        return {};
    };
    const auto done = pass();
    // What was deleted is counted and the figures read again whether the
    // pass ended or failed part-way (without a transaction open, each run's
    // DELETE stands on its own; in one, a rollback takes the count back).
    if (n > 0) {
        counters_.dropped_by_age += n;
        if (auto r = refresh_stats(); !r && done) return fail(r.error());
    }
    if (!done) return fail(done.error());
    return n;
}

void message_queue::completed(std::uint64_t rows, std::uint64_t bytes, bool oldest_read,
                              std::optional<std::int64_t> oldest_ms) {
    counters_.completed += rows;
    if (rows == 0) return;
    stats_.rows -= rows;
    stats_.bytes -= bytes;
    if (oldest_read) {
        set_oldest(oldest_ms);
    } else {
        (void)refresh_oldest();
    }
}

void message_queue::transaction_began() { at_begin_ = counters_; }

void message_queue::transaction_committed() {
    ++counters_.commits;
    uncommitted_rows_ = 0;
}

void message_queue::transaction_rolled_back(std::error_code why) {
    // What the transaction evicted or expired is back: not dropped after all.
    counters_.dropped_by_rows = at_begin_.dropped_by_rows;
    counters_.dropped_by_bytes = at_begin_.dropped_by_bytes;
    counters_.dropped_by_age = at_begin_.dropped_by_age;
    if (uncommitted_rows_ > 0) {
        counters_.lost_uncommitted += uncommitted_rows_;
        spdlog::error("queue: {} message(s) not yet committed are lost: {}", uncommitted_rows_, why.message());
    }
    uncommitted_rows_ = 0;
    earliest_.reset();  // rows an expiry deleted are back
    if (auto r = refresh_stats(); !r) {
        spdlog::error("queue: cannot count the rows after a rollback: {}", r.error().message());
    }
}

}  // namespace fieldbridge::store
