// The store settings a configuration asks for, as the message store takes
// them. Pure apart from reading STATE_DIRECTORY for the default path.
#pragma once

#include "config/model.hpp"
#include "gateway/store/message_store.hpp"

namespace fieldbridge::gateway {

// An empty store.path is queue.db in systemd's StateDirectory= (the first
// one when several are given), else in /var/lib/fieldbridge.
store::options store_options_from(const config::store_settings& s);

}  // namespace fieldbridge::gateway
