#include "mqtt/tls_transport.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "mqtt/tcp_transport.hpp"

namespace fieldbridge::mqtt {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Loads the trust store and the files `o` names into c, in the order a
// connection needs them, each through run(option, file, load): a
// connection runs them (load() throws boost::system::system_error), the
// check before start catches what they throw.
template <class Run>
void load_files(ssl::context& c, const tls_options& o, Run&& run) {
    if (o.ca_file.empty()) {
        run("ca_file", o.ca_file, [&] { c.set_default_verify_paths(); });
    } else {
        run("ca_file", o.ca_file, [&] { c.load_verify_file(o.ca_file); });
    }
    if (!o.cert_file.empty()) run("cert_file", o.cert_file, [&] { c.use_certificate_chain_file(o.cert_file); });
    if (!o.key_file.empty()) {
        // OpenSSL refuses a key that is not the certificate's: "key values mismatch".
        run("key_file", o.key_file, [&] { c.use_private_key_file(o.key_file, ssl::context::pem); });
    }
}

// Throws boost::system::system_error when a file cannot be used.
void configure(ssl::context& c, const tls_options& o) {
    c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION);
    load_files(c, o, [](const char*, const std::string&, const auto& load) { load(); });
    c.set_verify_mode(ssl::verify_peer);
}

// OpenSSL's reason for the failure, or what() when the code has no text.
std::string openssl_reason(const boost::system::system_error& e) {
    std::string what = e.code().message();
    return what.empty() ? std::string(e.what()) : what;
}

}  // namespace

std::optional<std::string> tls_files_error(const tls_options& o) {
    ssl::context c(ssl::context::tls_client);
    std::optional<std::string> why;
    load_files(c, o, [&](const char* option, const std::string& file, const auto& load) {
        if (why) return;  // the first failure is the one to fix
        try {
            load();
        } catch (const boost::system::system_error& e) {
            const std::string what = file.empty() ? std::string("the system trust store") : "\"" + file + "\"";
            why = std::string(option) + ": " + what + " cannot be used: " + openssl_reason(e);
        }
    });
    return why;
}

tls_transport::tls_transport(const asio::any_io_executor& executor, tls_options options)
    : executor_(executor), options_(std::move(options)), resolver_(executor) {}

tls_transport::~tls_transport() { close(); }

void tls_transport::async_connect(const server_address& to, connect_handler done) {
    try {
        context_.emplace(ssl::context::tls_client);
        configure(*context_, options_);
    } catch (const boost::system::system_error& e) {
        context_.reset();
        asio::post(executor_, [done = std::move(done), code = to_std_error(e.code()), what = std::string(e.what())] {
            done(code, "TLS setup failed: " + what);
        });
        return;
    }
    stream_.emplace(executor_, *context_);
    connect_tcp(resolver_, stream_->next_layer(), to,
                [self = shared_from_this(), host = to.host, done = std::move(done)](
                    std::error_code ec, const std::string& context) mutable {
                    if (ec) return done(ec, context);
                    self->handshake(host, std::move(done));
                });
}

void tls_transport::handshake(const std::string& host, connect_handler done) {
    // SNI, and the name the certificate must carry.
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
    SSL_ctrl(stream_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
    // OpenSSL reports every refused certificate as "certificate verify
    // failed"; the callback keeps the cause so that the log tells an
    // untrusted certificate from one issued for another name. It runs only
    // during the handshake, whose handler holds this transport.
    failure_.clear();
    stream_->set_verify_callback([this, check = ssl::host_name_verification(host), host,
                                  verify_name = options_.verify_hostname](bool preverified,
                                                                          ssl::verify_context& ctx) mutable {
        if (!preverified) {
            const int err = X509_STORE_CTX_get_error(ctx.native_handle());
            if (failure_.empty()) failure_ = std::string("untrusted certificate: ") + X509_verify_cert_error_string(err);
            return false;
        }
        if (!verify_name || check(preverified, ctx)) return true;
        failure_ = "hostname mismatch: the broker's certificate is not issued for " + host;
        return false;
    });
    stream_->async_handshake(ssl::stream_base::client, [self = shared_from_this(), done = std::move(done)](
                                                           const boost::system::error_code& ec) {
        if (!ec) return done({}, "");
        done(to_std_error(ec),
             self->failure_.empty() ? "TLS handshake failed" : "TLS handshake failed (" + self->failure_ + ")");
    });
}

void tls_transport::async_read_some(std::span<std::uint8_t> buffer, io_handler done) {
    stream_->async_read_some(asio::buffer(buffer.data(), buffer.size()),
                             [self = shared_from_this(), done = std::move(done)](const boost::system::error_code& ec,
                                                                                 std::size_t n) {
                                 done(to_std_error(ec), n);
                             });
}

void tls_transport::async_write(std::span<const std::uint8_t> bytes, io_handler done) {
    asio::async_write(*stream_, asio::buffer(bytes.data(), bytes.size()),
                      [self = shared_from_this(), done = std::move(done)](const boost::system::error_code& ec,
                                                                          std::size_t n) { done(to_std_error(ec), n); });
}

void tls_transport::close() {
    resolver_.cancel();
    if (!stream_) return;
    boost::system::error_code ignored;
    auto& socket = stream_->next_layer();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

}  // namespace fieldbridge::mqtt
