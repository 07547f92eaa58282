// libFuzzer target for the STATE of a primary host application (retained
// JSON from the network, spBv1.0/STATE/<host_id>). The input is a run of
// STATE payloads separated by NUL bytes, fed to one tracker. Checked, beyond
// "no crash, no sanitizer report": a change is reported exactly when
// online() changes, an error changes nothing, and link_lost() leaves the
// host offline.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sparkplug/primary_host.hpp"
#include "tests/fuzz/fuzz_input.hpp"

using namespace fieldbridge;
using fieldbridge::fuzzing::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    sparkplug::primary_host host("scada");
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    std::size_t at = 0;
    while (at <= all.size()) {
        const auto end = std::min(all.find('\0', at), all.size());
        const auto payload = all.substr(at, end - at);
        at = end + 1;
        if (payload == "lost") {
            host.link_lost();
            check(!host.online(), "link_lost leaves the host offline");
            continue;
        }
        const bool before = host.online();
        const auto v = host.receive(payload);
        using change = sparkplug::primary_host::change;
        if (!v.error.empty()) check(v.what == change::none && host.online() == before, "an error changes nothing");
        check((v.what != change::none) == (host.online() != before), "a change is reported exactly when it happens");
        if (v.what == change::online) check(host.online(), "online");
        if (v.what == change::offline) check(!host.online(), "offline");
    }
    return 0;
}
