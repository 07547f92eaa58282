// The MQTT session ledger: where each stored message stands in its flow
// (state, packet id, DUP in the rows of `messages`) and the incoming QoS 2
// packet ids delivered but not yet released (`incoming_qos2`), so that a
// restarted gateway resumes each flow where it stopped.
//
// Not thread-safe: one owner (the store). Keeps a reference to the database,
// which must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store/flow.hpp"
#include "gateway/store/stored_message.hpp"

namespace fieldbridge::store {

// What the `done` changes of a batch deleted.
struct completed_rows {
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;  // their topic + payload bytes
    // When rows went: the creation time (ms) of the oldest message left,
    // none when the table is empty; read in the same transaction
    // (`oldest_read`; a read that failed leaves it to the caller, and
    // fails nothing of the changes).
    bool oldest_read = false;
    std::optional<std::int64_t> oldest_ms;
};

class session_ledger {
public:
    explicit session_ledger(database& db) : db_(db) {}

    // Applies state changes as a savepoint of the open transaction, then
    // commits everything open (all or nothing).
    result<completed_rows> apply(std::span<const change> changes);

    // Every message in flight (state sent or pubrec), in id order.
    result<std::vector<stored_message>> load_in_flight();

    result<std::vector<std::uint16_t>> incoming_qos2();
    // Replaces the incoming ids and commits everything open.
    result<void> set_incoming_qos2(std::span<const std::uint16_t> ids);

private:
    database& db_;
};

}  // namespace fieldbridge::store
