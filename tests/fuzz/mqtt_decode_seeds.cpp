// Writes the MQTT decoder's seed corpus: one well-formed stream per packet
// kind and version, and one stream of every packet arriving in pieces.
// Usage: mqtt_decode_seeds DIR   (tests/fuzz/corpus/mqtt_decode holds its output)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/properties.hpp"

namespace {

namespace fs = std::filesystem;
using namespace fieldbridge::mqtt;

std::vector<std::pair<std::string, packet>> seed_packets(protocol_version v) {
    const bool v5 = v == protocol_version::v5;
    properties pub_props;
    properties ack_props;
    properties connack_props;
    if (v5) {
        pub_props = {{prop::topic_alias, std::uint32_t{3}},
                     {prop::response_topic, std::string("r/1")},
                     {prop::correlation_data, std::vector<std::uint8_t>{1, 2, 3}},
                     {prop::user_property, std::pair<std::string, std::string>{"k", "v"}},
                     {prop::subscription_identifier, std::uint32_t{300}}};
        ack_props = {{prop::reason_string, std::string("no")}};
        connack_props = {{prop::receive_maximum, std::uint32_t{10}},
                         {prop::maximum_packet_size, std::uint32_t{1000}},
                         {prop::topic_alias_maximum, std::uint32_t{5}},
                         {prop::server_keep_alive, std::uint32_t{20}},
                         {prop::assigned_client_identifier, std::string("a")}};
    }
    const std::uint8_t refuse = v5 ? 0x87 : 0;
    return {
        {"connack", connack{true, 0, connack_props}},
        {"connack-refused", connack{false, static_cast<std::uint8_t>(v5 ? 0x86 : 4), {}}},
        {"publish-qos0", publish{"a/b", "payload", qos::at_most_once, false, false, 0, {}}},
        {"publish-qos1", publish{"a/b", "x", qos::at_least_once, true, true, 7, pub_props}},
        {"publish-qos2", publish{"t", std::string(300, 'z'), qos::exactly_once, false, false, 65535, {}}},
        {"puback", puback{1, refuse, ack_props}},
        {"pubrec", pubrec{2, 0, {}}},
        {"pubrel", pubrel{3, 0, {}}},
        {"pubcomp", pubcomp{4, 0, {}}},
        {"suback", suback{5, {0, 1, 2, 0x80}, ack_props}},
        {"unsuback", unsuback{6, v5 ? std::vector<std::uint8_t>{0, 0x11} : std::vector<std::uint8_t>{}, {}}},
        {"pingresp", pingresp{}},
        {"disconnect", disconnect{static_cast<std::uint8_t>(v5 ? 0x8B : 0), ack_props}},
        {"connect", connect{v, "gw", false, 30, will_message{"w", "offline", qos::at_least_once, true, {}}, "u", "p",
                            {}}},
        {"subscribe", subscribe{8, {subscription{"a/#", qos::exactly_once}}, {}}},
        {"auth", auth{0x18, {}}},
    };
}

int write_seeds(const fs::path& dir) {
    fs::create_directories(dir);
    int n = 0;
    for (const auto v : {protocol_version::v3_1_1, protocol_version::v5}) {
        const bool v5 = v == protocol_version::v5;
        std::vector<std::uint8_t> all;
        for (const auto& [name, p] : seed_packets(v)) {
            const auto bytes = encode(p, v);
            if (!bytes) continue;  // AUTH in 3.1.1
            all.insert(all.end(), bytes->begin(), bytes->end());
            std::ofstream f(dir / ((v5 ? "v5-" : "v311-") + name), std::ios::binary);
            const std::uint8_t head[2] = {static_cast<std::uint8_t>(v5 ? 1 : 0), 0xFF};
            f.write(reinterpret_cast<const char*>(head), 2);
            f.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
            ++n;
        }
        // Everything in one stream, arriving three bytes at a time.
        std::ofstream f(dir / (v5 ? "v5-stream" : "v311-stream"), std::ios::binary);
        const std::uint8_t head[2] = {static_cast<std::uint8_t>(v5 ? 1 : 0), 2};
        f.write(reinterpret_cast<const char*>(head), 2);
        f.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size()));
        ++n;
    }
    std::printf("%d seed(s) written to %s\n", n, dir.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: mqtt_decode_seeds DIR\n");
        return 2;
    }
    return write_seeds(argv[1]);
}
