// tls_transport: the client's bytes over TLS (OpenSSL through Boost.Asio's
// ssl::stream) on a TCP connection: TLS 1.2 at least, the broker's
// certificate checked against the CA file (or the system trust store) and,
// unless turned off, against the host name, which also goes out as SNI.
// A refused certificate is reported with its cause (untrusted, or issued
// for another name). The TLS context is built from the files at every
// attempt, so renewed certificates are picked up on reconnect. Thread rules
// of transport.hpp.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "mqtt/transport.hpp"

namespace fieldbridge::mqtt {

// Why the files of `options` cannot make a TLS context (a CA, certificate
// or key file missing, unreadable or not PEM; a key that is not the
// certificate's), naming the option ("ca_file: ..."); nullopt when they
// can. What a connection attempt would find, found before the first one.
std::optional<std::string> tls_files_error(const tls_options& options);

class tls_transport final : public transport, public std::enable_shared_from_this<tls_transport> {
public:
    tls_transport(const boost::asio::any_io_executor& executor, tls_options options);
    ~tls_transport() override;
    tls_transport(const tls_transport&) = delete;
    tls_transport& operator=(const tls_transport&) = delete;

    void async_connect(const server_address& to, connect_handler done) override;
    void async_read_some(std::span<std::uint8_t> buffer, io_handler done) override;
    void async_write(std::span<const std::uint8_t> bytes, io_handler done) override;
    void close() override;

private:
    void handshake(const std::string& host, connect_handler done);

    boost::asio::any_io_executor executor_;
    tls_options options_;
    boost::asio::ip::tcp::resolver resolver_;
    // Built in async_connect (it reads the certificate files); the stream
    // needs the context first.
    std::optional<boost::asio::ssl::context> context_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
    std::string failure_;  // why the certificate check refused the broker's certificate
};

}  // namespace fieldbridge::mqtt
