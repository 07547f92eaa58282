// The store's errors: one error_category for every part of gateway/store.
// Plain values, no thread-safety concerns.
#pragma once

#include <system_error>

namespace fieldbridge::store {

enum class store_errc {
    open_failed = 1,  // the file cannot be opened or created
    newer_schema,     // written by a newer fieldbridge; refused, left untouched
    corrupt,          // not a database, or failed the integrity check (moved aside on open)
    disk_full,        // SQLITE_FULL: the batch was not stored
    io_error,         // any other SQLite failure
    queue_full,       // limits reached and the policy refuses new messages
    not_a_queue,      // a database of something else (schema version 0 with tables); refused, left untouched
    in_use,           // another process has the file open as its queue (file_lock)
    locked,           // SQLITE_BUSY: another program holds the file's write lock past the busy timeout
};

const std::error_category& store_category() noexcept;
inline std::error_code make_error_code(store_errc e) noexcept { return {static_cast<int>(e), store_category()}; }

}  // namespace fieldbridge::store

template <>
struct std::is_error_code_enum<fieldbridge::store::store_errc> : std::true_type {};
