#include "gateway/metrics_server.hpp"

#include <algorithm>
#include <chrono>
#include <list>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/accept_retry.hpp"
#include "gateway/metrics_report.hpp"

namespace fieldbridge::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct metrics_server::impl : std::enable_shared_from_this<metrics_server::impl> {
    struct connection;

    impl(const asio::any_io_executor& ex, std::string at, std::uint16_t on_port, report r,
         metrics_limits bounds)
        : acceptor(ex), retry(ex, "metrics endpoint"), address(std::move(at)), port(on_port),
          make_report(std::move(r)), limits(bounds) {}

    tcp::acceptor acceptor;
    accept_retry retry;
    std::string address;
    std::uint16_t port;
    report make_report;
    metrics_limits limits;
    bool stopped = false;
    std::list<std::weak_ptr<connection>> connections;
    std::size_t reports_held = 0;  // connections writing a report
    std::string last_report;
    std::optional<std::chrono::steady_clock::time_point> last_built;

    // The report, built at most once per min_report_interval: however many
    // clients scrape, the core thread builds no more than that.
    const std::string& report_now() {
        const auto now = std::chrono::steady_clock::now();
        if (!last_built || now - *last_built >= limits.min_report_interval) {
            last_report = make_report();
            last_built = now;
        }
        return last_report;
    }

    void accept();
    void forget_closed() {
        connections.remove_if([](const std::weak_ptr<connection>& c) { return c.expired(); });
    }
};

struct metrics_server::impl::connection : std::enable_shared_from_this<connection> {
    connection(std::shared_ptr<impl> owner, tcp::socket socket)
        : server(std::move(owner)), stream(std::move(socket)) {}

    std::shared_ptr<impl> server;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::empty_body>> parser;
    http::response<http::string_body> response;
    std::optional<http::response_serializer<http::string_body>> serializer;
    std::chrono::steady_clock::time_point written_by{};  // the whole answer, at min_bytes_per_second
    bool holds_report = false;

    ~connection() { release(); }

    // The report written (or not: the client went) is given back.
    void release() {
        if (!holds_report)
            return;
        holds_report = false;
        --server->reports_held;
        serializer.reset();
        response = {};
    }

    void read() {
        parser.emplace();
        parser->header_limit(static_cast<std::uint32_t>(server->limits.max_header_bytes));
        parser->body_limit(0);
        buffer.max_size(server->limits.max_header_bytes);
        stream.expires_after(server->limits.idle_timeout);
        http::async_read(stream, buffer, *parser,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec || self->server->stopped)
                                 return self->close();
                             self->answer(self->parser->release());
                         });
    }

    void answer(const http::request<http::empty_body>& request) {
        const std::string_view target(request.target().data(), request.target().size());
        const auto path = target.substr(0, target.find('?'));
        response = {};
        response.version(request.version());
        response.keep_alive(request.keep_alive());
        response.set(http::field::server, "fieldbridge");
        const bool get = request.method() == http::verb::get;
        const bool head = request.method() == http::verb::head;
        if (path != "/metrics") {
            response.result(http::status::not_found);
            response.set(http::field::content_type, "text/plain; charset=utf-8");
            response.body() = "not found: the metrics are at /metrics\n";
        } else if (!get && !head) {
            response.result(http::status::method_not_allowed);
            response.set(http::field::allow, "GET, HEAD");
            response.set(http::field::content_type, "text/plain; charset=utf-8");
            response.body() = "method not allowed: use GET\n";
        } else if (server->reports_held >= server->limits.max_reports_held) {
            response.result(http::status::service_unavailable);
            response.set(http::field::retry_after, "1");
            response.set(http::field::content_type, "text/plain; charset=utf-8");
            response.body() = "busy: other clients are still reading the metrics; try again\n";
        } else {
            response.result(http::status::ok);
            response.set(http::field::content_type, metrics_content_type);
            response.body() = server->report_now();
            if (get) {
                holds_report = true;
                ++server->reports_held;
            }
        }
        response.prepare_payload();
        if (head)
            std::string().swap(
                response.body());  // Content-Length stays that of the GET answer; the memory goes
        const auto& l = server->limits;
        const auto at_min_rate = response.body().size() * 1000 / std::max<std::size_t>(l.min_bytes_per_second, 1);
        written_by = std::chrono::steady_clock::now() + l.idle_timeout + std::chrono::milliseconds(at_min_rate);
        serializer.emplace(response);
        write();
    }

    // The answer a write at a time, each given idle_timeout: a client that
    // reads a large report slowly but steadily gets all of it, within the
    // time its size allows at min_bytes_per_second.
    void write() {
        stream.expires_at(std::min(std::chrono::steady_clock::now() + server->limits.idle_timeout, written_by));
        http::async_write_some(stream, *serializer, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec && !self->server->stopped && !self->serializer->is_done())
                return self->write();
            const bool keep_alive = self->response.keep_alive();
            self->serializer.reset();
            self->release();
            if (ec || self->server->stopped || !keep_alive)
                return self->close();
            self->read();
        });
    }

    void close() {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
    }
};

void metrics_server::impl::accept() {
    acceptor.async_accept(
        [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
            if (self->stopped || ec == asio::error::operation_aborted)
                return;
            if (ec) return self->retry.failed(ec, [self] { if (!self->stopped) self->accept(); });
            self->retry.succeeded();
            self->forget_closed();
            if (self->connections.size() >= self->limits.max_connections) {
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                auto c = std::make_shared<connection>(self, std::move(socket));
                self->connections.push_back(c);
                c->read();
            }
            self->accept();
        });
}

metrics_server::metrics_server(const asio::any_io_executor& executor, std::string address, std::uint16_t port,
                               report r, metrics_limits limits)
    : impl_(std::make_shared<impl>(executor, std::move(address), port, std::move(r), limits)) {}

metrics_server::~metrics_server() {
    stop();
}

result<void> metrics_server::start() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(impl_->address, ec);
    if (ec)
        return fail(std::make_error_code(std::errc::invalid_argument));
    const tcp::endpoint endpoint(address, impl_->port);
    auto& a = impl_->acceptor;
    if (a.open(endpoint.protocol(), ec); ec)
        return fail(std::error_code(ec.value(), std::generic_category()));
    a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (a.bind(endpoint, ec); !ec)
        a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        a.close(ignored);
        return fail(std::error_code(ec.value(), std::generic_category()));
    }
    impl_->accept();
    return {};
}

void metrics_server::stop() {
    impl_->stopped = true;
    impl_->retry.cancel();
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    for (auto& weak : impl_->connections) {
        if (auto c = weak.lock())
            c->close();
    }
    impl_->connections.clear();
}

std::uint16_t metrics_server::port() const {
    boost::system::error_code ec;
    const auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? impl_->port : endpoint.port();
}

}  // namespace fieldbridge::gateway
