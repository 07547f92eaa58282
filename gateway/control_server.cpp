#include <utility>

#include "gateway/control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "gateway/accept_retry.hpp"

namespace fieldbridge::gateway {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

struct control_server::impl : std::enable_shared_from_this<impl> {
    impl(const asio::any_io_executor& ex, std::filesystem::path p, control_limits l)
        : executor(ex), acceptor(ex), retry(ex, "control socket"), path(std::move(p)), limits(l) {}

    asio::any_io_executor executor;
    local::acceptor acceptor;
    accept_retry retry;
    std::filesystem::path path;
    control_limits limits;
    struct handler_entry {
        async_handler h;
        bool answers_later = false;  // added with add_async: may hold its connection while it works
    };
    std::map<std::string, handler_entry> handlers;
    // Connections whose handler works on an answer (a read or write waiting
    // for its bus); bounded like connections, whether their clients stay.
    std::size_t answers_waiting = 0;
    std::size_t open_connections = 0;
    std::uint64_t reply_timeouts = 0;  // clients closed for not reading their reply
    bool stopped = false;

    // One client, from accept to the reply's last byte. Counted in
    // open_connections for as long as anything (a pending read, a timer, a
    // handler's responder) holds it.
    struct connection {
        connection(std::shared_ptr<impl> s, local::socket sock)
            : server(std::move(s)),
              socket(std::move(sock)),
              buffer(server->limits.max_request_bytes),
              timer(server->executor) {
            ++server->open_connections;
        }
        ~connection() {
            done_waiting();
            leave();
        }
        connection(const connection&) = delete;
        connection& operator=(const connection&) = delete;

        // Gives the place back (once): when the connection ends, or when
        // its client went away while a handler still works on its answer.
        void leave() {
            if (!counted) return;
            counted = false;
            --server->open_connections;
        }

        std::shared_ptr<impl> server;
        local::socket socket;
        asio::streambuf buffer;
        asio::steady_timer timer;
        bool timed_out = false;
        bool replied = false;
        // Its handler answers no more (the answer went, or the handler dropped it).
        void done_waiting() {
            if (!waiting) return;
            waiting = false;
            --server->answers_waiting;
        }

        bool counted = true;
        bool waiting = false;  // counted in answers_waiting
        char probe = 0;  // a byte the client sends after its request (none is expected)
    };

    // A responder's hold on its connection. A handler may pass its responder
    // to another thread (a bus worker keeps a read's callback and drops it
    // there); the last hold gives the connection back to the core thread,
    // whose state (open_connections, the socket) it touches when it ends.
    struct hold {
        std::shared_ptr<connection> c;
        hold() = default;
        hold(const hold&) = delete;
        hold& operator=(const hold&) = delete;
        ~hold() {
            if (!c) return;
            const auto executor = c->server->executor;  // before c is moved from
            asio::post(executor, [last = std::move(c)] {});
        }
    };

    void accept() {
        acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, local::socket s) {
            if (self->stopped) return;
            if (ec) return self->retry.failed(ec, [self] { if (!self->stopped) self->accept(); });
            self->retry.succeeded();
            self->serve(std::move(s));
            self->accept();
        });
    }

    // Sends the reply (once) and closes the connection after it, or after
    // reply_timeout if the client has not taken it all by then: a reply
    // larger than the socket buffer waits for the client to read.
    static void send(const std::shared_ptr<connection>& c, const nlohmann::json& reply) {
        if (c->replied) return;
        c->replied = true;
        c->done_waiting();
        c->timer.expires_after(c->server->limits.reply_timeout);  // ends the request's wait, too
        c->timer.async_wait([c](const boost::system::error_code& ec) {
            if (ec) return;
            if (c->server->reply_timeouts++ == 0 || c->server->reply_timeouts % 100 == 0) {
                spdlog::warn("control socket: a client did not read its reply within {} ms; closed ({} so far)",
                             c->server->limits.reply_timeout.count(), c->server->reply_timeouts);
            }
            boost::system::error_code ignored;
            c->socket.close(ignored);  // the write ends with operation_aborted
        });
        auto text = std::make_shared<std::string>(control_line(reply));
        asio::async_write(c->socket, asio::buffer(*text), [c, text](const boost::system::error_code&, std::size_t) {
            c->timer.cancel();
            boost::system::error_code ignored;
            c->socket.shutdown(local::socket::shutdown_both, ignored);
            c->socket.close(ignored);
        });
    }

    void serve(local::socket s) {
        if (open_connections >= limits.max_connections) {
            // Refused with a reason rather than left hanging in the backlog;
            // the reply fits the socket buffer, so this write does not wait.
            const auto text = control_line(control_error("too many control connections (" +
                                                         std::to_string(limits.max_connections) + " open); try again"));
            boost::system::error_code ignored;
            asio::write(s, asio::buffer(text), ignored);
            s.shutdown(local::socket::shutdown_both, ignored);
            s.close(ignored);
            return;
        }
        auto c = std::make_shared<connection>(shared_from_this(), std::move(s));
        c->timer.expires_after(limits.request_timeout);
        c->timer.async_wait([c](const boost::system::error_code& ec) {
            if (ec || c->replied) return;
            c->timed_out = true;
            boost::system::error_code ignored;
            c->socket.cancel(ignored);  // the read ends with operation_aborted
        });
        asio::async_read_until(c->socket, c->buffer, '\n', [c](const boost::system::error_code& ec, std::size_t n) {
            if (c->timed_out) {
                return send(c, control_error("no request within " +
                                             std::to_string(c->server->limits.request_timeout.count()) + " ms"));
            }
            if (ec == asio::error::not_found) {
                return send(c, control_error("request longer than " +
                                             std::to_string(c->server->limits.max_request_bytes) + " bytes"));
            }
            if (ec) {
                // The client went away: the timer must not keep its place taken.
                c->timer.cancel();
                return;
            }
            c->timer.cancel();  // the request is in: its wait is over
            const std::string line(asio::buffers_begin(c->buffer.data()),
                                   asio::buffers_begin(c->buffer.data()) + static_cast<std::ptrdiff_t>(n));
            c->server->answer(line, c);
        });
    }

    void answer(const std::string& line, const std::shared_ptr<connection>& c) {
        auto parsed = parse_control_request(line);
        if (auto* refusal = std::get_if<nlohmann::json>(&parsed)) return send(c, *refusal);
        auto& call = std::get<control_call>(parsed);
        const auto it = handlers.find(call.command);
        if (it == handlers.end()) return send(c, control_error("unknown command '" + call.command + "'"));
        if (it->second.answers_later && answers_waiting >= limits.max_connections) {
            return send(c, control_error(std::to_string(answers_waiting) +
                                         " control reads and writes already wait for their buses; try again"));
        }
        auto held = std::make_shared<hold>();
        held->c = c;
        try {
            it->second.h(call.request, [held, command = call.command](nlohmann::json answer) {
                send(held->c, control_answer(command, std::move(answer)));
            });
        } catch (const std::exception& e) {
            send(c, control_error(call.command + " failed: " + e.what()));
        }
        if (!c->replied) {
            c->waiting = true;
            ++answers_waiting;
            watch_for_leaving(c);
        }
    }

    // A handler that answers later (a read or write waits for its bus,
    // timeout × (1 + retries) for a device that does not answer) holds the
    // connection until then. A client that closes meanwhile gives its place
    // back at once: otherwise clients that ask and leave could keep
    // `fieldbridge status` out for as long as the bus takes.
    static void watch_for_leaving(const std::shared_ptr<connection>& c) {
        c->socket.async_read_some(asio::buffer(&c->probe, 1), [c](const boost::system::error_code& ec, std::size_t) {
            if (c->replied) return;  // answered meanwhile: the reply closes the connection
            // More bytes than a request (not a close), or a cancel: the answer ends it.
            if (!ec || ec == asio::error::operation_aborted) return;
            // The end of its requests: closed, or only shut for writing (it
            // still reads its answer). A Unix socket whose peer closed both
            // ways says POLLHUP.
            pollfd p{c->socket.native_handle(), POLLOUT, 0};
            if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLHUP | POLLERR)) == 0) return;
            c->leave();
            boost::system::error_code ignored;
            c->socket.close(ignored);
        });
    }
};

control_server::control_server(const asio::any_io_executor& executor, std::filesystem::path socket_path,
                               control_limits limits)
    : impl_(std::make_shared<impl>(executor, socket_path, limits)), path_(std::move(socket_path)) {}

control_server::~control_server() { stop(); }

void control_server::add(std::string command, handler h) {
    impl_->handlers[std::move(command)] = {
        [h = std::move(h)](const nlohmann::json& request, const responder& respond) { respond(h(request)); }, false};
}

void control_server::add_async(std::string command, async_handler h) {
    impl_->handlers[std::move(command)] = {std::move(h), true};
}

result<void> control_server::start() {
    std::error_code fs_error;
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), fs_error);
    // A socket file left by a process that died is in the way; a live one is not ours to take.
    if (std::filesystem::is_socket(path_, fs_error)) {
        if (control_request(path_, {{"version", control_protocol_version}, {"command", "ping"}},
                            std::chrono::milliseconds(500))) {
            return fail(std::make_error_code(std::errc::address_in_use));
        }
        std::filesystem::remove(path_, fs_error);
    }
    boost::system::error_code ec;
    impl_->acceptor.open(local(), ec);
    if (!ec) impl_->acceptor.bind(local::endpoint(path_.string()), ec);
    if (!ec) impl_->acceptor.listen(16, ec);
    if (ec) return fail(std::error_code(ec.value(), std::generic_category()));
    ::chmod(path_.c_str(), 0660);
    add("ping", [](const nlohmann::json&) { return nlohmann::json("pong"); });
    impl_->accept();
    return {};
}

void control_server::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->retry.cancel();
    boost::system::error_code ignored;
    if (impl_->acceptor.is_open()) {
        impl_->acceptor.close(ignored);
        std::error_code fs_error;
        std::filesystem::remove(path_, fs_error);
    }
}

std::filesystem::path control_socket_path(const config::control_settings& c) {
    if (!c.socket.empty()) return c.socket;
    const char* runtime = std::getenv("RUNTIME_DIRECTORY");
    std::string dir = runtime ? std::string(runtime) : std::string("/run/fieldbridge");
    if (const auto colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
    return std::filesystem::path(dir) / "control.sock";
}

std::filesystem::path control_client_socket_path(const config::control_settings& c) {
    if (!c.socket.empty()) return c.socket;
    return std::filesystem::path("/run/fieldbridge") / "control.sock";
}

result<nlohmann::json> control_request(const std::filesystem::path& socket_path, const nlohmann::json& request,
                                       std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::error_code(errno, std::generic_category()));
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto p = socket_path.string();
    if (p.size() >= sizeof addr.sun_path) return fail(std::make_error_code(std::errc::filename_too_long));
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        return fail(std::error_code(errno, std::generic_category()));
    }
    const auto text = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
        return fail(std::error_code(errno, std::generic_category()));
    }
    std::string reply;
    char chunk[16384];
    for (bool whole = false; !whole;) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(std::error_code(errno == EAGAIN ? ETIMEDOUT : errno, std::generic_category()));
        }
        whole = std::memchr(chunk, '\n', static_cast<std::size_t>(n)) != nullptr;  // only the new bytes
        reply.append(chunk, static_cast<std::size_t>(n));
    }
    auto json = nlohmann::json::parse(reply, nullptr, false);
    if (json.is_discarded()) return fail(std::make_error_code(std::errc::bad_message));
    return json;
}

}  // namespace fieldbridge::gateway
