// fake_link: a link backend whose answers a test scripts, for driving the
// bus worker through faults no real peer produces on demand (a connection
// that drops in the middle of a request, every request timing out). It
// answers at once: no socket, no waiting.
//
// Thread-safety: the worker's thread uses the link; the test configures and
// inspects the shared fake_peer from its own thread (under its mutex).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::modbus {

struct fake_peer {
    // Answers one request: fills the reply of a read, returns the outcome.
    // The default answers every read with zeros.
    using responder = std::function<std::error_code(const request&, reply&)>;

    void respond_with(responder r) {
        std::lock_guard lock(mutex);
        respond = std::move(r);
    }
    std::vector<request> requests() {
        std::lock_guard lock(mutex);
        return asked;
    }
    int opened() {
        std::lock_guard lock(mutex);
        return opens;
    }
    int released() {
        std::lock_guard lock(mutex);
        return releases;
    }

    std::mutex mutex;
    responder respond = [](const request& r, reply& answer) {
        answer.registers.assign(r.count, 0);
        answer.bits.assign(r.count, 0);
        return std::error_code{};
    };
    std::vector<request> asked;
    int opens = 0;
    int releases = 0;
};

class fake_link final : public blocking_link {
public:
    explicit fake_link(std::shared_ptr<fake_peer> peer) : peer_(std::move(peer)) {}

    // A factory for bus_worker: every link it makes talks to `peer`.
    static auto factory(std::shared_ptr<fake_peer> peer) {
        return [peer](const config::bus&, const boost::asio::any_io_executor&) -> std::unique_ptr<link> {
            return std::make_unique<fake_link>(peer);
        };
    }

    std::error_code open(clock::time_point /*now*/) override {
        if (open_) return {};
        std::lock_guard lock(peer_->mutex);
        ++peer_->opens;
        if (ever_) ++reconnects_;
        ever_ = true;
        open_ = true;
        return {};
    }
    bool connected() const override { return open_; }
    void close() override { open_ = false; }
    void release() override {
        std::lock_guard lock(peer_->mutex);
        ++peer_->releases;
    }
    std::uint64_t reconnects() const override { return reconnects_; }
    clock::time_point ready_at(std::chrono::milliseconds /*connect_pause*/) const override { return {}; }
    std::error_code exchange(const request& r, reply& answer) override {
        if (!open_) return make_error_code(modbus_errc::connection_failed);
        std::error_code error;
        {
            std::lock_guard lock(peer_->mutex);
            peer_->asked.push_back(r);
            error = peer_->respond(r, answer);
        }
        // A connection that broke in the middle of the request is gone.
        if (error == make_error_code(modbus_errc::connection_failed)) open_ = false;
        return error;
    }

private:
    std::shared_ptr<fake_peer> peer_;
    bool open_ = false;
    bool ever_ = false;
    std::uint64_t reconnects_ = 0;
};

}  // namespace fieldbridge::modbus
