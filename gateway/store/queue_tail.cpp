#include "gateway/store/queue_tail.hpp"

#include <algorithm>
#include <utility>

namespace fieldbridge::store {

void queue_tail::appended(stored_message m) {
    if (max_rows_ == 0) return;
    if (!anchored_) {
        anchored_ = true;
        from_ = m.id - 1;
    } else if (!rows_.empty() && m.id <= rows_.back().id) {
        forget();  // not the order the table gives ids in: nothing is known
        return;
    }
    const auto size = size_of(m);
    if (size > max_bytes_) {
        // Too big to keep: the tail now starts above it.
        rows_.clear();
        bytes_ = 0;
        from_ = m.id;
        return;
    }
    bytes_ += size;
    rows_.push_back(std::move(m));
    while (rows_.size() > max_rows_ || bytes_ > max_bytes_) pop_front();
}

void queue_tail::erased(std::int64_t id) {
    if (!anchored_ || id <= from_) return;
    const auto it = std::lower_bound(rows_.begin(), rows_.end(), id,
                                     [](const stored_message& m, std::int64_t i) { return m.id < i; });
    if (it == rows_.end() || it->id != id) return;
    bytes_ -= size_of(*it);
    rows_.erase(it);
}

void queue_tail::touched(std::int64_t first, std::int64_t last) {
    if (!anchored_ || last <= from_ || rows_.empty()) return;
    if (first > rows_.back().id) return;  // no row the tail holds (ids above it are not in the table)
    forget();
}

void queue_tail::forget() {
    rows_.clear();
    bytes_ = 0;
    from_ = 0;
    anchored_ = false;
}

void queue_tail::pop_front() {
    bytes_ -= size_of(rows_.front());
    from_ = rows_.front().id;
    rows_.pop_front();
}

std::optional<std::vector<stored_message>> queue_tail::take(std::int64_t after, std::size_t limit) {
    if (!anchored_ || after < from_) return std::nullopt;
    while (!rows_.empty() && rows_.front().id <= after) pop_front();
    from_ = std::max(from_, after);
    std::vector<stored_message> out;
    out.reserve(std::min(limit, rows_.size()));
    while (out.size() < limit && !rows_.empty()) {
        bytes_ -= size_of(rows_.front());
        from_ = rows_.front().id;
        out.push_back(std::move(rows_.front()));
        rows_.pop_front();
    }
    return out;
}

}  // namespace fieldbridge::store
