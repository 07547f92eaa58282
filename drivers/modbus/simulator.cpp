#include "drivers/modbus/simulator.hpp"

#include <modbus.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/validate.hpp"
#include "drivers/modbus/crc16.hpp"
#include "drivers/modbus/device_identification.hpp"
#include "drivers/modbus/rtu_timing.hpp"
#include "drivers/modbus/simulated_value.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "gateway/version.hpp"

namespace fieldbridge::modbus {
namespace {

using steady = std::chrono::steady_clock;

// Length of the RTU request frame starting at buf (address, function, data,
// CRC), 0 when more bytes are needed to tell, -1 for a function code this
// simulator does not frame.
int rtu_request_length(const std::vector<std::uint8_t>& buf) {
    if (buf.size() < 2) return 0;
    switch (buf[1]) {
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
            return 8;
        case 15:
        case 16:
            return buf.size() < 7 ? 0 : 9 + buf[6];
        case 22:
            return 10;
        case 43:  // MEI type, Read Device ID code, object id
            return 7;
        case 23:
            return buf.size() < 11 ? 0 : 13 + buf[10];
        default:
            return -1;
    }
}

// An RTU context that only builds frames: the line it answers on is a
// descriptor set later (a pty the caller made, a converter's connection).
modbus_t* rtu_framer(int baud) {
    modbus_t* ctx = modbus_new_rtu("/dev/null", baud, 'N', 8, 1);
    if (ctx == nullptr) throw std::runtime_error("simulator: cannot create an RTU context");
    return ctx;
}

// One Modbus TCP request into query (its length, or -1 when the client
// closed or sent garbage). libmodbus receives it, except function 43, whose
// request libmodbus cannot frame: that one is cut by its MBAP length.
int receive_tcp(modbus_t* ctx, int fd, std::vector<std::uint8_t>& query) {
    std::uint8_t head[8];
    const ssize_t seen = ::recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (seen < static_cast<ssize_t>(sizeof head) || head[7] != mei_function) return modbus_receive(ctx, query.data());
    const std::size_t length = 6U + static_cast<std::size_t>((head[4] << 8) | head[5]);
    if (length < 8 || length > query.size()) return -1;
    std::size_t have = 0;
    while (have < length) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 500) != 1) return -1;  // a half request, then silence
        const ssize_t n = ::read(fd, query.data() + have, length - have);
        if (n <= 0) return -1;
        have += static_cast<std::size_t>(n);
    }
    return static_cast<int>(length);
}

}  // namespace

struct simulator::state {
    struct unit {
        config::device device;
        modbus_mapping_t* map = nullptr;
        std::vector<bool> frozen;  // written by a client: no longer follows its waveform
        std::uint64_t served = 0;
        steady::time_point last_answer{};
    };
    config::bus bus;
    std::map<int, unit> units;
    steady::time_point started = steady::now();
    modbus_t* ctx = nullptr;

    ~state() {
        for (auto& [id, u] : units) modbus_mapping_free(u.map);
        if (ctx) {
            modbus_close(ctx);
            modbus_free(ctx);
        }
    }

    // Writes the current value of every simulated point into the map.
    void refresh(unit& u) {
        const double t = std::chrono::duration<double>(steady::now() - started).count();
        for (std::size_t i = 0; i < u.device.points.size(); ++i) {
            const auto& p = u.device.points[i];
            if (u.frozen[i] || !p.simulate) continue;
            store(u, p, simulated_value(p, t));
        }
    }

    static void store(unit& u, const config::point& p, const value& v) {
        auto* m = u.map;
        switch (p.kind) {
            case config::register_kind::coil:
                if (const auto* b = std::get_if<bool>(&v)) m->tab_bits[p.address] = *b ? 1 : 0;
                return;
            case config::register_kind::discrete_input:
                if (const auto* b = std::get_if<bool>(&v)) m->tab_input_bits[p.address] = *b ? 1 : 0;
                return;
            case config::register_kind::holding_register:
            case config::register_kind::input_register:
                break;
        }
        std::uint16_t* table =
            p.kind == config::register_kind::holding_register ? m->tab_registers : m->tab_input_registers;
        auto words = encode(p, v, table[p.address]);
        if (!words) return;  // out of the point's range: keep the last value
        std::copy(words->begin(), words->end(), table + p.address);
    }

    // After a client's write: the points it touched keep what was written.
    void freeze_written(unit& u, const std::uint8_t* pdu) {
        const int function = pdu[0];
        const int address = (pdu[1] << 8) | pdu[2];
        int count = 1;
        config::register_kind kind;
        switch (function) {
            case 5:
                kind = config::register_kind::coil;
                break;
            case 6:
            case 22:
                kind = config::register_kind::holding_register;
                break;
            case 15:
                kind = config::register_kind::coil;
                count = (pdu[3] << 8) | pdu[4];
                break;
            case 16:
                kind = config::register_kind::holding_register;
                count = (pdu[3] << 8) | pdu[4];
                break;
            default:
                return;
        }
        for (std::size_t i = 0; i < u.device.points.size(); ++i) {
            const auto& p = u.device.points[i];
            if (p.kind != kind) continue;
            const int first = p.address;
            const int last = p.address + modbus::register_count(p) - 1;
            if (first < address + count && last >= address) u.frozen[i] = true;
        }
    }

    // Whether the read of `pdu` (FC3/FC4: function, start, count) touches one of `ranges`.
    static bool touches(const std::vector<std::pair<std::uint16_t, std::uint16_t>>& ranges, const std::uint8_t* pdu) {
        const int first = (pdu[1] << 8) | pdu[2];
        const int last = first + ((pdu[3] << 8) | pdu[4]) - 1;
        return std::any_of(ranges.begin(), ranges.end(),
                           [&](const auto& r) { return first <= r.second && last >= r.first; });
    }

    // Answers one request frame (header included, CRC or not as the backend
    // wants). Returns false when the request was not for any device here.
    bool answer(const std::uint8_t* req, int length, bool tcp) {
        const int header = modbus_get_header_length(ctx);
        int id = req[header - 1];
        auto it = units.find(id);
        if (it == units.end() && tcp && units.size() == 1 && (id == 0xFF || id == 0)) it = units.begin();
        if (it == units.end()) {
            if (tcp) modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
            return false;
        }
        auto& u = it->second;
        ++u.served;
        // The device's configured misbehaviours (device.simulator_faults).
        const auto& faults = u.device.faults;
        if (faults.vanish_for.count() > 0) {
            const auto since = std::chrono::steady_clock::now() - started;
            if (since >= faults.vanish_after && since < faults.vanish_after + faults.vanish_for) return false;  // silent
        }
        if (faults.miss_every > 0 && u.served % faults.miss_every == 0) return false;  // missed, silent
        if ((req[header] == 3 || req[header] == 4) && touches(faults.unanswered, req + header)) return false;
        const auto now = steady::now();
        if (faults.min_request_gap.count() > 0 && now - u.last_answer < faults.min_request_gap) {
            return false;  // too soon after the last answer: the device was not listening yet
        }
        if (faults.response_delay.count() > 0) std::this_thread::sleep_for(faults.response_delay);
        struct stamp {
            unit& u;
            ~stamp() { u.last_answer = steady::now(); }
        } answered{u};
        if (!tcp && faults.stray_every > 0 && u.served % faults.stray_every == 0) {
            // Another master's traffic on the line first: a well-formed FC3
            // answer from a unit nobody here asked.
            std::uint8_t stray[9] = {static_cast<std::uint8_t>(id == 200 ? 201 : 200), 3, 4, 0x12, 0x34, 0x56, 0x78, 0, 0};
            const auto crc = crc16(std::span<const std::uint8_t>(stray, 7));
            stray[7] = static_cast<std::uint8_t>(crc & 0xFF);
            stray[8] = static_cast<std::uint8_t>(crc >> 8);
            if (::write(modbus_get_socket(ctx), stray, sizeof stray) != static_cast<ssize_t>(sizeof stray)) return false;
        }
        if (faults.busy_every > 0 && u.served % faults.busy_every == 0) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
            return true;
        }
        if ((req[header] == 3 || req[header] == 4) && faults.max_registers > 0 &&
            ((req[header + 3] << 8) | req[header + 4]) > faults.max_registers) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
            return true;
        }
        if ((req[header] == 3 || req[header] == 4) && touches(faults.unmapped, req + header)) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
            return true;
        }
        if ((faults.refuse_fc6 && req[header] == 6) || (faults.refuse_fc5 && req[header] == 5) ||
            (faults.refuse_fc43 && req[header] == mei_function)) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
            return true;
        }
        if (req[header] == mei_function) {
            identify(u, req, tcp);
            return true;
        }
        refresh(u);
        if (faults.misaligned_bits && (req[header] == 1 || req[header] == 2)) {
            const int start = (req[header + 1] << 8) | req[header + 2];
            if (start % 8 != 0) {
                // The converter's mistake: the bits from the byte boundary below.
                std::vector<std::uint8_t> rounded(req, req + length);
                const int down = start - start % 8;
                rounded[static_cast<std::size_t>(header) + 1] = static_cast<std::uint8_t>(down >> 8);
                rounded[static_cast<std::size_t>(header) + 2] = static_cast<std::uint8_t>(down & 0xFF);
                modbus_reply(ctx, rounded.data(), length, u.map);
                return true;
            }
        }
        if (modbus_reply(ctx, req, length, u.map) >= 0) freeze_written(u, req + header);
        return true;
    }

    // Read Device Identification (request: MEI type, Read Device ID code,
    // object id), which libmodbus does not serve: the basic and regular
    // objects of a simulated device, stream (codes 1..3, from the object
    // asked, or from 0 for an id it lacks) or individual (code 4)
    // access, split over answers with "more follows" past 253 bytes.
    void identify(const unit& u, const std::uint8_t* req, bool tcp) {
        const int header = modbus_get_header_length(ctx);
        const std::uint8_t mei = req[header + 1], code = req[header + 2], first = req[header + 3];
        if (mei != mei_device_identification) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
            return;
        }
        if (code < 1 || code > 4) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
            return;
        }
        const std::string objects[] = {"fieldbridge", u.device.name, std::string(fieldbridge::version),
                                       "none (simulated)", "fieldbridge simulated device",
                                       u.device.name, "fieldbridge simulate"};
        const std::size_t count = std::size(objects);
        if (code == 4 && first >= count) {
            modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
            return;
        }
        const std::size_t last = code == 1 ? 3 : count;  // basic: objects 0..2
        std::size_t at = code == 4 ? first : (first < last ? first : 0);
        identification_page page;
        page.category = static_cast<identification_category>(code);
        page.conformity = 0x82;  // regular identification, stream and individual access
        std::size_t size = 7;    // the answer's header
        for (; at < (code == 4 ? first + 1U : last); ++at) {
            const auto text = objects[at].substr(0, 245);
            if (size + 2 + text.size() > 253) {
                page.more_follows = true;  // from this object
                page.next_object = static_cast<std::uint8_t>(at);
                break;
            }
            size += 2 + text.size();
            page.objects.push_back({static_cast<std::uint8_t>(at), text});
        }
        const auto pdu = identification_answer(page);
        std::vector<std::uint8_t> adu;
        if (tcp) {
            const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
            adu = {req[0], req[1], 0, 0, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xFF),
                   req[header - 1]};
            adu.insert(adu.end(), pdu.begin(), pdu.end());
        } else {
            adu = {req[0]};
            adu.insert(adu.end(), pdu.begin(), pdu.end());
            const auto crc = crc16(adu);
            adu.push_back(static_cast<std::uint8_t>(crc & 0xFF));
            adu.push_back(static_cast<std::uint8_t>(crc >> 8));
        }
        if (::write(modbus_get_socket(ctx), adu.data(), adu.size()) != static_cast<ssize_t>(adu.size()))
            spdlog::warn("simulator: short write of an identification answer: {}", std::strerror(errno));
    }
};

simulator::simulator(const config::gateway& cfg, const std::string& bus_name, simulator_options options)
    : state_(std::make_unique<state>()), options_(std::move(options)) {
    const auto b = std::find_if(cfg.buses.begin(), cfg.buses.end(), [&](const auto& x) { return x.name == bus_name; });
    if (b == cfg.buses.end()) throw std::runtime_error("simulator: the configuration has no bus named " + bus_name);
    state_->bus = *b;
    // Devices of one unit id on one bus are point sets of one device: one
    // unit serves them all, under the first one's name.
    std::map<int, config::device> by_unit;
    for (const auto& d : cfg.devices) {
        if (d.bus != bus_name) continue;
        const auto [it, fresh] = by_unit.try_emplace(d.unit_id, d);
        if (fresh) continue;
        // Whichever point is stored last would win, and the other device read what is not its own.
        for (const auto& p : it->second.points) {
            for (const auto& q : d.points) {
                if (!config::share_a_register(p, q)) continue;
                throw std::runtime_error("simulator: devices " + it->second.name + " and " + d.name +
                                         " share unit id " + std::to_string(d.unit_id) + " on bus " + bus_name +
                                         " and points " + it->second.name + "." + p.name + " and " + d.name + "." +
                                         q.name + " share a register; one unit cannot serve both");
            }
        }
        if (!(it->second.faults == d.faults)) {
            throw std::runtime_error("simulator: devices " + it->second.name + " and " + d.name + " share unit id " +
                                     std::to_string(d.unit_id) + " on bus " + bus_name +
                                     " but not their simulator_faults; one unit misbehaves in one way");
        }
        auto& points = it->second.points.edit();
        points.insert(points.end(), d.points.begin(), d.points.end());
    }
    for (const auto& [unit_id, d] : by_unit) {
        int bits = 0, input_bits = 0, regs = 0, input_regs = 0;
        for (const auto& p : d.points) {
            const int end = p.address + modbus::register_count(p);
            switch (p.kind) {
                case config::register_kind::coil:
                    bits = std::max(bits, end);
                    break;
                case config::register_kind::discrete_input:
                    input_bits = std::max(input_bits, end);
                    break;
                case config::register_kind::holding_register:
                    regs = std::max(regs, end);
                    break;
                case config::register_kind::input_register:
                    input_regs = std::max(input_regs, end);
                    break;
            }
        }
        state::unit u;
        u.device = d;
        u.map = modbus_mapping_new(bits, input_bits, regs, input_regs);
        if (u.map == nullptr) throw std::runtime_error("simulator: out of memory for the register map of " + d.name);
        u.frozen.assign(d.points.size(), false);
        auto& stored = state_->units[unit_id] = std::move(u);
        // Points without a waveform start at 0 (or their minimum).
        for (const auto& p : d.points) {
            if (p.simulate || !p.minimum || *p.minimum <= 0) continue;
            state::store(stored, p, *p.minimum);
        }
        state_->refresh(stored);
    }
    if (state_->units.empty()) throw std::runtime_error("simulator: bus " + bus_name + " has no devices");
}

simulator::~simulator() { stop(); }

void simulator::start() {
    if (thread_.joinable()) return;
    stopping_ = false;
    const auto* rtu = std::get_if<config::rtu_link>(&state_->bus.link);
    if (options_.serial_fd >= 0) {
        // An open line (the master side of a pty the caller made): the RTU
        // backend only builds the answers.
        state_->ctx = rtu_framer(rtu ? static_cast<int>(rtu->baud) : 9600);
        modbus_set_socket(state_->ctx, options_.serial_fd);
        port_ = 0;
        thread_ = std::thread([this] { serve_rtu(); });
        return;
    }
    if (!options_.serial_device.empty() || (rtu && options_.listen_port == 0)) {
        const std::string device =
            !options_.serial_device.empty() ? options_.serial_device : (rtu != nullptr ? rtu->device : std::string{});
        const config::rtu_link line = rtu ? *rtu : config::rtu_link{};
        const char parity = line.parity == config::parity::even ? 'E' : line.parity == config::parity::odd ? 'O' : 'N';
        state_->ctx = modbus_new_rtu(device.c_str(), static_cast<int>(line.baud), parity, line.data_bits,
                                     line.stop_bits);
        if (state_->ctx == nullptr || modbus_connect(state_->ctx) != 0) {
            throw std::runtime_error("simulator: cannot open " + device + ": " + modbus_strerror(errno));
        }
        port_ = 0;
        thread_ = std::thread([this] { serve_rtu(); });
        return;
    }
    std::uint16_t port = options_.listen_port;
    if (port == 0) {
        if (const auto* tcp = std::get_if<config::tcp_link>(&state_->bus.link)) port = tcp->port;
    }
    if (const auto* tcp = std::get_if<config::tcp_link>(&state_->bus.link); tcp && tcp->framing == config::tcp_framing::rtu) {
        // A serial device server: the RTU backend frames, the socket carries.
        state_->ctx = rtu_framer(9600);
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (listen_fd_ < 0 ||
            inet_pton(AF_INET, options_.listen_host.c_str(), &addr.sin_addr) != 1 ||
            ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 4) != 0) {
            throw std::runtime_error("simulator: cannot listen on " + options_.listen_host + ":" + std::to_string(port) +
                                     ": " + std::strerror(errno));
        }
        socklen_t len = sizeof addr;
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve_rtu_over_tcp(); });
        return;
    }
    state_->ctx = modbus_new_tcp(options_.listen_host.c_str(), port);
    if (state_->ctx == nullptr) throw std::runtime_error("simulator: cannot create a TCP context");
    listen_fd_ = modbus_tcp_listen(state_->ctx, 16);
    if (listen_fd_ < 0) {
        throw std::runtime_error("simulator: cannot listen on " + options_.listen_host + ":" + std::to_string(port) +
                                 ": " + modbus_strerror(errno));
    }
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve_tcp(); });
}

void simulator::stop() {
    stopping_ = true;
    // The listener refuses from now on: closing the clients first would let
    // a master reconnect into the backlog of a device that is going away.
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (options_.serial_fd >= 0 && state_->ctx != nullptr) modbus_set_socket(state_->ctx, -1);  // the caller's
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
    }
}

void simulator::serve_tcp() {
    bool one_master = false;
    std::chrono::milliseconds connect_pause{0};
    for (const auto& [id, u] : state_->units) {
        one_master = one_master || u.device.faults.one_master;
        connect_pause = std::max(connect_pause, u.device.faults.connect_pause);
    }
    std::map<int, steady::time_point> accepted;  // client socket -> when
    std::vector<int> clients;
    std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
    while (!stopping_) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(listen_fd_, &readable);
        int top = listen_fd_;
        for (const int c : clients) {
            FD_SET(c, &readable);
            top = std::max(top, c);
        }
        timeval tv{0, 50'000};  // stop() is noticed within 50 ms
        const int n = select(top + 1, &readable, nullptr, nullptr, &tv);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("simulator: select failed: {}", std::strerror(errno));
            break;
        }
        if (n == 0) continue;
        if (FD_ISSET(listen_fd_, &readable)) {
            const int c = accept(listen_fd_, nullptr, nullptr);
            if (c >= 0 && one_master && !clients.empty()) {
                ::close(c);  // a device that serves one master at a time
            } else if (c >= 0) {
                clients.push_back(c);
                accepted[c] = steady::now();
                connections_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        for (auto it = clients.begin(); it != clients.end();) {
            if (!FD_ISSET(*it, &readable)) {
                ++it;
                continue;
            }
            modbus_set_socket(state_->ctx, *it);
            const int rc = receive_tcp(state_->ctx, *it, query);
            if (rc > 0 && steady::now() - accepted[*it] >= connect_pause) {
                state_->answer(query.data(), rc, true);
                requests_.fetch_add(1, std::memory_order_relaxed);
            }
            if (rc < 0) {
                ::close(*it);
                accepted.erase(*it);
                it = clients.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const int c : clients) ::close(c);
    modbus_set_socket(state_->ctx, -1);
}

// RTU: frames are cut by their own length (the request format says how
// long each is) and checked by CRC; libmodbus then builds and sends the
// answer. A frame for a unit id nobody has is ignored; garbage is skipped a
// byte at a time until a valid frame lines up; a half frame followed by
// silence is dropped. With wire timing the answer is built into a pipe and
// written to the line when a real line would have delivered it.
void simulator::serve_rtu() { serve_rtu_stream(modbus_get_socket(state_->ctx)); }

// One client at a time, as a serial server with one line would; a second
// one waits in the listen backlog.
void simulator::serve_rtu_over_tcp() {
    while (!stopping_) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(listen_fd_, &readable);
        timeval tv{0, 50'000};
        if (select(listen_fd_ + 1, &readable, nullptr, nullptr, &tv) <= 0) continue;
        const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        connections_.fetch_add(1, std::memory_order_relaxed);
        modbus_set_socket(state_->ctx, c);
        serve_rtu_stream(c);
        modbus_set_socket(state_->ctx, -1);
        ::close(c);
    }
}

void simulator::serve_rtu_stream(const int fd) {
    const auto* rtu = std::get_if<config::rtu_link>(&state_->bus.link);
    const bool paced = rtu != nullptr && rtu->simulator_wire_timing;
    int answer_pipe[2] = {-1, -1};
    if (paced && pipe2(answer_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        spdlog::error("simulator: cannot create a pipe: {}", std::strerror(errno));
        return;
    }
    const auto silence = paced ? frame_silence(*rtu) : std::chrono::nanoseconds(0);
    if (paced) prctl(PR_SET_TIMERSLACK, 1UL);  // sleeps end on time, not up to 50 us late
    steady::time_point answer_ended{};   // when the last answer's last character left the line
    steady::time_point frame_started{};  // when the first byte of the frame being received came
    std::vector<std::uint8_t> buf;
    std::uint8_t chunk[512];
    while (!stopping_) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(fd, &readable);
        timeval tv{0, 50'000};
        const int n = select(fd + 1, &readable, nullptr, nullptr, &tv);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("simulator: select failed: {}", std::strerror(errno));
            break;
        }
        if (n == 0) {
            buf.clear();  // silence: whatever was half received is not a frame
            continue;
        }
        const ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got <= 0) {
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            spdlog::info("simulator: the line closed ({})", got < 0 ? std::strerror(errno) : "end of file");
            break;
        }
        if (buf.empty()) frame_started = steady::now();
        buf.insert(buf.end(), chunk, chunk + got);
        while (!buf.empty()) {
            const int need = rtu_request_length(buf);
            if (need < 0) {
                buf.erase(buf.begin());
                continue;
            }
            if (need == 0 || buf.size() < static_cast<std::size_t>(need)) break;
            const auto len = static_cast<std::size_t>(need);
            const std::uint16_t crc = static_cast<std::uint16_t>(buf[len - 2] | (buf[len - 1] << 8));
            if (crc16(std::span<const std::uint8_t>(buf.data(), len - 2)) != crc) {
                buf.erase(buf.begin());
                continue;
            }
            if (buf[0] != 0) {  // broadcasts get no answer
                if (!paced) {
                    if (state_->answer(buf.data(), need, false)) requests_.fetch_add(1, std::memory_order_relaxed);
                } else {
                    if (frame_started < answer_ended + silence) silence_violations_.fetch_add(1, std::memory_order_relaxed);
                    // The request took its wire time to arrive, the device
                    // keeps the silence, then its answer takes its own.
                    const auto answerable = frame_started + wire_time(len, *rtu) + silence;
                    modbus_set_socket(state_->ctx, answer_pipe[1]);
                    const bool mine = state_->answer(buf.data(), need, false);
                    modbus_set_socket(state_->ctx, fd);
                    std::uint8_t answer[MODBUS_RTU_MAX_ADU_LENGTH];
                    const ssize_t size = ::read(answer_pipe[0], answer, sizeof answer);
                    if (mine) requests_.fetch_add(1, std::memory_order_relaxed);
                    if (size > 0) {
                        const auto done = std::max(answerable, steady::now()) + wire_time(static_cast<std::size_t>(size), *rtu);
                        std::this_thread::sleep_until(done);
                        // Taken before the write: the master cannot have the
                        // answer earlier, so a late stamp never counts a
                        // request that kept the silence as one that broke it.
                        answer_ended = steady::now();
                        if (::write(fd, answer, static_cast<std::size_t>(size)) != size) {
                            spdlog::warn("simulator: short write of an answer: {}", std::strerror(errno));
                        }
                    }
                }
            }
            buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
            frame_started = steady::now();
        }
    }
    if (answer_pipe[0] >= 0) {
        ::close(answer_pipe[0]);
        ::close(answer_pipe[1]);
    }
}

}  // namespace fieldbridge::modbus
