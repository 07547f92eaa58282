// An SQLite VFS over the platform's default one that writes each
// transaction's write-ahead log frames with one system call (wal_batch.hpp
// says when the gathered bytes go to the file). Files other than the log
// pass through untouched; locking, syncs and the shared WAL index are the
// default VFS's, so other connections (the `sqlite3` tool, a reader in
// another process) use the file as always.
#pragma once

namespace fieldbridge::store {

// The VFS's name for sqlite3_open_v2; registers it on first use
// (thread-safe). Null when the platform has no default VFS to wrap.
const char* wal_batching_vfs();

}  // namespace fieldbridge::store
