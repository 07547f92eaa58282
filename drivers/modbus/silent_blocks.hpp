// The blocks of one device's poll that get no answer while its other blocks
// do: a device that lets a read of registers it lacks time out instead of
// answering exception 2, or a range behind a converter whose far side is
// down. Such a block costs the line timeout × (1 + retries) every poll and
// the device never goes offline (device_health: it answers). After
// `after` polls in a row in which the block got no answer and another
// block of the same poll did, the block is held back: asked once every
// `retry_every` until it answers again; the worker reports its points as
// not asked in between. Pure: the times come from the caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "drivers/modbus/block_id.hpp"

namespace fieldbridge::modbus {

enum class block_outcome : std::uint8_t {
    answered,   // an answer, an exception included
    no_answer,  // timed out after its retries
    not_asked,  // held back, left out (the device offline, the link down), or an error that says nothing of the block
};

struct block_report {
    block_id block;
    block_outcome outcome = block_outcome::not_asked;
};

// A block held back from now on (silent) or answering again.
struct block_change {
    std::size_t report = 0;  // index into the poll's reports
    bool silent = false;
};

class silent_blocks {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // retry_every 0: no block is ever held back.
    silent_blocks(unsigned after, std::chrono::milliseconds retry_every);

    // Whether `block` is to be asked in a poll at `now`.
    bool due(const block_id& block, time_point now) const;
    // Takes one poll's reports, one for each block of the device's plan;
    // blocks not among them (a plan that changed) are forgotten. Returns
    // the blocks held back from now on and those that answered again.
    std::vector<block_change> record(std::span<const block_report> poll, time_point now);
    // Blocks held back now, in the order of the last poll's reports.
    std::vector<block_id> held() const;

private:
    struct entry {
        block_id block;
        unsigned misses = 0;  // polls in a row without an answer while another block answered
        std::optional<time_point> next_try;  // set while held back
    };
    unsigned after_;
    std::chrono::milliseconds retry_every_;
    std::vector<entry> entries_;
};

}  // namespace fieldbridge::modbus
