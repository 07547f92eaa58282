// The rule behind mqtt::check_outgoing_topic and check_outgoing_string,
// checked against the real
// broker: mosquitto closes the connection over every code point
// is_refused_code_point() names, in a PUBLISH topic, a SUBSCRIBE filter, the
// client id and the user name, and takes every other code point. The
// packets are built by hand here, since the client's codec refuses to build
// what this test sends.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/reserved_topic.hpp"
#include "common/utf8.hpp"
#include "mqtt/error.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/utf8_text.hpp"

namespace fieldbridge {
namespace {

using namespace std::chrono_literals;

using testing::utf8_of;

bool is_scalar_value(std::uint32_t code) { return code != 0 && (code < 0xD800 || code > 0xDFFF) && code <= 0x10FFFF; }

// ---- MQTT 3.1.1 packets, by hand ----

void put_u16(std::string& out, std::size_t v) {
    out += static_cast<char>((v >> 8) & 0xFF);
    out += static_cast<char>(v & 0xFF);
}

void put_string(std::string& out, const std::string& s) {
    put_u16(out, s.size());
    out += s;
}

std::string framed(std::uint8_t first, const std::string& body) {
    std::string out(1, static_cast<char>(first));
    std::size_t n = body.size();
    do {
        auto digit = static_cast<std::uint8_t>(n & 0x7F);
        n >>= 7;
        if (n > 0) digit |= 0x80;
        out += static_cast<char>(digit);
    } while (n > 0);
    return out + body;
}

std::string connect_packet(const std::string& client_id, const std::optional<std::string>& username,
                           bool v5 = false) {
    std::string body;
    put_string(body, "MQTT");
    body += static_cast<char>(v5 ? 5 : 4);
    body += static_cast<char>(0x02 | (username ? 0x80 : 0));
    put_u16(body, 60);
    if (v5) body += static_cast<char>(0);  // no properties
    put_string(body, client_id);
    if (username) put_string(body, *username);
    return framed(0x10, body);
}

std::string publish_packet(const std::string& topic, std::uint16_t packet_id, bool v5 = false) {
    std::string body;
    put_string(body, topic);
    if (packet_id != 0) put_u16(body, packet_id);
    if (v5) body += static_cast<char>(0);  // no properties
    body += "x";
    return framed(packet_id != 0 ? 0x32 : 0x30, body);
}

std::string subscribe_packet(const std::string& filter, std::uint16_t packet_id) {
    std::string body;
    put_u16(body, packet_id);
    put_string(body, filter);
    body += static_cast<char>(0);
    return framed(0x82, body);
}

// One TCP connection to the broker, with deadlines on every wait.
class raw_connection {
public:
    explicit raw_connection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    }
    ~raw_connection() { ::close(fd_); }
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    bool connected() const { return connected_; }

    bool send(const std::string& bytes) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n <= 0) return false;
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Reads until `want` bytes arrived (true), the broker closed the
    // connection or the deadline passed (false; closed() tells which).
    bool read(std::size_t want, std::chrono::milliseconds deadline) {
        const auto until = std::chrono::steady_clock::now() + deadline;
        while (received_.size() < want) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                return false;
            }
            received_.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

    bool closed() const { return closed_; }
    const std::string& received() const { return received_; }
    void clear() { received_.clear(); }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
    std::string received_;
};

// A connection the broker accepted (CONNACK 0), or nullptr.
std::unique_ptr<raw_connection> accepted(const testing::mosquitto_broker& broker, const std::string& client_id,
                                         const std::optional<std::string>& username = std::nullopt, bool v5 = false) {
    auto c = std::make_unique<raw_connection>(broker.port());
    if (!c->connected() || !c->send(connect_packet(client_id, username, v5))) return nullptr;
    // 3.1.1: 20 02 00 00; 5.0: 20 LL 00 00 and properties.
    if (!c->read(2, 5s) || c->received()[0] != '\x20') return nullptr;
    const auto size = 2 + static_cast<std::size_t>(static_cast<unsigned char>(c->received()[1]));
    if (!c->read(size, 5s) || c->received()[3] != '\x00') return nullptr;
    c->clear();
    return c;
}

// Whether the broker closes a connection over `packet` (true) or answers
// it with `answer_size` bytes (false); a failure when it does neither.
bool closes_over(const testing::mosquitto_broker& broker, const std::string& packet, std::size_t answer_size,
                 const std::string& what) {
    auto c = accepted(broker, "code-points");
    EXPECT_NE(c, nullptr) << what;
    if (!c) return false;
    EXPECT_TRUE(c->send(packet)) << what;
    if (c->read(answer_size, 5s)) return false;
    EXPECT_TRUE(c->closed()) << what << ": neither an answer nor a closed connection within 5 s";
    return c->closed();
}

std::string hex(std::uint32_t code) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(code));
    return buf;
}

std::vector<std::uint32_t> refused_code_points() {
    std::vector<std::uint32_t> out;
    for (std::uint32_t c = 1; c <= 0x10FFFF; ++c) {
        if (is_scalar_value(c) && is_refused_code_point(c)) out.push_back(c);
    }
    return out;
}

TEST(broker_code_points, the_refused_code_points_are_the_control_characters_and_non_characters) {
    const auto refused = refused_code_points();
    // 31 + 33 control characters, 32 + 34 non-characters.
    EXPECT_EQ(refused.size(), 130u);
    for (const auto c : refused) {
        EXPECT_EQ(mqtt::check_outgoing_topic("a/" + utf8_of(c)), mqtt::mqtt_errc::refused_character) << hex(c);
        EXPECT_EQ(mqtt::check_outgoing_string("id" + utf8_of(c)), mqtt::mqtt_errc::refused_character) << hex(c);
    }
    for (const std::uint32_t c : {0x20u, 0x7Eu, 0xA0u, 0xFDCFu, 0xFDF0u, 0xFFFDu, 0x10000u, 0x10FFFDu}) {
        EXPECT_FALSE(mqtt::check_outgoing_topic("a/" + utf8_of(c))) << hex(c);
    }
}

TEST(broker_code_points, mosquitto_closes_the_connection_over_each_refused_code_point_in_a_topic) {
    testing::mosquitto_broker broker;
    for (const auto c : refused_code_points()) {
        EXPECT_TRUE(closes_over(broker, publish_packet("t/" + utf8_of(c) + "/x", 1), 4, "PUBLISH " + hex(c)))
            << "mosquitto acknowledged a topic holding " << hex(c);
    }
}

TEST(broker_code_points, mosquitto_takes_every_other_code_point_of_the_basic_plane_and_samples_of_the_others) {
    testing::mosquitto_broker broker;
    auto c = accepted(broker, "code-points");
    ASSERT_NE(c, nullptr);
    std::string burst;
    std::size_t sent = 0;
    std::uint32_t last = 0;
    const auto take = [&](std::uint32_t code) {
        // (+ and # are wildcards, no part of a topic name: check_topic_name.)
        if (!is_scalar_value(code) || is_refused_code_point(code) || code == '+' || code == '#') return;
        burst += publish_packet("t/" + utf8_of(code) + "/x", 0);
        ++sent;
        last = code;
    };
    for (std::uint32_t code = 1; code < 0x10000; ++code) take(code);
    for (std::uint32_t plane = 1; plane <= 16; ++plane) {
        for (std::uint32_t low = 0; low < 0x10000; low += 0x101) take((plane << 16) | low);
        take((plane << 16) | 0xFFFD);
    }
    ASSERT_TRUE(c->send(burst));
    // The QoS 0 burst, then one QoS 1 message: its PUBACK comes only from
    // a broker that did not close the connection over any of them.
    ASSERT_TRUE(c->send(publish_packet("t/last", 7)));
    EXPECT_TRUE(c->read(4, 30s)) << "after " << sent << " topics up to " << hex(last)
                                 << (c->closed() ? ": the broker closed the connection" : ": no PUBACK within 30 s");
    EXPECT_EQ(c->received().substr(0, 4), std::string("\x40\x02\x00\x07", 4));
}

TEST(broker_code_points, mosquitto_refuses_them_in_a_filter_a_client_id_and_a_user_name) {
    testing::mosquitto_broker broker;
    for (const std::uint32_t code : {0x01u, 0x09u, 0x1Fu, 0x7Fu, 0x85u, 0x9Fu, 0xFDD0u, 0xFFFFu, 0x10FFFEu}) {
        EXPECT_TRUE(closes_over(broker, subscribe_packet("t/" + utf8_of(code) + "/#", 1), 5, "SUBSCRIBE " + hex(code)));
        EXPECT_EQ(accepted(broker, "id" + utf8_of(code)), nullptr) << "client id with " << hex(code);
        EXPECT_EQ(accepted(broker, "code-points", "user" + utf8_of(code)), nullptr) << "user name with " << hex(code);
    }
    // Their neighbours are taken.
    EXPECT_FALSE(closes_over(broker, subscribe_packet("t/\xC2\xA0/#", 1), 5, "SUBSCRIBE U+00A0"));
    EXPECT_NE(accepted(broker, "id\xC2\xA0"), nullptr);
    EXPECT_NE(accepted(broker, "code-points", "user\xEF\xBF\xBD"), nullptr);
}

// reserved_topic_prefix (common/reserved_topic.hpp) against the broker: at
// 5.0 mosquitto answers a QoS 1 PUBLISH to a topic that begins with $SYS or
// $share with 0x87 Not authorized (at 3.1.1 it acknowledges and drops it),
// and takes other topics that begin with '$'.
TEST(broker_code_points, mosquitto_keeps_sys_and_share_topics_from_clients) {
    testing::mosquitto_broker broker;
    auto c = accepted(broker, "reserved", std::nullopt, true);
    ASSERT_NE(c, nullptr);
    std::uint16_t id = 0;
    for (const auto* topic : {"$SYS/x", "$SYS", "$SYSTEM/x", "$share/g/x", "$shared", "$aws/things/x", "$sys/x", "$shar/x",
                                "a/$SYS", "$", "$/x"}) {
        ++id;
        ASSERT_TRUE(c->send(publish_packet(topic, id, true)));
        // PUBACK at 5.0: 40 02 id (reason 0), or 40 03 id reason.
        ASSERT_TRUE(c->read(4, 5s)) << topic;
        const auto size = 2 + static_cast<std::size_t>(static_cast<unsigned char>(c->received()[1]));
        ASSERT_TRUE(c->read(size, 5s)) << topic;
        const auto reason = size > 4 ? static_cast<unsigned char>(c->received()[4]) : 0;
        const bool refused = reason >= 0x80;
        EXPECT_EQ(refused, !reserved_topic_prefix(topic).empty()) << topic << ": reason " << static_cast<int>(reason);
        c->clear();
    }
}

}  // namespace
}  // namespace fieldbridge
