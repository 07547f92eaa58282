// transport: the byte stream under the MQTT client, one object per
// connection attempt. The client asks its transport_factory for a fresh one
// at every attempt, connects it, then reads and writes bytes; it never knows
// whether they go over TCP, TLS or, in tests, an in-memory peer.
//
// Contract, as for an Asio stream: every handler runs on the transport's
// executor, never inside the call that started the operation; at most one
// connect, one read and one write are pending at a time; close() ends the
// pending operations (their handlers still run, with an error) and is safe
// to call more than once. Not thread-safe: one thread, the client's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

#include "mqtt/server_address.hpp"

namespace fieldbridge::mqtt {

class transport {
public:
    // error empty: connected (and, over TLS, the handshake done). Otherwise
    // `context` says which step failed, for the log ("cannot resolve
    // broker.example", "TLS handshake failed (hostname mismatch: ...)").
    using connect_handler = std::function<void(std::error_code error, const std::string& context)>;
    using io_handler = std::function<void(std::error_code error, std::size_t bytes)>;

    virtual ~transport() = default;

    virtual void async_connect(const server_address& to, connect_handler done) = 0;
    // Some bytes into `buffer` (at least one unless error); the buffer must
    // outlive the operation.
    virtual void async_read_some(std::span<std::uint8_t> buffer, io_handler done) = 0;
    // All of `bytes`, or an error; the bytes must outlive the operation.
    virtual void async_write(std::span<const std::uint8_t> bytes, io_handler done) = 0;
    virtual void close() = 0;
};

// A new transport for each connection attempt.
using transport_factory = std::function<std::shared_ptr<transport>()>;

// What production uses: TLS (tls_transport) when tls.enabled, else plain TCP
// (tcp_transport), on `executor`.
transport_factory socket_transports(const boost::asio::any_io_executor& executor, const tls_options& tls);

}  // namespace fieldbridge::mqtt
