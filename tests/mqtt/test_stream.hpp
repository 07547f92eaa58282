// An in-process transport for the client's tests: every connection attempt
// the client makes arrives at a test_network, and the test plays the broker
// on the other end of each link (a test_peer), on the same io_context,
// without sockets or threads. The test decides how each attempt ends
// (accepted, refused, after a delay, never), cuts what it sends into any
// chunks (a read returns at most one chunk, so half-written packets arrive
// as such), and breaks a link at any byte: after what it sent, or part-way
// through what the client writes.
//
// Handlers run on the io_context, never inside the call that started the
// operation, as with an Asio socket. Not thread-safe: the test's thread runs
// the io_context and calls everything here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "mqtt/packet.hpp"
#include "mqtt/transport.hpp"

namespace fieldbridge::mqtt::testing {

// How one connection attempt ends.
struct connect_outcome {
    std::error_code error;               // empty: accepted
    std::chrono::milliseconds delay{0};  // the attempt ends after this long
    bool never = false;                  // it hangs until the client gives up (its connect timeout)
    // Accepted, the link breaks once the client has written this many bytes
    // (test_peer::drop_after_written from the first byte).
    std::optional<std::size_t> write_budget;

    static connect_outcome accept(std::chrono::milliseconds after = {}) { return {{}, after, false, {}}; }
    static connect_outcome refuse(std::error_code why = std::make_error_code(std::errc::connection_refused)) {
        return {why, {}, false, {}};
    }
    static connect_outcome hang() { return {{}, {}, true, {}}; }
    static connect_outcome break_after_written(std::size_t n) { return {{}, {}, false, n}; }
};

class test_stream;

// The broker's end of one link.
class test_peer {
public:
    test_peer(server_address address, protocol_version version);

    const server_address& address() const noexcept { return address_; }
    // Accepted, and neither end has closed it since.
    bool open() const noexcept { return accepted_ && !broken_; }
    // The client closed its end (after an error of its own, a timeout, stop()).
    bool closed_by_client() const noexcept { return closed_by_client_; }

    // Bytes the client wrote that receive() has not taken yet.
    const std::vector<std::uint8_t>& unread() const noexcept { return unread_; }
    // The next whole packet the client wrote; nullopt when none is complete
    // yet. Bytes that are not a packet are a test failure (malformed()).
    std::optional<packet> receive();
    bool malformed() const noexcept { return malformed_; }

    // `bytes` reach the client as one chunk: a read returns at most one
    // chunk (less when its buffer is smaller).
    void send(std::span<const std::uint8_t> bytes);
    void send(const packet& p);
    // The link breaks: the client reads what was sent before, then `why`;
    // its writes fail with `why`.
    void drop(std::error_code why = std::make_error_code(std::errc::connection_reset));
    // The link breaks once the client has written `n` more bytes: the write
    // that crosses the limit delivers the bytes below it and then fails.
    void drop_after_written(std::size_t n);
    // A peer that does not read: the client's writes do not complete (a
    // slow or stalled uplink) until release_writes(), which takes them all,
    // or until the client closes its end, which ends them aborted.
    void hold_writes() { writes_held_ = true; }
    void release_writes();

private:
    friend class test_stream;

    void pump();

    server_address address_;
    protocol_version version_;
    bool accepted_ = false;
    bool broken_ = false;
    bool closed_by_client_ = false;
    bool malformed_ = false;
    std::error_code break_reason_;
    std::optional<std::size_t> write_budget_;  // bytes the client may still write before the link breaks
    bool writes_held_ = false;
    std::vector<std::function<void()>> held_writes_;  // the writes hold_writes() keeps from completing
    std::vector<std::uint8_t> unread_;
    std::deque<std::vector<std::uint8_t>> to_client_;
    // The client's end, to complete its pending read when bytes arrive.
    std::weak_ptr<test_stream> client_end_;
};

// Where the client's connection attempts arrive.
class test_network {
public:
    test_network(boost::asio::io_context& io, protocol_version version);

    // Give this to the client's constructor.
    transport_factory transports();

    // How the next attempts end, in order; once these are used up, attempts
    // are accepted at once.
    void script(connect_outcome o) { state_->script.push_back(o); }

    // Every attempt in order: where it went, when it started, and its peer
    // (empty until accepted).
    struct attempt {
        server_address address;
        std::chrono::steady_clock::time_point at;
        std::shared_ptr<test_peer> peer;
    };
    const std::vector<attempt>& attempts() const noexcept { return state_->attempts; }
    // The peer of the latest accepted attempt, or nullptr.
    std::shared_ptr<test_peer> last_peer() const;
    // How many attempts were accepted.
    std::size_t accepted() const;

    struct shared_state {
        boost::asio::io_context* io = nullptr;
        protocol_version version = protocol_version::v3_1_1;
        std::deque<connect_outcome> script;
        std::vector<attempt> attempts;
    };

private:
    std::shared_ptr<shared_state> state_;
};

// Runs the io_context on this thread, one handler at a time, until pred
// holds or timeout passes; false when it never held. Returns at once when
// nothing is left to run (no handler, timer or pending wait could change pred).
template <class Predicate>
bool run_until(boost::asio::io_context& io, Predicate pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        if (io.stopped()) io.restart();
        if (io.run_one_for(deadline - now) == 0 && io.stopped()) return pred();
    }
    return true;
}

}  // namespace fieldbridge::mqtt::testing
