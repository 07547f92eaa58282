// A Sparkplug host application for the tests: subscribes to a group's
// namespace on a real broker with the project's MQTT client (payloads are
// binary), feeds every message to a host_view that checks the
// specification's rules, and sends NCMD/DCMD. Runs on the io_context the
// test drives.
#pragma once

#include <string>

#include "mqtt/client.hpp"
#include "sparkplug/payload_codec.hpp"
#include "tests/sparkplug/host_view.hpp"

namespace fieldbridge::sparkplug::testing {

class host_simulator {
public:
    host_simulator(const boost::asio::any_io_executor& ex, mqtt::client_options options, const std::string& group)
        : client_(ex, std::move(options)) {
        client_.subscribe(std::string(namespace_v1) + "/" + group + "/#", mqtt::qos::at_least_once,
                          [this](const mqtt::message& m) {
                              // NCMD/DCMD are the host's own: not part of the node's session.
                              if (m.topic.find("/NCMD/") != std::string::npos ||
                                  m.topic.find("/DCMD/") != std::string::npos) {
                                  return;
                              }
                              view_.receive(m.topic, m.payload);
                          });
    }

    void start() { client_.start(); }
    void stop(std::function<void()> done) { client_.stop(std::move(done)); }
    mqtt::client& client() { return client_; }

    // The Will the node registers, as the host would learn it from the
    // NDEATH it later receives; given here so the view can match bdSeq.
    void node_connects_with(const std::string& will_payload) { view_.will_registered(will_payload); }

    void send(const std::string& topic, const payload& p) {
        client_.publish(mqtt::message{topic, encode(p), mqtt::qos::at_most_once, false});
    }

    const host_view& view() const { return view_; }

private:
    mqtt::client client_;
    host_view view_;
};

}  // namespace fieldbridge::sparkplug::testing
