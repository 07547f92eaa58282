// peer_closed: whether the far end of a TCP connection closed (or reset) it
// while it was idle, seen before a request goes out. Many PLCs and Modbus
// TCP gateways close a connection after an idle timeout; a request sent on
// it would be lost, so the backend opens a new one first
// (tcp_stream_link). Looks without reading: bytes waiting on the socket stay.
// Thread-safe (a system call on a descriptor the caller owns).
#pragma once

namespace fieldbridge::modbus {

// True when the peer closed or reset the connected TCP socket `socket`.
bool peer_closed(int socket);

}  // namespace fieldbridge::modbus
