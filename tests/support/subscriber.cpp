#include "tests/support/subscriber.hpp"

#include <unistd.h>

#include <atomic>
#include <sstream>

#include "tests/support/wait.hpp"

namespace fieldbridge::testing {
namespace {

std::string generated_client_id() {
    static std::atomic<unsigned> next{0};
    return "test-sub-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

std::vector<std::string> argv_for(const mosquitto_broker& broker, const std::string& filter, const std::string& id,
                                  bool persistent, bool mqtt5) {
    std::vector<std::string> argv{"mosquitto_sub", "-h", broker.host(), "-p", std::to_string(broker.port()),
                                  "-q", "2", "-i", id, "-F", mqtt5 ? "%t %q %r {%P} %p" : "%t %q %r %p", "-t", filter};
    if (persistent) argv.push_back("-c");
    if (mqtt5) {
        // The largest Receive Maximum: mosquitto 2.0.11, releasing a burst of
        // QoS 2 messages, can send a subscriber more than the 20 in flight
        // libmosquitto allows by default, and mosquitto_sub then quits with
        // "A network protocol error occurred" and misses the rest.
        for (const auto* a : {"-V", "mqttv5", "--retain-as-published", "-D", "connect", "receive-maximum", "65535"}) {
            argv.emplace_back(a);
        }
    }
    return argv;
}

}  // namespace

subscriber::subscriber(const mosquitto_broker& broker, const std::string& filter)
    : subscriber(broker, filter, options{}) {}

subscriber::subscriber(const mosquitto_broker& broker, const std::string& filter, const options& o)
    : broker_(broker),
      client_id_(o.client_id.empty() ? generated_client_id() : o.client_id),
      mqtt5_(o.mqtt5),
      process_(argv_for(broker, filter, client_id_, !o.client_id.empty(), o.mqtt5)) {}

bool subscriber::wait_subscribed(std::chrono::milliseconds timeout) const {
    const auto line = "Received SUBSCRIBE from " + client_id_ + "\n";
    return wait_until([&] { return broker_.log().find(line) != std::string::npos; }, timeout);
}

std::vector<received> subscriber::messages() const {
    std::vector<received> out;
    std::istringstream lines(process_.output());
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        received r;
        int retain = 0;
        if (!(fields >> r.topic >> r.qos >> retain)) continue;
        r.retain = retain != 0;
        std::getline(fields >> std::ws, r.payload);
        if (mqtt5_ && r.payload.starts_with("{")) {
            const auto close = r.payload.find("} ");
            if (close == std::string::npos) continue;
            r.user_properties = r.payload.substr(1, close - 1);
            r.payload.erase(0, close + 2);
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<received> subscriber::find(const std::string& topic,
                                         const std::function<bool(const nlohmann::json&)>& pred) const {
    auto all = messages();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->topic != topic) continue;
        const auto j = nlohmann::json::parse(it->payload, nullptr, false);
        if (j.is_discarded()) continue;
        if (!pred || pred(j)) return *it;
    }
    return std::nullopt;
}

std::size_t subscriber::count(const std::string& topic) const {
    std::size_t n = 0;
    for (const auto& m : messages()) n += m.topic == topic ? 1u : 0u;
    return n;
}

}  // namespace fieldbridge::testing
