#include "tests/mqtt/test_stream.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mqtt/codec.hpp"

namespace fieldbridge::mqtt::testing {
namespace asio = boost::asio;

// The client's end of one link: what the client holds as its transport.
class test_stream final : public transport, public std::enable_shared_from_this<test_stream> {
public:
    explicit test_stream(std::shared_ptr<test_network::shared_state> network)
        : network_(std::move(network)), io_(*network_->io), timer_(io_) {}

    void async_connect(const server_address& to, connect_handler done) override {
        auto& n = *network_;
        const auto outcome = n.script.empty() ? connect_outcome::accept() : n.script.front();
        if (!n.script.empty()) n.script.pop_front();
        n.attempts.push_back({to, std::chrono::steady_clock::now(), nullptr});
        attempt_ = n.attempts.size() - 1;
        connecting_ = std::move(done);
        if (outcome.never) return;  // ended by close()
        timer_.expires_after(outcome.delay);
        timer_.async_wait([self = shared_from_this(), outcome, to](const boost::system::error_code& ec) {
            if (ec || !self->connecting_) return;
            auto finish = std::exchange(self->connecting_, nullptr);
            if (outcome.error) return finish(outcome.error, "");
            auto peer = std::make_shared<test_peer>(to, self->network_->version);
            peer->accepted_ = true;
            peer->write_budget_ = outcome.write_budget;
            peer->client_end_ = self;
            self->peer_ = peer;
            self->network_->attempts[self->attempt_].peer = peer;
            finish({}, "");
        });
    }

    void async_read_some(std::span<std::uint8_t> buffer, io_handler done) override {
        reading_ = std::move(done);
        read_buffer_ = buffer;
        pump();
    }

    void async_write(std::span<const std::uint8_t> bytes, io_handler done) override {
        if (peer_ != nullptr && !peer_->broken_ && peer_->writes_held_) {
            peer_->held_writes_.push_back(
                [self = shared_from_this(), copy = std::vector<std::uint8_t>(bytes.begin(), bytes.end()),
                 done = std::move(done)]() mutable { self->async_write(copy, std::move(done)); });
            return;
        }
        std::error_code error;
        std::size_t written = 0;
        if (peer_ == nullptr || peer_->broken_) {
            error = peer_ ? peer_->break_reason_ : std::make_error_code(std::errc::not_connected);
        } else {
            written = peer_->write_budget_ ? std::min(bytes.size(), *peer_->write_budget_) : bytes.size();
            peer_->unread_.insert(peer_->unread_.end(), bytes.begin(),
                                  bytes.begin() + static_cast<std::ptrdiff_t>(written));
            if (peer_->write_budget_) {
                *peer_->write_budget_ -= written;
                if (written < bytes.size()) {
                    peer_->drop();
                    error = peer_->break_reason_;
                }
            }
        }
        asio::post(io_, [self = shared_from_this(), done = std::move(done), error, written] { done(error, written); });
    }

    void close() override {
        timer_.cancel();
        if (peer_ && !peer_->broken_) {
            peer_->broken_ = true;
            peer_->break_reason_ = aborted();
        }
        if (peer_) {
            peer_->closed_by_client_ = true;
            // As closing a socket does: writes the peer held end, aborted.
            auto held = std::move(peer_->held_writes_);
            peer_->held_writes_.clear();
            for (auto& write : held) write();
        }
        if (auto done = std::exchange(connecting_, nullptr)) {
            asio::post(io_, [done = std::move(done)] { done(aborted(), ""); });
        }
        if (auto done = std::exchange(reading_, nullptr)) {
            asio::post(io_, [self = shared_from_this(), done = std::move(done)] { done(aborted(), 0); });
        }
    }

    // Completes the pending read when there is something to give it.
    void pump() {
        if (!reading_ || peer_ == nullptr) return;
        auto& chunks = peer_->to_client_;
        if (!chunks.empty()) {
            auto& chunk = chunks.front();
            const auto n = std::min(chunk.size(), read_buffer_.size());
            std::memcpy(read_buffer_.data(), chunk.data(), n);
            chunk.erase(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
            if (chunk.empty()) chunks.pop_front();
            asio::post(io_, [self = shared_from_this(), done = std::exchange(reading_, nullptr), n] { done({}, n); });
        } else if (peer_->broken_) {
            asio::post(io_, [self = shared_from_this(), done = std::exchange(reading_, nullptr),
                             why = peer_->break_reason_] { done(why, 0); });
        }
    }

private:
    static std::error_code aborted() { return std::make_error_code(std::errc::operation_canceled); }

    std::shared_ptr<test_network::shared_state> network_;
    asio::io_context& io_;
    asio::steady_timer timer_;  // a delayed connect outcome
    std::size_t attempt_ = 0;
    std::shared_ptr<test_peer> peer_;
    connect_handler connecting_;
    io_handler reading_;
    std::span<std::uint8_t> read_buffer_;
};

test_peer::test_peer(server_address address, protocol_version version)
    : address_(std::move(address)), version_(version) {}

std::optional<packet> test_peer::receive() {
    auto r = decode(unread_, decode_options{version_});
    if (r.status == decode_status::error) malformed_ = true;
    if (r.status != decode_status::complete) return std::nullopt;
    unread_.erase(unread_.begin(), unread_.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    return std::move(r.packet);
}

void test_peer::send(std::span<const std::uint8_t> bytes) {
    if (bytes.empty() || broken_) return;
    to_client_.emplace_back(bytes.begin(), bytes.end());
    pump();
}

void test_peer::send(const packet& p) {
    const auto bytes = encode(p, version_);
    if (!bytes) {
        malformed_ = true;  // the test built a packet that does not encode
        return;
    }
    send(*bytes);
}

void test_peer::drop(std::error_code why) {
    if (broken_) return;
    broken_ = true;
    break_reason_ = why;
    pump();
}

void test_peer::drop_after_written(std::size_t n) { write_budget_ = n; }

void test_peer::release_writes() {
    writes_held_ = false;
    auto held = std::move(held_writes_);
    held_writes_.clear();
    for (auto& write : held)
        write();
}

void test_peer::pump() {
    if (auto end = client_end_.lock()) end->pump();
}

test_network::test_network(asio::io_context& io, protocol_version version)
    : state_(std::make_shared<shared_state>()) {
    state_->io = &io;
    state_->version = version;
}

transport_factory test_network::transports() {
    return [state = state_]() -> std::shared_ptr<transport> { return std::make_shared<test_stream>(state); };
}

std::shared_ptr<test_peer> test_network::last_peer() const {
    for (auto it = state_->attempts.rbegin(); it != state_->attempts.rend(); ++it) {
        if (it->peer) return it->peer;
    }
    return nullptr;
}

std::size_t test_network::accepted() const {
    return static_cast<std::size_t>(std::count_if(state_->attempts.begin(), state_->attempts.end(),
                                                  [](const attempt& a) { return a.peer != nullptr; }));
}

}  // namespace fieldbridge::mqtt::testing
