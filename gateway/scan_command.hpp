// `fieldbridge scan`: which unit ids answer on a bus, named in a
// configuration file (-c FILE --bus NAME) or on the command line (--tcp
// HOST:PORT, --rtu DEVICE with --baud/--parity/--stop-bits), and a starter
// configuration for what answered (scan_report). Exit status: 0 a unit
// answered, 1 none did, 64 bad option, 69 the bus cannot be opened, 78 bad
// configuration. The bus must not be in use by a running service.
#pragma once

#include <string>

namespace fieldbridge::gateway {

struct scan_request {
    std::string config_path;       // with bus: a bus of this configuration
    std::string bus;               // default: the configuration's only bus
    std::string tcp;               // HOST:PORT
    std::string framing = "mbap";  // with tcp: mbap, or rtu (a serial device server)
    std::string rtu;               // serial device
    unsigned baud = 9600;
    std::string parity = "none";
    unsigned stop_bits = 1;
    unsigned first = 1;
    unsigned last = 247;
    std::string timeout = "100ms";
};

int run_scan(const scan_request& r);

}  // namespace fieldbridge::gateway
