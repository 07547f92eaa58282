// libFuzzer target for what the driver makes of a device's answers: the
// value codec (every type, word order, string packing, bit and scale) fed
// arbitrary registers, and the read planner fed arbitrary point sets with
// the answers to its requests cut into each point's words.
// Byte 0 picks the part (even: codec, odd: planner). Checked, beyond "no
// crash, no sanitizer report":
//  codec   - a register count other than the point's is wrong_register_count;
//          - a decoded value has the alternative the point's type promises,
//            and a double is finite;
//          - unscaled register points round-trip: encode(decode(w)) gives w
//            back for integers and floats, the same value for the others;
//          - an encoded value has the point's register count and decodes.
//  planner - every readable point is in exactly one request, inside it, of
//            the request's kind; requests keep the protocol and the device's
//            limits (a lone point larger than the limit excepted), grouped by
//            kind, sorted by start; the same holds after applying refusals;
//          - a full answer gives every member point its words.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "drivers/modbus/block_answer.hpp"
#include "drivers/modbus/modbus_error.hpp"
#include "drivers/modbus/read_plan.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fieldbridge;
using fuzzing::fuzz_input;

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "property broken: %s\n", what);
    std::abort();
}

constexpr int data_types = 10;  // boolean .. string (config/model.hpp)

bool is_bit_kind(config::register_kind k) {
    return k == config::register_kind::coil || k == config::register_kind::discrete_input;
}

double pick_double(fuzz_input& in) {
    static constexpr double choices[] = {1.0, 1.0, 0.1, -2.5, 10.0, 0.0, 1e300, -1e-300,
                                         std::numeric_limits<double>::quiet_NaN(),
                                         std::numeric_limits<double>::infinity(), 1e-3, 65536.0};
    return choices[in.pick(std::size(choices))];
}

config::point read_point(fuzz_input& in) {
    config::point p;
    p.kind = static_cast<config::register_kind>(in.pick(4));
    p.address = in.u16();
    p.type = static_cast<config::data_type>(in.pick(data_types));
    p.order = static_cast<config::word_order>(in.pick(4));
    p.packing = static_cast<config::string_packing>(in.pick(3));
    const auto options = in.byte();
    if ((options & 1u) != 0) p.bit = static_cast<std::uint8_t>(in.pick(20));
    if (p.type == config::data_type::string) p.length = in.byte();
    if ((options & 2u) != 0) p.scale = pick_double(in);
    if ((options & 4u) != 0) p.offset = pick_double(in);
    if ((options & 8u) != 0) p.minimum = pick_double(in);
    if ((options & 16u) != 0) p.maximum = pick_double(in);
    return p;
}

bool scaled(const config::point& p) { return p.scale != 1.0 || p.offset != 0.0; }

bool has_promised_type(const config::point& p, const modbus::value& v) {
    using config::data_type;
    switch (p.type) {
        case data_type::boolean:
            return std::holds_alternative<bool>(v);
        case data_type::string:
            return std::holds_alternative<std::string>(v);
        case data_type::float32:
        case data_type::float64:
            return std::holds_alternative<double>(v);
        case data_type::int16:
        case data_type::int32:
        case data_type::int64:
            return scaled(p) ? std::holds_alternative<double>(v) : std::holds_alternative<std::int64_t>(v);
        default:
            return scaled(p) ? std::holds_alternative<double>(v) : std::holds_alternative<std::uint64_t>(v);
    }
}

modbus::value read_value(fuzz_input& in) {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | in.byte();
    switch (in.pick(5)) {
        case 0:
            return (bits & 1u) != 0;
        case 1:
            return static_cast<std::int64_t>(bits);
        case 2:
            return bits;
        case 3:
            return std::bit_cast<double>(bits);
        default:
            return in.text(300);
    }
}

void fuzz_codec(fuzz_input& in) {
    const auto p = read_point(in);
    const std::size_t expected = modbus::register_count(p);
    const std::size_t n = in.flag() ? expected : in.pick(9);
    std::vector<std::uint16_t> words(n);
    for (auto& w : words) w = in.u16();

    const auto decoded = modbus::decode(p, words);
    if (n != expected || n == 0) {
        check(!decoded && decoded.error() == modbus::modbus_errc::wrong_register_count,
              "a wrong register count is refused as such");
    }
    if (decoded) {
        check(has_promised_type(p, *decoded), "decode returns the type's alternative");
        if (const auto* d = std::get_if<double>(&*decoded)) check(std::isfinite(*d), "a decoded double is finite");
    }
    const bool bounded = p.minimum || p.maximum;
    if (decoded && !is_bit_kind(p.kind) && !scaled(p) && !bounded) {
        const auto encoded = modbus::encode(p, *decoded, words[0]);
        check(encoded.has_value(), "a decoded value encodes again");
        const auto again = modbus::decode(p, *encoded);
        check(again.has_value() && *again == *decoded, "encode then decode gives the decoded value");
        if (p.type != config::data_type::string && (p.type != config::data_type::boolean || p.bit)) {
            check(*encoded == words, "encode(decode(words)) == words");
        }
    }

    const auto v = read_value(in);
    const auto current = in.u16();
    const auto encoded = modbus::encode(p, v, current);
    if (encoded && !is_bit_kind(p.kind)) {
        check(encoded->size() == expected, "an encoded value has the point's register count");
        check(modbus::decode(p, *encoded).has_value(), "an encoded value decodes");
    }
}

// Whether any single request can read the point (read_plan.hpp).
bool readable(const config::point& p) {
    const std::uint32_t count = modbus::register_count(p);
    const std::uint32_t max = is_bit_kind(p.kind) ? 2000 : 125;
    return count > 0 && count <= max && std::uint32_t{p.address} + count - 1 <= 0xFFFF;
}

void check_plan(const std::vector<modbus::read_request>& plan, const std::vector<config::point>& points,
                const modbus::plan_limits& limits) {
    std::vector<int> seen(points.size(), 0);
    for (std::size_t r = 0; r < plan.size(); ++r) {
        const auto& q = plan[r];
        const bool bits = is_bit_kind(q.kind);
        const std::uint32_t max = bits ? 2000 : 125;
        const std::uint32_t limit = std::clamp<std::uint32_t>(bits ? limits.max_bits : limits.max_registers, 1, max);
        check(q.count >= 1 && q.count <= max, "a request keeps the protocol's size");
        check(std::uint32_t{q.start} + q.count - 1 <= 0xFFFF, "a request stays in the address space");
        check(!q.points.empty(), "a request reads some point");
        check(q.count <= limit || q.points.size() == 1, "a request keeps the device's limit");
        if (r > 0) {
            const auto& prev = plan[r - 1];
            check(prev.kind < q.kind || (prev.kind == q.kind && prev.start <= q.start),
                  "requests are grouped by kind and sorted by start");
        }
        for (const auto i : q.points) {
            check(i < points.size(), "a member is a point of the device");
            const auto& p = points[i];
            check(p.kind == q.kind, "a member has the request's kind");
            check(p.address >= q.start &&
                      std::uint32_t{p.address} + modbus::register_count(p) <= std::uint32_t{q.start} + q.count,
                  "a member lies inside its request");
            ++seen[i];
        }
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
        check(seen[i] == (readable(points[i]) ? 1 : 0), "every readable point is read exactly once");
    }
}

void fuzz_planner(fuzz_input& in) {
    std::vector<config::point> points(in.pick(48));
    for (auto& p : points) {
        p.kind = static_cast<config::register_kind>(in.pick(4));
        p.address = in.u16();
        p.type = static_cast<config::data_type>(in.pick(data_types));
        if (p.type == config::data_type::string) p.length = in.byte();
        if (in.flag()) p.bit = static_cast<std::uint8_t>(in.pick(16));
    }
    modbus::plan_limits limits;
    limits.max_gap = in.byte();
    limits.max_registers = in.u16();
    limits.max_bits = in.u16();
    limits.merge = in.flag();

    auto plan = modbus::plan_reads(points, limits);
    check_plan(plan, points, limits);

    // Refusals: some requests of the plan and some made up.
    std::vector<modbus::refused_read> refused;
    for (const auto& q : plan) {
        if (in.flag()) refused.push_back({q.kind, q.start, q.count});
    }
    for (std::size_t k = in.pick(3); k > 0; --k) {
        refused.push_back({static_cast<config::register_kind>(in.pick(4)), in.u16(), in.u16()});
    }
    modbus::apply_refusals(plan, refused, points);
    // Parts are planned with the refused block's size as their limit, and a
    // lone point is never split: the device's limits still hold.
    check_plan(plan, points, limits);

    // The answers: full ones (every member gets its words) or short ones.
    for (const auto& q : plan) {
        const bool full = in.flag();
        const std::size_t size = full ? q.count : in.pick(std::size_t{q.count} + 1);
        std::vector<std::uint16_t> registers(size);
        std::vector<std::uint8_t> bits(size);
        for (std::size_t k = 0; k < size; ++k) {
            registers[k] = in.u16();
            bits[k] = in.byte();
        }
        for (const auto i : q.points) {
            const auto& p = points[i];
            const auto words = is_bit_kind(q.kind) ? modbus::point_bit(q, p, bits) : modbus::point_registers(q, p, registers);
            if (full) check(words.has_value(), "a full answer holds every member's words");
            if (!words) continue;
            check(words->size() == modbus::register_count(p), "a member gets its register count");
            (void)modbus::decode(p, *words);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in(data, size);
    if (in.flag()) {
        fuzz_planner(in);
    } else {
        fuzz_codec(in);
    }
    return 0;
}
