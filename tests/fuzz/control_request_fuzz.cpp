// libFuzzer target for the control socket's protocol (gateway/
// control_protocol): the input is a request line as a client would send it.
// Checked, beyond "no crash, no sanitizer report, no exception":
//  - a request is either a call, whose command is the request's string
//    "command" and whose version (if any) is ours, or an error reply
//    {"version":1,"ok":false,"error":<string>};
//  - a `points` request's query is read within its bounds (a page of 1 to
//    points_page_rows rows) or refused with std::runtime_error;
//  - every reply goes on the wire as exactly one line of valid JSON that
//    parses back to a reply of the same shape, also when the answer
//    carries the request's bytes (invalid UTF-8 included).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/control_protocol.hpp"
#include "gateway/status_report.hpp"

namespace {

using namespace fieldbridge::gateway;

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "property broken: %s\n", what);
    std::abort();
}

bool is_error_reply(const nlohmann::json& j) {
    return j.is_object() && j.size() == 3 && j.value("version", 0) == control_protocol_version &&
           j.contains("ok") && j["ok"] == false && j.contains("error") && j["error"].is_string();
}

// The line a reply is sent as, read back by a client.
nlohmann::json sent_and_read(const nlohmann::json& reply) {
    const auto line = control_line(reply);
    check(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1, "a reply is one line");
    auto back = nlohmann::json::parse(line, nullptr, false);
    check(!back.is_discarded(), "a reply line is valid JSON");
    return back;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    auto parsed = parse_control_request(line);
    if (const auto* refusal = std::get_if<nlohmann::json>(&parsed)) {
        check(is_error_reply(*refusal), "a refusal is an error reply");
        check(is_error_reply(sent_and_read(*refusal)), "a refusal reads back as an error reply");
        return 0;
    }
    const auto& call = std::get<control_call>(parsed);
    check(call.request.is_object(), "a call's request is an object");
    check(call.request.contains("command") && call.request["command"] == call.command, "a call names its command");
    if (call.request.contains("version")) {
        check(call.request["version"] == control_protocol_version, "a call is of our protocol version");
    }
    if (call.command == "points") {
        try {
            const auto q = points_query_of(call.request);
            check(q.limit >= 1 && q.limit <= points_page_rows, "a page is bounded");
        } catch (const std::runtime_error&) {
            // refused, with a reason
        }
    }
    // An answer built from whatever the request held, and from its raw bytes:
    // a handler's text (a device's string, an error message) reaches the wire.
    const auto answer = control_answer(call.command, nlohmann::json{{"echo", call.request}, {"raw", std::string(line)}});
    const auto back = sent_and_read(answer);
    check(back.is_object() && back.value("ok", false) && back.contains(call.command), "an answer reads back");
    const auto unknown = sent_and_read(control_error("unknown command '" + call.command + "'"));
    check(is_error_reply(unknown), "an unknown command's refusal reads back as an error reply");
    return 0;
}
