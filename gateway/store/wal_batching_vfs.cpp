#include "gateway/store/wal_batching_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <new>
#include <span>
#include <vector>

#include <spdlog/spdlog.h>

#include "gateway/store/wal_batch.hpp"

namespace fieldbridge::store {

namespace {

// Bytes a batch gathers before it is written out even without a commit (a
// transaction larger than this is written in parts, in order), and the most
// one call to the default VFS writes: its xWrite takes less than 128 KiB.
constexpr std::size_t batch_limit = std::size_t{64} * 1024;

// One open file. SQLite allocates `szOsFile` bytes for it: this struct,
// then the default VFS's own file object (`real`).
struct file {
    sqlite3_file base;  // first: SQLite sees a sqlite3_file*
    sqlite3_file* real;
    wal_batch* batch;  // the log file only
    const char* name;  // a database file: its name, as the key by which its log finds it
    file* database;    // a log file: its database file
    file* log;         // a database file: its open log file
};

constexpr std::size_t real_offset =
    (sizeof(file) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) * alignof(std::max_align_t);

sqlite3_vfs* parent = nullptr;

// Open database files, so that a log file opened after its database finds
// it (sqlite3_filename_database gives the very pointer the database file was
// opened with: one per connection).
std::mutex open_databases_mutex;
std::vector<file*> open_databases;

file* self(sqlite3_file* f) {
    return reinterpret_cast<file*>(f);
}

// Writes out what the batch holds. On failure the bytes are dropped and the
// error returned: the transaction they belong to fails with it, and SQLite
// writes them again (the log header included) with the next one.
int flush(file* f) {
    if (!f->batch || f->batch->empty())
        return SQLITE_OK;
    auto bytes = f->batch->bytes();
    auto offset = f->batch->offset();
    int rc = SQLITE_OK;
    while (!bytes.empty() && rc == SQLITE_OK) {
        const auto part = bytes.first(std::min(bytes.size(), batch_limit));
        rc = f->real->pMethods->xWrite(f->real, part.data(), static_cast<int>(part.size()), offset);
        bytes = bytes.subspan(part.size());
        offset += static_cast<sqlite3_int64>(part.size());
    }
    f->batch->clear();
    return rc;
}

int x_close(sqlite3_file* pf) {
    auto* f = self(pf);
    const int flushed = flush(f);
    const int rc = f->real->pMethods->xClose(f->real);
    {
        const std::lock_guard lock(open_databases_mutex);
        if (f->database)
            f->database->log = nullptr;
        if (f->log)
            f->log->database = nullptr;
        std::erase(open_databases, f);
    }
    delete f->batch;
    f->batch = nullptr;
    return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* pf, void* out, int n, sqlite3_int64 offset) {
    auto* f = self(pf);
    if (f->batch && f->batch->overlaps(offset, static_cast<std::size_t>(n))) {
        if (const int rc = flush(f); rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xRead(f->real, out, n, offset);
}

int x_write(sqlite3_file* pf, const void* data, int n, sqlite3_int64 offset) {
    auto* f = self(pf);
    if (!f->batch)
        return f->real->pMethods->xWrite(f->real, data, n, offset);
    if (f->batch->in_place(offset)) {
        if (const int rc = flush(f); rc != SQLITE_OK)
            return rc;
        return f->real->pMethods->xWrite(f->real, data, n, offset);
    }
    if (!f->batch->continues(offset)) {
        if (const int rc = flush(f); rc != SQLITE_OK)
            return rc;
    }
    f->batch->add(std::span(static_cast<const std::byte*>(data), static_cast<std::size_t>(n)), offset);
    if (f->batch->commit_complete() || f->batch->full())
        return flush(f);
    return SQLITE_OK;
}

int x_truncate(sqlite3_file* pf, sqlite3_int64 size) {
    auto* f = self(pf);
    if (const int rc = flush(f); rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* pf, int flags) {
    auto* f = self(pf);
    if (const int rc = flush(f); rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* pf, sqlite3_int64* size) {
    auto* f = self(pf);
    if (const int rc = flush(f); rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* pf, int level) {
    return self(pf)->real->pMethods->xLock(self(pf)->real, level);
}

// Defined below: what the end of a write transaction does to the log.
void transaction_ends(file* database);

int x_unlock(sqlite3_file* pf, int level) {
    // A database file lock let go (a connection that leaves exclusive
    // locking mode, where no WAL lock is called): no write transaction goes
    // on past it.
    transaction_ends(self(pf));
    return self(pf)->real->pMethods->xUnlock(self(pf)->real, level);
}

int x_check_reserved_lock(sqlite3_file* pf, int* out) {
    return self(pf)->real->pMethods->xCheckReservedLock(self(pf)->real, out);
}

int x_file_control(sqlite3_file* pf, int op, void* arg) {
    auto* f = self(pf);
    if (const int rc = flush(f); rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* pf) {
    return self(pf)->real->pMethods->xSectorSize(self(pf)->real);
}

int x_device_characteristics(sqlite3_file* pf) {
    return self(pf)->real->pMethods->xDeviceCharacteristics(self(pf)->real);
}

// The shared WAL index is the database file's. A commit makes its frames
// visible to other connections by writing the index header around a
// barrier: its log's frames are in the file before that.
int x_shm_map(sqlite3_file* pf, int region, int size, int extend, void volatile** out) {
    return self(pf)->real->pMethods->xShmMap(self(pf)->real, region, size, extend, out);
}

// The write transaction ends (its lock is still held). A commit left
// nothing behind; frames of a transaction rolled back may be there: written
// now (past the last commit, where the next writer writes again), never
// later over another writer's frames.
void transaction_ends(file* database) {
    if (!database->log)
        return;
    if (const int rc = flush(database->log); rc != SQLITE_OK) {
        spdlog::warn("queue: writing frames of a transaction rolled back to the write-ahead log failed: {}",
                     sqlite3_errstr(rc));
    }
    database->log->batch->transaction_ended();
}

// The WAL write lock: slot 0 of the shared index's locks.
constexpr int wal_write_lock = 0;

int x_shm_lock(sqlite3_file* pf, int offset, int n, int flags) {
    auto* f = self(pf);
    if ((flags & SQLITE_SHM_UNLOCK) && offset == wal_write_lock)
        transaction_ends(f);
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

void x_shm_barrier(sqlite3_file* pf) {
    auto* f = self(pf);
    // By the rules above nothing is left here at a commit (its frames were
    // written with its commit frame, rewrites go through, a padded log is
    // not gathered); whatever a path of SQLite's left is written before the
    // index makes the commit visible, and an error can only be logged.
    if (f->log) {
        if (const int rc = flush(f->log); rc != SQLITE_OK) {
            spdlog::error("queue: writing the write-ahead log failed at a commit: {}", sqlite3_errstr(rc));
        }
    }
    f->real->pMethods->xShmBarrier(f->real);
}

int x_shm_unmap(sqlite3_file* pf, int delete_flag) {
    return self(pf)->real->pMethods->xShmUnmap(self(pf)->real, delete_flag);
}

// Memory-mapped reads: SQLite maps the database file only (the log is
// read through xRead, which sees the batch).
int x_fetch(sqlite3_file* pf, sqlite3_int64 offset, int n, void** out) {
    return self(pf)->real->pMethods->xFetch(self(pf)->real, offset, n, out);
}

int x_unfetch(sqlite3_file* pf, sqlite3_int64 offset, void* p) {
    return self(pf)->real->pMethods->xUnfetch(self(pf)->real, offset, p);
}

const sqlite3_io_methods io_methods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* pf, int flags, int* out_flags) {
    auto* f = self(pf);
    f->base.pMethods = nullptr;  // until the real file is open: SQLite then does not close it
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(pf) + real_offset);
    f->batch = nullptr;
    f->name = nullptr;
    f->database = nullptr;
    f->log = nullptr;
    const int rc = parent->xOpen(parent, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    // The wrapper forwards version 3 methods: the default VFS's files on
    // Linux have them; another (older) one's files are not wrapped.
    if (!f->real->pMethods || f->real->pMethods->iVersion < 3) {
        if (f->real->pMethods)
            f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    f->base.pMethods = &io_methods;
    const std::lock_guard lock(open_databases_mutex);
    if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
        try {
            open_databases.push_back(f);
        } catch (const std::bad_alloc&) {
            f->base.pMethods = nullptr;
            f->real->pMethods->xClose(f->real);
            return SQLITE_NOMEM;
        }
        f->name = name;
    } else if ((flags & SQLITE_OPEN_WAL) && name) {
        // Only the log of a database this VFS opened, and only where SQLite
        // does not pad the log to sector boundaries around a sync in the
        // middle of a frame (a database on a device without powersafe
        // overwrite): others are written as SQLite writes them.
        const char* database_name = sqlite3_filename_database(name);
        const auto d = std::find_if(open_databases.begin(), open_databases.end(),
                                    [&](const file* o) { return o->name == database_name; });
        if (d == open_databases.end() || ((*d)->real->pMethods->xDeviceCharacteristics((*d)->real) &
                                          SQLITE_IOCAP_POWERSAFE_OVERWRITE) == 0) {
            return SQLITE_OK;
        }
        try {
            f->batch = new wal_batch(batch_limit);
        } catch (const std::bad_alloc&) {
            return SQLITE_OK;  // written as SQLite writes it
        }
        (*d)->log = f;
        f->database = *d;
    }
    return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
    return parent->xDelete(parent, name, sync_dir);
}

int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return parent->xAccess(parent, name, flags, out);
}

int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return parent->xFullPathname(parent, name, n, out);
}

void* x_dl_open(sqlite3_vfs*, const char* name) {
    return parent->xDlOpen(parent, name);
}

void x_dl_error(sqlite3_vfs*, int n, char* out) {
    parent->xDlError(parent, n, out);
}

void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))() {
    return parent->xDlSym(parent, handle, symbol);
}

void x_dl_close(sqlite3_vfs*, void* handle) {
    parent->xDlClose(parent, handle);
}

int x_randomness(sqlite3_vfs*, int n, char* out) {
    return parent->xRandomness(parent, n, out);
}

int x_sleep(sqlite3_vfs*, int us) {
    return parent->xSleep(parent, us);
}

int x_current_time(sqlite3_vfs*, double* out) {
    return parent->xCurrentTime(parent, out);
}

int x_get_last_error(sqlite3_vfs*, int n, char* out) {
    return parent->xGetLastError(parent, n, out);
}

int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
    return parent->xCurrentTimeInt64(parent, out);
}

sqlite3_vfs vfs_object{};

void register_vfs() {
    parent = sqlite3_vfs_find(nullptr);
    if (!parent || parent->iVersion < 2) {
        parent = nullptr;
        return;
    }
    vfs_object.iVersion = 2;
    vfs_object.szOsFile = static_cast<int>(real_offset) + parent->szOsFile;
    vfs_object.mxPathname = parent->mxPathname;
    vfs_object.zName = "fieldbridge-wal-batching";
    vfs_object.xOpen = x_open;
    vfs_object.xDelete = x_delete;
    vfs_object.xAccess = x_access;
    vfs_object.xFullPathname = x_full_pathname;
    vfs_object.xDlOpen = x_dl_open;
    vfs_object.xDlError = x_dl_error;
    vfs_object.xDlSym = x_dl_sym;
    vfs_object.xDlClose = x_dl_close;
    vfs_object.xRandomness = x_randomness;
    vfs_object.xSleep = x_sleep;
    vfs_object.xCurrentTime = x_current_time;
    vfs_object.xGetLastError = x_get_last_error;
    vfs_object.xCurrentTimeInt64 = x_current_time_int64;
    if (sqlite3_vfs_register(&vfs_object, 0) != SQLITE_OK)
        parent = nullptr;
}

}  // namespace

const char* wal_batching_vfs() {
    static std::once_flag once;
    std::call_once(once, register_vfs);
    return parent ? vfs_object.zName : nullptr;
}

}  // namespace fieldbridge::store
