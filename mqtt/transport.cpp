#include "mqtt/transport.hpp"

#include "mqtt/tcp_transport.hpp"
#include "mqtt/tls_transport.hpp"

namespace fieldbridge::mqtt {

transport_factory socket_transports(const boost::asio::any_io_executor& executor, const tls_options& tls) {
    if (tls.enabled) {
        return [executor, tls]() -> std::shared_ptr<transport> { return std::make_shared<tls_transport>(executor, tls); };
    }
    return [executor]() -> std::shared_ptr<transport> { return std::make_shared<tcp_transport>(executor); };
}

}  // namespace fieldbridge::mqtt
