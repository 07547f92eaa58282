// result_credits: bounds the poll results a bus worker has handed to the
// core and the core has not finished with. A core that stalls (a slow disk
// under the store, a long reload) holds the workers back, and their missed
// poll slots are counted, instead of their results piling up in memory at
// every poll of every device.
//
// A worker takes a credit before it hands a result over; the result carries
// a receipt (poll_result::receipt) that gives the credit back when its last
// copy goes. A worker that finds none free waits to be told one came back
// (its poll loop is a coroutine and must not block a thread it may share).
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace fieldbridge::modbus {

class result_credits : public std::enable_shared_from_this<result_credits> {
public:
    // At most `limit` (at least 1) results out at once.
    static std::shared_ptr<result_credits> make(std::size_t limit);

    // A credit's receipt, which gives it back; nullptr when none is free or
    // interrupted. When none is free, `returned` is called once, on the
    // thread that gives one back (or interrupts): try again then. It must
    // not block.
    std::shared_ptr<const void> try_take(std::function<void()> returned);
    // Fails every try_take(), now and until resume(), and calls a
    // `returned` that waits.
    void interrupt();
    void resume();

    // How many times try_take() found no credit free.
    std::uint64_t waits() const;

private:
    explicit result_credits(std::size_t limit) : limit_(limit < 1 ? 1 : limit) {}
    void give_back();

    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::function<void()> returned_;  // guarded by mutex_
    std::size_t out_ = 0;          // guarded by mutex_
    std::uint64_t waits_ = 0;      // guarded by mutex_
    bool interrupted_ = false;     // guarded by mutex_
};

// Results a worker of `devices` devices may have out: two polls of each,
// and two more.
inline std::size_t results_in_flight_limit(std::size_t devices) { return 2 * devices + 2; }

}  // namespace fieldbridge::modbus
