// Authentication against a real mosquitto: mutual TLS (the broker requires a
// client certificate signed by its CA) and user name + password (a
// password_file made with mosquitto_passwd), refused and accepted, for both
// protocol versions. Server verification and hostname checks are in
// client_test.cpp.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "mqtt/client.hpp"
#include "mqtt/tls_transport.hpp"
#include "tests/mqtt/client_harness.hpp"
#include "tests/support/mosquitto_broker.hpp"

namespace fieldbridge::mqtt {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using fieldbridge::testing::mosquitto_broker;

class client_auth : public ::testing::TestWithParam<protocol_version> {
protected:
    client_options options(const mosquitto_broker& b, const std::string& id) const {
        auto o = options_for(b, id);
        o.version = GetParam();
        return o;
    }
    // The first refusal the client records, or "" if it connected.
    static std::string refusal(asio::io_context& io, client& c) {
        c.start();
        const bool done = run_until(
            io, [&] { return c.state() == link_state::connected || !c.stats().last_error.empty(); }, 10s);
        EXPECT_TRUE(done) << "neither connected nor refused within 10 s";
        return c.state() == link_state::connected ? std::string() : c.stats().last_error;
    }
};

TEST_P(client_auth, a_client_certificate_is_required_and_one_signed_by_the_ca_is_accepted) {
    mosquitto_broker::options bo;
    bo.tls = true;
    bo.extra_config = "require_certificate true\n";
    mosquitto_broker broker(bo);
    asio::io_context io;

    auto o = options(broker, "mtls-none");
    o.host = "localhost";
    o.tls.enabled = true;
    o.tls.ca_file = broker.ca_file().string();
    {
        client anonymous(io.get_executor(), o);
        const auto why = refusal(io, anonymous);
        EXPECT_FALSE(why.empty()) << "connected without a client certificate";
        stop_and_wait(io, anonymous);
    }

    o.client_id = "mtls-cert";
    o.tls.cert_file = (broker.dir() / "client.crt").string();
    o.tls.key_file = (broker.dir() / "client.key").string();
    client with_cert(io.get_executor(), o);
    bool acked = false;
    with_cert.publish(message{"mtls/x", "1", qos::at_least_once, false}, [&](std::error_code ec) { acked = !ec; });
    EXPECT_EQ(refusal(io, with_cert), "");
    ASSERT_TRUE(run_until(io, [&] { return acked; }, 10s)) << broker.log();
    stop_and_wait(io, with_cert);
}

// The files a TLS connection needs, checked before the first attempt
// (`check`, `run` and a reload refuse what this refuses): each file missing,
// not PEM, or a key of another certificate is named; the broker's own set
// passes.
TEST(tls_files, what_a_connection_would_refuse_is_named_before_the_first_attempt) {
    mosquitto_broker::options bo;
    bo.tls = true;
    mosquitto_broker broker(bo);
    const auto file = [&](const char* name) { return (broker.dir() / name).string(); };
    tls_options good;
    good.enabled = true;
    good.ca_file = broker.ca_file().string();
    good.cert_file = file("client.crt");
    good.key_file = file("client.key");
    EXPECT_EQ(tls_files_error(good), std::nullopt);
    EXPECT_EQ(tls_files_error(tls_options{true, "", "", "", true}), std::nullopt) << "the system trust store";

    const auto garbage = file("garbage.pem");
    std::ofstream(garbage) << "not a certificate\n";
    const auto expect_named = [&](tls_options o, const std::string& start) {
        const auto why = tls_files_error(o);
        ASSERT_TRUE(why.has_value()) << start;
        EXPECT_EQ(why->rfind(start, 0), 0u) << *why;
    };
    auto o = good;
    o.ca_file = file("missing-ca.crt");
    expect_named(o, "ca_file: \"" + o.ca_file + "\" cannot be used: ");
    o = good;
    o.ca_file = garbage;
    expect_named(o, "ca_file: \"" + garbage + "\" cannot be used: ");
    o = good;
    o.cert_file = garbage;
    expect_named(o, "cert_file: ");
    o = good;
    o.key_file = file("missing.key");
    expect_named(o, "key_file: ");
    o = good;
    o.key_file = file("server.key");  // the key of another certificate
    expect_named(o, "key_file: \"" + o.key_file + "\" cannot be used: key values mismatch");
}

TEST_P(client_auth, a_wrong_password_is_refused_with_the_brokers_reason_and_the_right_one_accepted) {
    const auto dir = fs::temp_directory_path() / ("fieldbridge-auth-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const auto passwords = dir / "passwords";
    const auto cmd = "mosquitto_passwd -b -c " + passwords.string() + " plant secret-1 >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    mosquitto_broker::options bo;
    bo.extra_config = "allow_anonymous false\npassword_file " + passwords.string() + "\n";
    mosquitto_broker broker(bo);
    asio::io_context io;

    auto o = options(broker, "auth-wrong");
    o.username = "plant";
    o.password = "not-the-password";
    {
        client wrong(io.get_executor(), o);
        const auto why = refusal(io, wrong);
        // 3.1.1: return code 4 (or 5); 5.0: reason 0x86 (or 0x87).
        EXPECT_TRUE(why.find("bad user name or password") != std::string::npos ||
                    why.find("not authorized") != std::string::npos)
            << why;
        stop_and_wait(io, wrong);
    }
    {
        auto anonymous = o;
        anonymous.client_id = "auth-anonymous";
        anonymous.username.clear();
        anonymous.password.clear();
        client none(io.get_executor(), anonymous);
        EXPECT_NE(refusal(io, none), "");
        stop_and_wait(io, none);
    }

    o.client_id = "auth-right";
    o.password = "secret-1";
    client right(io.get_executor(), o);
    bool acked = false;
    right.publish(message{"auth/x", "1", qos::exactly_once, false}, [&](std::error_code ec) { acked = !ec; });
    EXPECT_EQ(refusal(io, right), "");
    ASSERT_TRUE(run_until(io, [&] { return acked; }, 10s)) << broker.log();
    stop_and_wait(io, right);
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(both_versions, client_auth,
                         ::testing::Values(protocol_version::v3_1_1, protocol_version::v5),
                         [](const auto& p) { return p.param == protocol_version::v5 ? "v5" : "v3_1_1"; });

}  // namespace
}  // namespace fieldbridge::mqtt
