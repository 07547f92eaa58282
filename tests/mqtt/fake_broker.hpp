// A scripted MQTT broker on a real loopback socket, for what a real broker
// will not do on demand: drop the link right after a given packet, answer
// Session Present = 0 to a client that expects its session, announce a
// Receive Maximum of 1, send malformed bytes or a DISCONNECT with a reason.
// The test's script runs on its own thread with blocking calls and
// deadlines; the client under test runs on the test's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"

namespace fieldbridge::mqtt::testing {

// One accepted client connection. Not thread-safe: the script owns it.
class fake_connection {
public:
    fake_connection(int fd, protocol_version version);
    ~fake_connection();
    fake_connection(const fake_connection&) = delete;
    fake_connection& operator=(const fake_connection&) = delete;

    // The next packet from the client, or nullopt when none came in time,
    // the client closed the link, or its bytes were not a packet.
    std::optional<packet> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The next packet that is not a PINGREQ (answered with PINGRESP).
    std::optional<packet> receive_skipping_pings(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    void send(const packet& p);
    void send_bytes(std::span<const std::uint8_t> bytes);
    // True when the client closed its end within the timeout (anything it
    // sent first is read and dropped).
    bool closed_by_client(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Closes our end at once: the link drops as after a crash or a cut.
    void drop();

private:
    int fd_;
    protocol_version version_;
    std::vector<std::uint8_t> rx_;
};

class fake_broker {
public:
    explicit fake_broker(protocol_version version = protocol_version::v3_1_1);
    ~fake_broker();
    fake_broker(const fake_broker&) = delete;
    fake_broker& operator=(const fake_broker&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    // The next client connection; nullptr when none came in time.
    std::unique_ptr<fake_connection> accept(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // accept(), then the CONNECT (returned through `connect`), answered with
    // `answer`; nullptr when any step failed.
    std::unique_ptr<fake_connection> accept_session(const connack& answer, connect* connect_out = nullptr,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
    protocol_version version_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace fieldbridge::mqtt::testing
