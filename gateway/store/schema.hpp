// The store's schema as numbered steps: step N takes a database from
// user_version N to N + 1. A new file starts at 0 and takes them all; an
// older one takes those it lacks. Each step runs in a transaction of its own
// that also sets user_version, so an interrupted upgrade leaves the file at
// the last step it finished, and the next start goes on from there.
//
// Free functions over a database; no state of their own.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.hpp"
#include "gateway/store/database.hpp"

namespace fieldbridge::store::schema {

struct step {
    std::int64_t from;  // user_version before; after is from + 1
    const char* what;   // for the log
    const char* sql;
};

// Every step, in order; steps()[n].from == n.
std::span<const step> steps();

// The version this build writes: the number of steps.
std::int64_t latest_version();

// Whether this build may use the file: newer_schema for a user_version above
// latest_version(), not_a_queue for a version 0 database that already holds
// tables (another program's), corrupt for a file that is not a database.
// Reads only; the file is left as it is.
result<void> check(database& db);

// Applies the steps the file lacks, each in its own transaction. A failing
// step is rolled back and named in the log; the file keeps the version of
// the last step that finished.
result<void> migrate(database& db);

}  // namespace fieldbridge::store::schema
