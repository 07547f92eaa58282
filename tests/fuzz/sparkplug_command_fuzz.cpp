// libFuzzer target for what a Sparkplug host sends an edge node: NCMD and
// DCMD payloads (protobuf from the network). Input: byte 0 picks the topic
// (the NCMD, a device's DCMD, an unknown device's DCMD), the rest is the
// payload. Checked, beyond "no crash, no sanitizer report":
//  - decode gives a payload or a reason, and a payload encodes and decodes
//    back to itself once its text is clean;
//  - a command is a rebirth, writes and refusals: every write names a
//    writable metric of the device of the topic, with a value; nothing of
//    the payload is dropped without a refusal (writes + refusals cover
//    every metric of a DCMD).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sparkplug/edge_node.hpp"
#include "sparkplug/payload_codec.hpp"
#include "tests/fuzz/fuzz_input.hpp"

using namespace fieldbridge;
using fieldbridge::fuzzing::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const sparkplug::edge_node node(
        sparkplug::edge_node_settings{"g", "e"},
        {sparkplug::device_definition{"d1",
                                      {sparkplug::metric_definition{"a", sparkplug::data_type::float32, "V", false},
                                       sparkplug::metric_definition{"b", sparkplug::data_type::boolean, "", true}}},
         sparkplug::device_definition{"d2", {sparkplug::metric_definition{"c", sparkplug::data_type::int16, "", true}}}});
    fuzzing::fuzz_input in(data, size);
    const auto which = in.byte() % 3;
    const std::string topic = which == 0   ? node.topic(sparkplug::message_type::ncmd)
                              : which == 1 ? node.topic(sparkplug::message_type::dcmd, 1)
                                           : node.topic(sparkplug::message_type::dcmd) + "/nobody";
    const std::string payload(reinterpret_cast<const char*>(data) + (size > 0 ? 1 : 0), size > 0 ? size - 1 : 0);

    const auto decoded = sparkplug::decode(payload);
    if (const auto* p = std::get_if<sparkplug::payload>(&decoded)) {
        const auto again = sparkplug::decode(sparkplug::encode(*p));
        check(std::holds_alternative<sparkplug::payload>(again), "an encoded payload decodes");
        const auto& q = std::get<sparkplug::payload>(again);
        const auto third = sparkplug::decode(sparkplug::encode(q));
        // Compared as bytes: a NaN value is not equal to itself.
        check(std::holds_alternative<sparkplug::payload>(third) &&
                  sparkplug::encode(std::get<sparkplug::payload>(third)) == sparkplug::encode(q),
              "a clean payload round-trips");
    } else {
        check(!std::get<sparkplug::decode_error>(decoded).why.empty(), "a refusal has a reason");
    }

    const auto command = node.command(topic, payload);
    check(command.has_value(), "a command topic of this node is taken");
    for (const auto& w : command->writes) {
        check(which == 1 && w.device == 1, "writes go to the device of the topic");
        check(node.device(w.device).metrics.at(w.metric).writable, "only writable metrics are written");
        check(!std::holds_alternative<sparkplug::null_value>(w.value), "a write has a value");
    }
    if (which == 1 && std::holds_alternative<sparkplug::payload>(decoded)) {
        check(command->writes.size() + command->refused.size() == std::get<sparkplug::payload>(decoded).metrics.size(),
              "every metric of a DCMD is written or refused");
    }
    return 0;
}
