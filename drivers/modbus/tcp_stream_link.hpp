// tcp_stream_link: Modbus TCP to one host:port, framed here (mbap.hpp,
// pdu.hpp) on an Asio socket, so that its waits do not block the thread:
// the links of many buses share one poll thread (bus_worker, poll_thread);
// driven_link asks it through blocking calls. The connection is opened on first use and
// reopened after it broke, with the reopen back-off (open_attempts); a
// half-open connection (tcp_answers) is reopened, a unit that does not
// answer or answers what does not fit leaves it to the others, and a
// connection the peer closed while idle is opened again quietly. An answer
// with another transaction id (the late answer to a timed-out request) is
// dropped whole and the wait goes on; only a lost framing (not an MBAP
// header, a frame cut short) closes the connection. The answer's first
// byte is awaited for the request's timeout, each further read for its
// byte_timeout.
//
// Thread-safety: one thread (the poll thread's) uses a link.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/model.hpp"
#include "drivers/modbus/link.hpp"
#include "drivers/modbus/tcp_answers.hpp"
#include "drivers/modbus/tcp_link_state.hpp"

namespace fieldbridge::modbus {

class tcp_stream_link final : public link {
public:
    tcp_stream_link(std::string bus, config::tcp_link settings, const boost::asio::any_io_executor& executor);
    ~tcp_stream_link() override { close(); }

    boost::asio::awaitable<std::error_code> async_open(clock::time_point now) override;
    bool connected() const override { return socket_.is_open(); }
    void close() override;
    void release() override;
    std::uint64_t reconnects() const override { return state_.reconnects(); }
    clock::time_point ready_at(std::chrono::milliseconds connect_pause) const override {
        return state_.ready_at(connect_pause);
    }
    boost::asio::awaitable<std::error_code> async_exchange(const request& r, reply& answer) override;
    bool shares_thread() const override { return true; }
    void cancel() override;

    static constexpr int half_open_after = tcp_answers::half_open_after;
    // How long a connection attempt may take.
    static constexpr std::chrono::milliseconds connect_timeout{1000};

private:
    // Connects to host:port; empty, or why not in words.
    boost::asio::awaitable<std::string> connect();
    // Reads exactly `size` more bytes into in_ (the first within
    // `first_wait`, each further read within `next_wait`).
    boost::asio::awaitable<std::error_code> read(std::size_t size, std::chrono::milliseconds first_wait,
                                                 std::chrono::milliseconds next_wait);
    boost::asio::awaitable<std::error_code> transact(const request& r, reply& answer);
    boost::asio::awaitable<std::error_code> reopen(const request& r);
    void drop_closed_by_peer(clock::time_point now);

    tcp_link_state state_;
    config::tcp_link settings_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer deadline_;
    std::uint16_t transaction_ = 0;
    std::vector<std::uint8_t> in_;  // the answer read so far
    bool request_sent_ = false;     // the last transact() wrote some of its request
    bool cancelled_ = false;        // cancel() was called since the last open began
};

}  // namespace fieldbridge::modbus
