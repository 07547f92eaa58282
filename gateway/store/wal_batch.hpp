// The writes one transaction makes to SQLite's write-ahead log, gathered so
// that they reach the file with one system call instead of two per page.
//
// SQLite appends each page to the log as two writes: a 24-byte frame header,
// then the page. A transaction of six pages is twelve `pwrite` calls, each
// dear on a virtual machine. The batch keeps contiguous writes in memory;
// its owner (wal_batching_vfs.cpp) writes them out as one range when
//   - the page after a commit frame's header is added (`commit_complete`),
//     so that every commit is in the file before the commit returns;
//   - a write does not continue the batch (`continues` is false), or
//     rewrites bytes of the transaction (`in_place`: written through);
//   - it holds `limit` bytes (`full`);
//   - and before anything else is done with the log file (read, size,
//     sync, truncate, close), when the write transaction ends (so that
//     nothing is written without the WAL write lock), and at the barrier
//     of the database's shared WAL index.
// The order in which bytes reach the file and every sync are those SQLite
// asked for; only the number of calls changes.
//
// Pure: no I/O. Not thread-safe (one per open log file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fieldbridge::store {

class wal_batch {
public:
    // Bytes a frame header takes in the log file format.
    static constexpr std::size_t frame_header_size = 24;

    // Takes the memory of a full batch at once (`limit` and one page of the
    // largest size past it), so that gathering allocates nothing.
    explicit wal_batch(std::size_t limit);

    bool empty() const noexcept { return bytes_.empty(); }
    // Whether a write at `offset` extends the batch (always, when empty).
    bool continues(std::int64_t offset) const noexcept;
    // Adds a write that continues the batch (the caller checks `continues`).
    void add(std::span<const std::byte> data, std::int64_t offset);
    // The batch ends with the page of a commit frame: write it out now.
    bool commit_complete() const noexcept { return commit_complete_; }
    bool full() const noexcept { return bytes_.size() >= limit_; }
    // Whether [offset, offset + n) overlaps what the batch holds.
    bool overlaps(std::int64_t offset, std::size_t n) const noexcept;
    // Whether a write at `offset` rewrites what this transaction wrote
    // before (a page changed again after its frame was spilled, the
    // checksums SQLite rewrites after such a commit): its owner writes it
    // through, so that an error is the writer's. The log's header (offset 0,
    // the first write after the log starts again) never is.
    bool in_place(std::int64_t offset) const noexcept { return offset != 0 && end_ > 0 && offset < end_; }
    // The write transaction ended (committed or rolled back): the next
    // write appends wherever it is.
    void transaction_ended() noexcept;

    std::int64_t offset() const noexcept { return offset_; }
    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    // After the bytes are in the file. The buffer's capacity is kept for
    // the next transaction.
    void clear() noexcept;

private:
    std::size_t limit_;
    std::vector<std::byte> bytes_;
    std::int64_t offset_ = 0;
    // The end of what this transaction appended (0: nothing yet).
    std::int64_t end_ = 0;
    // The last write was a commit frame's header: its page comes next.
    bool commit_header_ = false;
    bool commit_complete_ = false;
};

}  // namespace fieldbridge::store
