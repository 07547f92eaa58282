#include "gateway/store/schema.hpp"

#include <array>

#include <spdlog/spdlog.h>

namespace fieldbridge::store::schema {
namespace {

// Never edit a step that has shipped: a file that took it keeps its result.
// Add a step instead.
constexpr std::array<step, 4> all_steps{{
    {0, "the message queue and the MQTT session ledger", R"sql(
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    packet_id  INTEGER NOT NULL DEFAULT 0,
    dup        INTEGER NOT NULL DEFAULT 0,
    size       INTEGER NOT NULL
);
CREATE INDEX messages_queued_qos ON messages(qos, id) WHERE state = 0;
CREATE TABLE incoming_qos2 (packet_id INTEGER PRIMARY KEY);
)sql"},
    // Builds from the one that added refused reads up to the one that
    // numbered the steps created this table at user_version 1 already (their
    // schema was one script of CREATE ... IF NOT EXISTS), so a version 1 file
    // may have it, with rows: IF NOT EXISTS keeps them.
    {1, "the reads devices refused (device memory)", R"sql(
CREATE TABLE IF NOT EXISTS refused_reads (
    device   TEXT    NOT NULL,
    function INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (device, function, start, count)
) WITHOUT ROWID;
)sql"},
    {2, "numbers the gateway keeps across restarts (the Sparkplug bdSeq)", R"sql(
CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    {3, "the rows store.order: fresh_first sends with the live ones (its boundary is a counter)", R"sql(
CREATE TABLE fresh_rows (id INTEGER PRIMARY KEY);
)sql"},
}};

static_assert([] {
    for (std::size_t n = 0; n < all_steps.size(); ++n) {
        if (all_steps[n].from != static_cast<std::int64_t>(n)) return false;
    }
    return true;
}());

}  // namespace

std::span<const step> steps() { return all_steps; }

std::int64_t latest_version() { return static_cast<std::int64_t>(all_steps.size()); }

result<void> check(database& db) {
    auto version = db.user_version();
    if (!version) return fail(version.error());
    if (*version > latest_version()) {
        spdlog::error("queue: {} has schema version {}, this build knows up to {}; refusing to touch it "
                      "(a newer fieldbridge wrote it)",
                      db.path().string(), *version, latest_version());
        return fail(store_errc::newer_schema);
    }
    if (*version < 0) {
        spdlog::error("queue: {} has schema version {}, which no fieldbridge writes; refusing to touch it",
                      db.path().string(), *version);
        return fail(store_errc::not_a_queue);
    }
    if (*version == 0) {
        auto empty = db.holds_nothing();
        if (!empty) return fail(empty.error());
        if (!*empty) {
            spdlog::error("queue: {} is a database with tables of its own but no fieldbridge schema version; "
                          "refusing to touch it (set store.path to a file of its own)",
                          db.path().string());
            return fail(store_errc::not_a_queue);
        }
    }
    return {};
}

result<void> migrate(database& db) {
    std::int64_t first = -1;  // the version the file had
    std::int64_t reached = -1;  // the version its last step left
    for (;;) {
        std::int64_t at = 0;
        bool version_read = false;
        // The version is read inside the step's transaction: BEGIN IMMEDIATE
        // holds the write lock, so no other opener steps in between.
        auto r = db.in_transaction(true, [&]() -> result<void> {
            auto version = db.user_version();
            if (!version) return fail(version.error());
            at = *version;
            version_read = true;
            if (at >= latest_version() || at < 0) return {};
            const auto& s = all_steps[static_cast<std::size_t>(at)];
            if (auto e = db.exec(s.sql); !e) return e;
            // PRAGMA takes no bound parameters; the number is ours.
            const auto bump = "PRAGMA user_version = " + std::to_string(at + 1);
            return db.exec(bump.c_str());
        });
        if (!r && !version_read) {
            // Nothing was read in this step, so nothing of it was done.
            const char* hint = r.error() == make_error_code(store_errc::locked)
                                   ? " (an sqlite3 shell with a transaction open?)"
                                   : "";
            if (first < 0) {
                spdlog::error("queue: {}: cannot begin the schema check: {}{}; the file is not changed",
                              db.path().string(), r.error().message(), hint);
            } else {
                spdlog::error("queue: {}: the schema upgrade from version {} stopped at version {}: {}{}",
                              db.path().string(), first, reached, r.error().message(), hint);
            }
            return r;
        }
        if (!r) {
            spdlog::error("queue: {}: upgrading the schema from version {} to {} failed: {}; the file stays at "
                          "version {}",
                          db.path().string(), at, at + 1, r.error().message(), at);
            return r;
        }
        if (first < 0) first = at;
        reached = at < latest_version() ? at + 1 : at;
        if (at > latest_version()) return fail(store_errc::newer_schema);
        if (at < 0) return fail(store_errc::not_a_queue);
        if (at == latest_version()) {
            if (first > 0 && first < at) {
                spdlog::info("queue: {}: schema upgraded from version {} to {}", db.path().string(), first, at);
            }
            return {};
        }
        spdlog::debug("queue: {}: schema version {} to {}: {}", db.path().string(), at, at + 1,
                      all_steps[static_cast<std::size_t>(at)].what);
    }
}

}  // namespace fieldbridge::store::schema
