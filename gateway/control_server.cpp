#include <utility>

#include "gateway/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace fieldbridge::gateway {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t max_request = 64 * 1024;

nlohmann::json error_reply(const std::string& why) {
    return {{"version", control_protocol_version}, {"ok", false}, {"error", why}};
}

}  // namespace

struct control_server::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, std::filesystem::path p) : executor(ex), acceptor(ex), path(std::move(p)) {}

    asio::any_io_executor executor;
    local::acceptor acceptor;
    std::filesystem::path path;
    std::map<std::string, async_handler> handlers;
    bool stopped = false;

    void accept() {
        acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, local::socket s) {
            if (self->stopped) return;
            if (!ec) self->serve(std::make_shared<local::socket>(std::move(s)));
            self->accept();
        });
    }

    void serve(std::shared_ptr<local::socket> s) {
        auto buffer = std::make_shared<asio::streambuf>(max_request);
        auto timer = std::make_shared<asio::steady_timer>(executor, std::chrono::seconds(5));
        timer->async_wait([s](const boost::system::error_code& ec) {
            if (!ec) {
                boost::system::error_code ignored;
                s->close(ignored);
            }
        });
        asio::async_read_until(
            *s, *buffer, '\n',
            [self = shared_from_this(), s, buffer, timer](const boost::system::error_code& ec, std::size_t n) {
                timer->cancel();
                const auto send = [s](const nlohmann::json& reply) {
                    auto text = std::make_shared<std::string>(reply.dump() + "\n");
                    asio::async_write(*s, asio::buffer(*text), [s, text](const boost::system::error_code&, std::size_t) {
                        boost::system::error_code ignored;
                        s->shutdown(local::socket::shutdown_both, ignored);
                        s->close(ignored);
                    });
                };
                if (ec == asio::error::not_found) return send(error_reply("request longer than 64 KiB"));
                if (ec) return;  // the client went away (or timed out)
                std::string line(asio::buffers_begin(buffer->data()),
                                 asio::buffers_begin(buffer->data()) + static_cast<std::ptrdiff_t>(n));
                self->answer(line, send);
            });
    }

    void answer(const std::string& line, const std::function<void(const nlohmann::json&)>& send) {
        const auto request = nlohmann::json::parse(line, nullptr, false);
        if (request.is_discarded() || !request.is_object()) return send(error_reply("the request is not a JSON object"));
        if (!request.contains("command") || !request["command"].is_string()) {
            return send(error_reply("the request has no \"command\""));
        }
        const auto& version = request.contains("version") ? request["version"] : nlohmann::json(control_protocol_version);
        if (version != control_protocol_version) {
            return send(error_reply("protocol version " + version.dump() + " is not supported; this is version " +
                                    std::to_string(control_protocol_version)));
        }
        const auto command = request["command"].get<std::string>();
        const auto it = handlers.find(command);
        if (it == handlers.end()) return send(error_reply("unknown command '" + command + "'"));
        try {
            it->second(request, [send, command](nlohmann::json answer) {
                nlohmann::json reply = {{"version", control_protocol_version}, {"ok", true}};
                reply[command] = std::move(answer);
                send(reply);
            });
        } catch (const std::exception& e) {
            send(error_reply(command + " failed: " + e.what()));
        }
    }
};

control_server::control_server(asio::any_io_executor executor, std::filesystem::path socket_path)
    : impl_(std::make_shared<impl>(executor, socket_path)), path_(std::move(socket_path)) {}

control_server::~control_server() { stop(); }

void control_server::add(std::string command, handler h) {
    add_async(std::move(command), [h = std::move(h)](const nlohmann::json& request, responder respond) {
        respond(h(request));
    });
}

void control_server::add_async(std::string command, async_handler h) {
    impl_->handlers[std::move(command)] = std::move(h);
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
    const auto text = request.dump() + "\n";
    if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
        return fail(std::error_code(errno, std::generic_category()));
    }
    std::string reply;
    char chunk[4096];
    while (reply.find('\n') == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(std::error_code(errno == EAGAIN ? ETIMEDOUT : errno, std::generic_category()));
        }
        reply.append(chunk, static_cast<std::size_t>(n));
    }
    auto json = nlohmann::json::parse(reply, nullptr, false);
    if (json.is_discarded()) return fail(std::make_error_code(std::errc::bad_message));
    return json;
}

}  // namespace fieldbridge::gateway
