#include "drivers/modbus/link.hpp"

#include <variant>

#include "drivers/modbus/driven_link.hpp"
#include "drivers/modbus/rtu_link.hpp"
#include "drivers/modbus/rtu_over_tcp_link.hpp"
#include "drivers/modbus/tcp_stream_link.hpp"

namespace fieldbridge::modbus {

std::unique_ptr<blocking_link> make_link(const config::bus& bus) {
    if (const auto* serial = std::get_if<config::rtu_link>(&bus.link)) {
        return std::make_unique<rtu_link>(bus.name, *serial);
    }
    const auto& tcp = std::get<config::tcp_link>(bus.link);
    if (tcp.framing == config::tcp_framing::rtu) return std::make_unique<rtu_over_tcp_link>(bus.name, tcp);
    return std::make_unique<driven_link<tcp_stream_link>>(bus.name, tcp);
}

bool shares_poll_thread(const config::bus& bus) {
    const auto* tcp = std::get_if<config::tcp_link>(&bus.link);
    return tcp != nullptr && tcp->framing == config::tcp_framing::mbap;
}

std::unique_ptr<link> make_shared_link(const config::bus& bus, const boost::asio::any_io_executor& executor) {
    return std::make_unique<tcp_stream_link>(bus.name, std::get<config::tcp_link>(bus.link), executor);
}

}  // namespace fieldbridge::modbus
