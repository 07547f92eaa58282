#include "drivers/modbus/tcp_stream_link.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/log_context.hpp"
#include "drivers/modbus/closed_by_peer.hpp"
#include "drivers/modbus/mbap.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/pdu.hpp"
#include "drivers/modbus/peer_closed.hpp"

namespace fieldbridge::modbus {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
constexpr auto with_error = asio::as_tuple(asio::use_awaitable);

// Why the deadline's wait won over a socket operation: its time came, or
// cancel() ended the exchange (the worker stops), which the worker must
// tell from a timeout: a write cut short may have reached the device.
std::error_code deadline_ended(const std::tuple<boost::system::error_code>& wait) {
    return std::get<0>(wait) == asio::error::operation_aborted ? make_error_code(modbus_errc::connection_failed)
                                                             : make_error_code(modbus_errc::timeout);
}

}  // namespace

tcp_stream_link::tcp_stream_link(std::string bus, config::tcp_link settings, const asio::any_io_executor& executor)
    : state_(std::move(bus)), settings_(std::move(settings)), socket_(executor), deadline_(executor) {}

asio::awaitable<std::string> tcp_stream_link::connect() {
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(settings_.host, ec);
    if (!ec) {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, settings_.port), settings_.host,
                                                        std::to_string(settings_.port));
    } else {
        tcp::resolver resolver(socket_.get_executor());
        auto [resolved, found] = co_await resolver.async_resolve(settings_.host, std::to_string(settings_.port),
                                                                  with_error);
        if (resolved) co_return "cannot resolve " + settings_.host + ": " + resolved.message();
        endpoints = std::move(found);
    }
    deadline_.expires_after(connect_timeout);
    auto outcome = co_await (asio::async_connect(socket_, endpoints, with_error) || deadline_.async_wait(with_error));
    if (outcome.index() == 1) {
        close();
        co_return "cannot connect: Connection timed out";
    }
    if (const auto failed = std::get<0>(std::get<0>(outcome))) {
        close();
        co_return "cannot connect: " + failed.message();
    }
    socket_.set_option(tcp::no_delay(true), ec);
    co_return std::string{};
}

asio::awaitable<std::error_code> tcp_stream_link::async_open(clock::time_point now) {
    if (socket_.is_open()) {
        if (!peer_closed(socket_.native_handle())) co_return std::error_code{};
        drop_closed_by_peer(now);
    }
    if (!state_.may_connect(now)) co_return make_error_code(modbus_errc::connection_failed);
    cancelled_ = false;  // a cancel() from here on ends what this open is for
    const auto context = current_log_context();
    const auto started = clock::now();
    const auto failure = co_await connect();
    current_log_context() = context;  // other links' lines may have been logged meanwhile
    if (!failure.empty()) {
        state_.connect_failed(now + (clock::now() - started), failure);
        co_return make_error_code(modbus_errc::connection_failed);
    }
    state_.connected(now);
    co_return std::error_code{};
}

void tcp_stream_link::drop_closed_by_peer(clock::time_point now) {
    state_.closed_by_peer(now);
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void tcp_stream_link::close() {
    state_.closing(socket_.is_open(), false);
    boost::system::error_code ignored;
    socket_.close(ignored);
}

// Single-master devices and devices that work only when the connection is
// closed after each cycle: the device's own connection goes.
void tcp_stream_link::release() {
    state_.closing(socket_.is_open(), true);
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void tcp_stream_link::cancel() {
    cancelled_ = true;
    deadline_.cancel();
    close();
}

asio::awaitable<std::error_code> tcp_stream_link::read(std::size_t size, std::chrono::milliseconds first_wait,
                                                       std::chrono::milliseconds next_wait) {
    const auto end = in_.size() + size;
    auto wait = first_wait;
    while (in_.size() < end) {
        const auto have = in_.size();
        in_.resize(end);
        deadline_.expires_after(wait);
        auto outcome = co_await (socket_.async_read_some(asio::buffer(in_.data() + have, end - have), with_error) ||
                                 deadline_.async_wait(with_error));
        if (outcome.index() == 1) {
            in_.resize(have);
            co_return deadline_ended(std::get<1>(outcome));
        }
        const auto [failed, got] = std::get<0>(outcome);
        in_.resize(have + got);
        if (failed) co_return make_error_code(modbus_errc::connection_failed);  // the peer closed, or a reset
        wait = next_wait;
    }
    co_return std::error_code{};
}

asio::awaitable<std::error_code> tcp_stream_link::transact(const request& r, reply& answer) {
    in_.clear();
    request_sent_ = false;
    const auto pdu = request_pdu(r);
    if (!pdu) co_return pdu.error();
    if (!socket_.is_open()) co_return make_error_code(modbus_errc::connection_failed);
    const auto transaction = ++transaction_;
    const auto adu = mbap_frame(transaction, r.unit, *pdu);
    deadline_.expires_after(r.timeout);
    auto sent = co_await (asio::async_write(socket_, asio::buffer(adu), with_error) || deadline_.async_wait(with_error));
    if (sent.index() == 1) {
        // Maybe in part: the device holds half a frame that the next
        // request's bytes would complete. The stream is out of step.
        request_sent_ = true;
        close();
        co_return deadline_ended(std::get<1>(sent));
    }
    const auto [send_failed, written] = std::get<0>(sent);
    request_sent_ = written > 0;
    if (send_failed) co_return make_error_code(modbus_errc::connection_failed);

    const auto give_up = clock::now() + r.timeout;
    while (true) {
        in_.clear();
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(give_up - clock::now());
        if (left.count() <= 0) co_return make_error_code(modbus_errc::timeout);
        if (const auto error = co_await read(mbap_header_size, left, r.byte_timeout)) {
            if (!in_.empty()) close();  // half a header: the stream is out of step
            co_return error;
        }
        const auto header =
            parse_mbap_header(std::span<const std::uint8_t, mbap_header_size>(in_.data(), mbap_header_size));
        if (header.frame_size == 0) {
            close();  // not an MBAP header: the framing is lost
            co_return make_error_code(modbus_errc::invalid_response);
        }
        if (const auto error = co_await read(header.frame_size - mbap_header_size, r.byte_timeout, r.byte_timeout)) {
            close();  // half an answer: the stream is out of step
            co_return error;
        }
        // Another transaction's answer, whole: the late answer to a request
        // that timed out. Dropped; this one's may follow it.
        if (header.transaction != transaction) continue;
        // A whole frame that does not fit (another unit, a wrong length):
        // that unit's fault; the stream is in step for the others.
        if (header.unit != r.unit) co_return make_error_code(modbus_errc::invalid_response);
        co_return parse_answer(r, std::span<const std::uint8_t>(in_).subspan(mbap_header_size), answer);
    }
}

// A connection opened for the request: the device hears nothing for
// `connect_pause` after it opened (the worker waits that out after its own
// opens). cancel() ends the wait.
asio::awaitable<std::error_code> tcp_stream_link::reopen(const request& r) {
    if (const auto error = co_await async_open(clock::now())) co_return error;
    // A cancel() during the open (a resolve it cannot end) ends it here.
    if (cancelled_ || !socket_.is_open()) co_return make_error_code(modbus_errc::connection_failed);
    const auto until = state_.ready_at(r.connect_pause);
    if (clock::now() >= until) co_return std::error_code{};
    deadline_.expires_at(until);
    const auto [waited] = co_await deadline_.async_wait(with_error);
    if (cancelled_ || waited == asio::error::operation_aborted || !socket_.is_open())
        co_return make_error_code(modbus_errc::connection_failed);
    co_return std::error_code{};
}

asio::awaitable<std::error_code> tcp_stream_link::async_exchange(const request& r, reply& answer) {
    const auto context = current_log_context();
    // Closed by the peer while idle, found before the request went out: it
    // goes on a new connection, a write as well as a read.
    if (socket_.is_open() && peer_closed(socket_.native_handle())) {
        drop_closed_by_peer(clock::now());
        const auto error = co_await reopen(r);
        current_log_context() = context;
        if (error) co_return error;
    }
    const bool answered_before = state_.answered_before();
    auto error = co_await transact(r, answer);
    // The peer closed the connection as the request went out (closed_by_peer
    // says what is sent again). A connection closed here by this side is a
    // stop's cancel, or a stream out of step: nothing is sent again.
    const closed_request met{.answered_before = answered_before,
                             .changes_device = changes_device(r),
                             .may_have_gone_out = request_sent_,
                             .answer_begun = !in_.empty()};
    if (error == make_error_code(modbus_errc::connection_failed) && socket_.is_open() && send_again(met)) {
        drop_closed_by_peer(clock::now());
        error = co_await reopen(r);
        if (!error) error = co_await transact(r, answer);
    }
    current_log_context() = context;
    if (state_.must_close_after(r.unit, error, clock::now())) close();  // a broken connection, or half-open
    co_return error;
}

}  // namespace fieldbridge::modbus
