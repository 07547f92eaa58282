#include "mqtt/tcp_transport.hpp"

#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace fieldbridge::mqtt {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::error_code to_std_error(const boost::system::error_code& ec) {
    return std::error_code(ec.value(), ec.category());
}

void connect_tcp(tcp::resolver& resolver, tcp::socket& socket, const server_address& to,
                 transport::connect_handler done) {
    resolver.async_resolve(
        to.host, std::to_string(to.port),
        [&socket, host = to.host, done = std::move(done)](const boost::system::error_code& ec,
                                                          const tcp::resolver::results_type& results) mutable {
            if (ec) return done(to_std_error(ec), "cannot resolve " + host);
            asio::async_connect(socket, results,
                                [&socket, done = std::move(done)](const boost::system::error_code& cec,
                                                                  const tcp::endpoint&) {
                                    if (cec) return done(to_std_error(cec), "");
                                    boost::system::error_code ignored;
                                    socket.set_option(tcp::no_delay(true), ignored);
                                    done({}, "");
                                });
        });
}

tcp_transport::tcp_transport(const asio::any_io_executor& executor) : resolver_(executor), socket_(executor) {}

tcp_transport::~tcp_transport() { close(); }

void tcp_transport::async_connect(const server_address& to, connect_handler done) {
    connect_tcp(resolver_, socket_, to,
                [self = shared_from_this(), done = std::move(done)](std::error_code ec, const std::string& context) {
                    done(ec, context);
                });
}

void tcp_transport::async_read_some(std::span<std::uint8_t> buffer, io_handler done) {
    socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                            [self = shared_from_this(), done = std::move(done)](const boost::system::error_code& ec,
                                                                                std::size_t n) {
                                done(to_std_error(ec), n);
                            });
}

void tcp_transport::async_write(std::span<const std::uint8_t> bytes, io_handler done) {
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [self = shared_from_this(), done = std::move(done)](const boost::system::error_code& ec,
                                                                          std::size_t n) { done(to_std_error(ec), n); });
}

void tcp_transport::close() {
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

}  // namespace fieldbridge::mqtt
