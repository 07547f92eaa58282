#include "drivers/modbus/silent_blocks.hpp"

#include <algorithm>

namespace fieldbridge::modbus {

silent_blocks::silent_blocks(unsigned after, std::chrono::milliseconds retry_every)
    : after_(std::max(after, 1U)), retry_every_(retry_every) {}

bool silent_blocks::due(const block_id& block, time_point now) const {
    const auto e = std::find_if(entries_.begin(), entries_.end(), [&](const entry& x) { return x.block == block; });
    return e == entries_.end() || !e->next_try || now >= *e->next_try;
}

std::vector<block_change> silent_blocks::record(std::span<const block_report> poll, time_point now) {
    const bool another_answered =
        std::any_of(poll.begin(), poll.end(), [](const block_report& r) { return r.outcome == block_outcome::answered; });
    std::vector<entry> kept;
    kept.reserve(poll.size());
    std::vector<block_change> changes;
    for (std::size_t i = 0; i < poll.size(); ++i) {
        const auto& r = poll[i];
        const auto old = std::find_if(entries_.begin(), entries_.end(), [&](const entry& x) { return x.block == r.block; });
        entry e = old == entries_.end() ? entry{r.block, 0, std::nullopt} : *old;
        switch (r.outcome) {
            case block_outcome::answered:
                if (e.next_try) changes.push_back({i, false});
                e.misses = 0;
                e.next_try.reset();
                break;
            case block_outcome::no_answer:
                // A poll in which no block answered says nothing about this
                // one (the device is away: device_health's part); a block
                // held back waits its interval again either way.
                if (another_answered && e.misses < after_) ++e.misses;
                if (e.next_try) {
                    e.next_try = now + retry_every_;
                } else if (e.misses >= after_ && retry_every_.count() > 0) {
                    e.next_try = now + retry_every_;
                    changes.push_back({i, true});
                }
                break;
            case block_outcome::not_asked:
                break;
        }
        if (e.misses > 0 || e.next_try) kept.push_back(e);
    }
    entries_ = std::move(kept);
    return changes;
}

std::vector<block_id> silent_blocks::held() const {
    std::vector<block_id> out;
    for (const auto& e : entries_) {
        if (e.next_try) out.push_back(e.block);
    }
    return out;
}

}  // namespace fieldbridge::modbus
