// A primary host application's STATE, as an edge node configured to wait
// for it follows it (Sparkplug 3.0: spBv1.0/STATE/<host_id>, a retained
// JSON payload {"online":true|false,"timestamp":<ms>}): the node is born
// only while the host is online, publishes NDEATH and disconnects when it
// goes offline [tck-id-message-flow-edge-node-birth-publish-phid-wait].
// A STATE older than the last one seen is stale and ignored; after the link
// is lost the host is unknown (offline) until the broker delivers its
// retained STATE again. Pure; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fieldbridge::sparkplug {

class primary_host {
public:
    explicit primary_host(std::string host_id);

    std::string topic() const;

    enum class change : std::uint8_t { none, online, offline };
    struct verdict {
        change what = change::none;
        std::string error;  // the payload is not a STATE (nothing changes)
    };
    // A message on topic().
    verdict receive(std::string_view payload);

    void link_lost() { online_ = false; }
    bool online() const { return online_; }
    const std::string& id() const { return id_; }

private:
    std::string id_;
    bool online_ = false;
    std::optional<std::uint64_t> last_timestamp_;
};

}  // namespace fieldbridge::sparkplug
