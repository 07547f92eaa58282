// What a failed subscription or unsubscription is called in the log: which
// filters, and why (the broker's reason code for each it refused, or why it
// was never sent).
// Pure.
#pragma once

#include <string>
#include <vector>

#include "mqtt/error.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/session.hpp"

namespace fieldbridge::mqtt {

// For a completion with an error: "the broker refused the subscription to
// 'a/#' (0x80), 'b/#' (0x80)" (3.1.1: one code for every refusal) or
// "... 'a/#' (0x87 not authorized)" (5.0: the reason code and its name), or
// "cannot subscribe to 'a/#', 'b/#': why". At most `listed` filters (at
// least one) are named, each cut at 128 bytes (its length named), then "and N more".
std::string subscription_failure(const action::subscribe_completed& c, protocol_version version,
                                 std::size_t listed = 5);

// For a 5.0 UNSUBACK that refused filters: "the broker refused to
// unsubscribe from 'a/#' (0x87 not authorized); ...", listed as above.
std::string unsubscribe_failure(const action::unsubscribe_refused& r, std::size_t listed = 5);

}  // namespace fieldbridge::mqtt
