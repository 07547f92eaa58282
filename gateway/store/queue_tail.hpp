// The queue's tail in memory: copies of the newest rows appended, so that
// the forwarder, which reads each message right after it was appended
// (load(after, limit) with `after` its cursor), gets it without a query.
// Pure: no SQLite; the message queue tells it every change of the rows it
// may hold.
//
// What it promises: while it is anchored, it holds every row of the table
// whose id is above from() (the table's rows of those ids, with their
// contents as stored), and nothing else; a load(after, limit) with
// after >= from() is answered here exactly as the table would answer it.
// Anything it cannot follow (a rollback, an expiry, a flow change of a row
// it holds) forgets it all; the next append anchors it again (AUTOINCREMENT
// gives new rows ids above every row in the table).
//
// Bounded: at most max_rows rows and max_bytes bytes of topic and payload;
// past either, the oldest go (from() rises). Not thread-safe: one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "gateway/store/stored_message.hpp"

namespace fieldbridge::store {

class queue_tail {
public:
    queue_tail(std::size_t max_rows, std::size_t max_bytes) : max_rows_(max_rows), max_bytes_(max_bytes) {}

    // A row the table took: its id above every row's in the table. Anchors
    // the tail at id - 1 when it was not.
    void appended(stored_message m);
    // The row was deleted (evicted by the drop policy).
    void erased(std::int64_t id);
    // The rows with these ids may have changed or gone: the tail forgets
    // everything when it holds any of them.
    void touched(std::int64_t first, std::int64_t last);
    void forget();

    // Up to `limit` rows with id > after, in id order, as the table would
    // give them; nullopt when the tail cannot say (not anchored, or `after`
    // below from()). The rows given and those at or below `after` leave the
    // tail (from() rises past them): a caller reads each once.
    std::optional<std::vector<stored_message>> take(std::int64_t after, std::size_t limit);

    bool anchored() const noexcept { return anchored_; }
    // Every row of the table above this id is in the tail (when anchored).
    std::int64_t from() const noexcept { return from_; }
    std::size_t rows() const noexcept { return rows_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    static std::size_t size_of(const stored_message& m) { return m.message.topic.size() + m.message.payload.size(); }
    void pop_front();

    std::size_t max_rows_;
    std::size_t max_bytes_;
    std::deque<stored_message> rows_;  // ids increasing, all above from_
    std::size_t bytes_ = 0;
    std::int64_t from_ = 0;
    bool anchored_ = false;
};

}  // namespace fieldbridge::store
