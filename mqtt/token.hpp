// Who a publish token belongs to. The client completes every message with
// the token it was published with; a caller that keeps its own ledger
// (the forwarder: store ids) uses tokens below client_token_base, and the
// client numbers its own publishes (those given a completion handler) from
// there up, so that both live in one session without clashing.
#pragma once

#include <cstdint>

namespace fieldbridge::mqtt {

inline constexpr std::uint64_t client_token_base = std::uint64_t{1} << 62;

// A token the caller chose, not one the client gave its own publish.
constexpr bool caller_token(std::uint64_t token) noexcept { return token < client_token_base; }

}  // namespace fieldbridge::mqtt
