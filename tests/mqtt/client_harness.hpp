// What the client tests against a real broker share: running the
// io_context until a condition holds (with a deadline), client options for a
// test broker, an inbox for received messages, and a clean stop.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "mqtt/client.hpp"
#include "tests/support/mosquitto_broker.hpp"

namespace fieldbridge::mqtt {

namespace test_harness {
using namespace std::chrono_literals;
namespace asio = boost::asio;
using fieldbridge::testing::mosquitto_broker;

// Runs the io_context on this thread until pred holds or timeout passes.
template <class Predicate>
bool run_until(asio::io_context& io, Predicate pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.restart();
        io.run_for(10ms);
    }
    return true;
}

inline client_options options_for(const mosquitto_broker& b, std::string id) {
    client_options o;
    o.host = b.host();
    o.port = b.port();
    o.client_id = std::move(id);
    o.keepalive = 5s;
    o.reconnect_min = 50ms;
    o.reconnect_max = 500ms;
    o.connect_timeout = 5s;
    return o;
}

struct inbox {
    std::vector<message> messages;
    client::message_handler handler() {
        return [this](const message& m) { messages.push_back(m); };
    }
    std::size_t count(const std::string& topic) const {
        return static_cast<std::size_t>(
            std::count_if(messages.begin(), messages.end(), [&](const message& m) { return m.topic == topic; }));
    }
    // The payload of the newest message on topic ("" when none).
    std::string last(const std::string& topic) const {
        for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
            if (it->topic == topic) return it->payload;
        }
        return {};
    }
};

inline void stop_and_wait(asio::io_context& io, client& c) {
    bool stopped = false;
    c.stop([&] { stopped = true; });
    EXPECT_TRUE(run_until(io, [&] { return stopped; }, 10s));
}

}  // namespace test_harness
using namespace test_harness;

}  // namespace fieldbridge::mqtt
