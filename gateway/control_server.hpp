// The local control socket: a Unix stream socket (mode 0660) on which the
// running service answers small, versioned JSON requests, one per line:
//   {"version":1,"command":"status"}  →  {"version":1,"ok":true,"status":{...}}
// (the answer is under the command's name; control_protocol.hpp).
// Unknown commands, malformed JSON, oversized requests, a client that has
// not sent its request in time and a connection beyond the limit get
// {"version":1,"ok":false,"error":"..."} and are closed (control_limits);
// a client that does not read its reply in time is closed.
// Runs on the core io_context; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "config/model.hpp"
#include "gateway/control_protocol.hpp"

namespace fieldbridge::gateway {

// What one local client may take of the core thread: the socket is open to
// the service's group, and a stuck or hostile client must not hold the
// service's memory or descriptors.
struct control_limits {
    std::size_t max_request_bytes = 64 * 1024;  // the request line, '\n' included
    std::size_t max_connections = 16;           // open at once; more are refused
    std::chrono::milliseconds request_timeout{5000};  // from accept to the request's '\n'
    // From the reply's first byte to its last: a client that does not read
    // its reply is closed after it, so that clients which never read cannot
    // hold every place for longer than request_timeout + reply_timeout (plus
    // the time a handler takes to answer, while its client stays connected:
    // one that leaves gives its place back at once).
    std::chrono::milliseconds reply_timeout{5000};
};

class control_server {
public:
    // command name → JSON answer (the "status" object, for instance).
    using handler = std::function<nlohmann::json(const nlohmann::json& request)>;
    // For answers that take time (a read from a device): the handler calls
    // respond exactly once, on the server's executor, when it has the answer.
    using responder = std::function<void(nlohmann::json answer)>;
    using async_handler = std::function<void(const nlohmann::json& request, responder respond)>;

    control_server(const boost::asio::any_io_executor& executor, std::filesystem::path socket_path,
                   control_limits limits = {});
    ~control_server();
    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;

    void add(std::string command, handler h);
    // At most max_connections answers of such handlers wait at once (one
    // more is refused, "try again"), whether their clients stay connected:
    // a client that closes gives its connection back at once, not the work
    // it asked for (a read queued on a bus).
    void add_async(std::string command, async_handler h);
    // Binds (replacing a stale socket file) and accepts; the error says why not.
    result<void> start();
    void stop();

    const std::filesystem::path& path() const { return path_; }

private:
    struct impl;
    std::shared_ptr<impl> impl_;
    std::filesystem::path path_;
};

// Where the service listens: control.socket, else $RUNTIME_DIRECTORY/control.sock
// under systemd, else /run/fieldbridge/control.sock.
std::filesystem::path control_socket_path(const config::control_settings& c);

// Where a client (the CLI) looks for it: control.socket, else
// /run/fieldbridge/control.sock, where the packaged unit has it. Not the
// client's own $RUNTIME_DIRECTORY: that of another unit running the CLI
// (a monitoring job) names that unit's directory.
std::filesystem::path control_client_socket_path(const config::control_settings& c);

// The client side, for `fieldbridge status`: sends one request and returns
// the parsed answer; blocking, with a timeout.
result<nlohmann::json> control_request(const std::filesystem::path& socket_path, const nlohmann::json& request,
                                       std::chrono::milliseconds timeout);

}  // namespace fieldbridge::gateway
