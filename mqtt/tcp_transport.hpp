// tcp_transport: the client's bytes over a plain TCP connection (resolve,
// connect to the first address that answers, TCP_NODELAY). connect_tcp()
// is the same first step for the TLS transport. Thread rules of transport.hpp.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "mqtt/transport.hpp"

namespace fieldbridge::mqtt {

std::error_code to_std_error(const boost::system::error_code& ec);

// Resolves `to` and connects `socket` to the first of its addresses that
// answers. `resolver` and `socket` must outlive the operation (done holds
// their owner).
void connect_tcp(boost::asio::ip::tcp::resolver& resolver, boost::asio::ip::tcp::socket& socket,
                 const server_address& to, transport::connect_handler done);

class tcp_transport final : public transport, public std::enable_shared_from_this<tcp_transport> {
public:
    explicit tcp_transport(const boost::asio::any_io_executor& executor);
    ~tcp_transport() override;
    tcp_transport(const tcp_transport&) = delete;
    tcp_transport& operator=(const tcp_transport&) = delete;

    void async_connect(const server_address& to, connect_handler done) override;
    void async_read_some(std::span<std::uint8_t> buffer, io_handler done) override;
    void async_write(std::span<const std::uint8_t> bytes, io_handler done) override;
    void close() override;

private:
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::ip::tcp::socket socket_;
};

}  // namespace fieldbridge::mqtt
