#include "drivers/modbus/peer_closed.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace fieldbridge::modbus {

bool peer_closed(int socket) {
    if (socket < 0) return false;
    pollfd p{socket, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    // The peer's FIN (RDHUP), a reset (ERR) or both directions shut (HUP).
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return true;
    if ((p.revents & POLLIN) == 0) return false;
    char next = 0;
    const auto n = ::recv(socket, &next, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace fieldbridge::modbus
