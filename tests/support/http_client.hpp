// A blocking HTTP/1.1 client for tests: one request on a fresh loopback
// connection, the answer read to the end of its Content-Length (or to the
// close), with a deadline. Also the exposition-format lookups the metrics
// tests make. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fieldbridge::testing {

struct http_answer {
    int status = 0;                              // 0: no answer (connection refused, closed, or timed out)
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

// Sends `raw` as it is (a whole request, or garbage) to 127.0.0.1:port and
// reads what comes back.
http_answer http_exchange(std::uint16_t port, const std::string& raw,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "METHOD path HTTP/1.1" with Host and Connection: close.
http_answer http_request(std::uint16_t port, const std::string& method, const std::string& path,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of the sample `series` (a metric name with its labels exactly as
// written, e.g. fieldbridge_device_up{device="m1",bus="line"}) in an
// exposition text; nullopt when there is no such line.
std::optional<double> sample_value(const std::string& exposition, const std::string& series);

}  // namespace fieldbridge::testing
