#include "gateway/store_options.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fieldbridge::gateway {

store::options store_options_from(const config::store_settings& s) {
    store::options o;
    o.path = s.path;
    if (o.path.empty()) {
        // systemd's StateDirectory=, else the packaged default.
        const char* state = std::getenv("STATE_DIRECTORY");
        std::string dir = state ? std::string(state) : std::string("/var/lib/fieldbridge");
        if (const auto colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
        o.path = std::filesystem::path(dir) / "queue.db";
    }
    o.durability =
        s.durability == config::store_durability::full ? store::durability::full : store::durability::normal;
    o.limits.max_rows = s.max_messages;
    o.limits.max_bytes = s.max_megabytes * 1024 * 1024;
    o.limits.max_age = s.max_age;
    o.cache_kib = s.cache_kib;
    switch (s.drop) {
        case config::drop_policy::oldest:
            o.policy = store::drop_policy::drop_oldest;
            break;
        case config::drop_policy::qos0_first:
            o.policy = store::drop_policy::drop_qos0_first;
            break;
        case config::drop_policy::refuse_new:
            o.policy = store::drop_policy::refuse_new;
            break;
    }
    return o;
}

}  // namespace fieldbridge::gateway
