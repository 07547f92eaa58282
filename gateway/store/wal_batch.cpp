#include "gateway/store/wal_batch.hpp"

#include <algorithm>

namespace fieldbridge::store {

namespace {

// A frame header's bytes 4..7: the database's size in pages after the
// commit for a commit frame, zero for every other frame (big-endian).
bool commit_frame_header(std::span<const std::byte> header) {
    return header[4] != std::byte{0} || header[5] != std::byte{0} || header[6] != std::byte{0} ||
           header[7] != std::byte{0};
}

}  // namespace

wal_batch::wal_batch(std::size_t limit) : limit_(limit) {
    // SQLite's largest page: 64 KiB.
    bytes_.reserve(limit + frame_header_size + 65536);
}

bool wal_batch::continues(std::int64_t offset) const noexcept {
    return bytes_.empty() || offset == offset_ + static_cast<std::int64_t>(bytes_.size());
}

void wal_batch::add(std::span<const std::byte> data, std::int64_t offset) {
    if (bytes_.empty())
        offset_ = offset;
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    const auto end = offset + static_cast<std::int64_t>(data.size());
    end_ = offset == 0 ? end : std::max(end_, end);
    // A commit frame is its header and the page written right after it.
    commit_complete_ = commit_header_;
    commit_header_ = data.size() == frame_header_size && commit_frame_header(data);
}

bool wal_batch::overlaps(std::int64_t offset, std::size_t n) const noexcept {
    if (bytes_.empty() || n == 0)
        return false;
    const auto end = offset_ + static_cast<std::int64_t>(bytes_.size());
    return offset < end && offset + static_cast<std::int64_t>(n) > offset_;
}

void wal_batch::clear() noexcept {
    bytes_.clear();
    // A commit frame's header that filled the batch still waits for its
    // page (at worst a later write is written out once too early).
    commit_complete_ = false;
}

void wal_batch::transaction_ended() noexcept {
    end_ = 0;
    commit_header_ = false;
}

}  // namespace fieldbridge::store
