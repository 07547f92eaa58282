// `fieldbridge scan`'s decisions and output without a bus: which probes a
// unit gets, when it counts as there, the rows, and the invariant that what
// scan prints as a starter configuration is what `check` accepts, over many
// random scans (the failing seed is printed).
#include "gateway/scan_report.hpp"

#include <random>

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "drivers/modbus/modbus_error.hpp"

namespace fieldbridge::gateway {
namespace {

using modbus::function_code;
using modbus::modbus_errc;
using modbus::probe_result;
using modbus::unit_result;

probe_result holding(std::error_code e, std::uint16_t v = 0) {
    return {function_code::read_holding_registers, 0, e, v, {}};
}
probe_result input(std::error_code e, std::uint16_t v = 0) {
    return {function_code::read_input_registers, 0, e, v, {}};
}
probe_result identity(std::error_code e, std::vector<modbus::identification_object> objects = {}) {
    return {function_code::read_device_identification, 0, e, 0, std::move(objects)};
}
std::error_code exception(modbus_errc c) {
    return make_error_code(c);
}

TEST(scan_plan, probes_fc3_fc4_then_identification_and_stops_at_silence) {
    const auto probes = modbus::scan_probes(17, std::chrono::milliseconds(80));
    ASSERT_EQ(probes.size(), 3u);
    EXPECT_EQ(probes[0].function, function_code::read_holding_registers);
    EXPECT_EQ(probes[1].function, function_code::read_input_registers);
    EXPECT_EQ(probes[2].function, function_code::read_device_identification);
    EXPECT_EQ(probes[2].category, modbus::identification_category::basic);
    for (const auto& p : probes) {
        EXPECT_EQ(p.unit, 17);
        EXPECT_EQ(p.address, 0);
        EXPECT_EQ(p.count, p.function == function_code::read_device_identification ? 0 : 1);
        EXPECT_EQ(p.timeout, std::chrono::milliseconds(80));
    }
    EXPECT_TRUE(modbus::probe_again(holding({}, 5)));
    EXPECT_TRUE(modbus::probe_again(holding(exception(modbus_errc::illegal_data_address))));
    EXPECT_FALSE(modbus::probe_again(holding(exception(modbus_errc::timeout))));
    EXPECT_FALSE(modbus::probe_again(holding(exception(modbus_errc::connection_failed))));
    // A TCP-to-RTU gateway's "the unit behind me did not answer" is silence.
    EXPECT_FALSE(modbus::probe_again(holding(exception(modbus_errc::gateway_target_failed))));
    EXPECT_FALSE(modbus::probe_again(holding(exception(modbus_errc::gateway_path_unavailable))));
}

TEST(scan_plan, identification_is_asked_again_while_more_follows_and_moves_forward) {
    auto asked = modbus::scan_probes(4, std::chrono::milliseconds(80)).back();
    modbus::identification_page page;
    EXPECT_FALSE(modbus::identification_follow_up(asked, page, 1)) << "all there";
    page.more_follows = true;
    page.next_object = 2;
    const auto next = modbus::identification_follow_up(asked, page, 1);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->address, 2);
    EXPECT_EQ(next->unit, 4);
    EXPECT_EQ(next->function, function_code::read_device_identification);
    EXPECT_FALSE(modbus::identification_follow_up(*next, page, 2)) << "pointing at the object just asked";
    page.next_object = 1;
    EXPECT_FALSE(modbus::identification_follow_up(*next, page, 2)) << "pointing backwards";
    page.next_object = 3;
    EXPECT_TRUE(modbus::identification_follow_up(*next, page, modbus::max_identification_pages - 1));
    EXPECT_FALSE(modbus::identification_follow_up(*next, page, modbus::max_identification_pages));
}

TEST(scan_plan, a_unit_is_there_when_a_probe_got_a_value_or_an_exception_of_its_own) {
    EXPECT_TRUE(modbus::answered({1, {holding({}, 3)}}));
    EXPECT_TRUE(modbus::answered({1,
                                  {holding(exception(modbus_errc::illegal_data_address)),
                                   input(exception(modbus_errc::illegal_function))}}));
    EXPECT_FALSE(modbus::answered({1, {holding(exception(modbus_errc::timeout))}}));
    EXPECT_FALSE(modbus::answered({1, {holding(exception(modbus_errc::gateway_target_failed))}}));
    EXPECT_FALSE(modbus::answered({1, {}}));
}

TEST(scan_report, rows_say_what_each_probe_got) {
    EXPECT_EQ(scan_header(), "UNIT  FC3 @0 (holding)        FC4 @0 (input)          FC43/14 identification");
    EXPECT_EQ(scan_row({3,
                        {holding({}, 229), input(exception(modbus_errc::illegal_data_address)),
                         identity({}, {{0, "Eastron"}, {1, "SDM630"}, {2, "1.2"}, {5, "M\n1"}, {0x85, "x"}})}}),
              "   3  229 (0x00E5)            exception 2             Eastron / SDM630 / 1.2, ModelName=M?1, "
              "object 133=x");
    EXPECT_EQ(scan_row({4, {holding({}, 1), input({}, 2), identity(exception(modbus_errc::illegal_function))}}),
              "   4  1 (0x0001)              2 (0x0002)              exception 1");
    EXPECT_EQ(scan_row({5, {holding({}, 1), input({}, 2), identity({})}}),
              "   5  1 (0x0001)              2 (0x0002)              answered, no objects");
    EXPECT_EQ(scan_row({247, {holding(exception(modbus_errc::timeout))}}),
              " 247  no answer               -                       -");
}

TEST(scan_report, the_starter_names_what_a_unit_identifies_as) {
    const auto text = starter_config(
        "line", std::nullopt,
        {{1, {holding({}, 1), input({}, 2), identity({}, {{0, "ACME"}, {1, "M#1: x\n- y"}, {2, "2"}})}},
         {2,
          {holding(exception(modbus_errc::illegal_data_address)), input(exception(modbus_errc::illegal_data_address)),
           identity({}, {{0, "Other"}})}}});
    EXPECT_NE(text.find("  unit_1:\n    # identifies as ACME / M#1: x?- y / 2\n    bus: line"), std::string::npos)
        << text;
    EXPECT_NE(text.find("# unit_2 (unit 2) answered no register probe"), std::string::npos) << text;
    EXPECT_NE(text.find("#   it identifies as Other"), std::string::npos) << text;
}

// Any mix of outcomes: the starter configuration, with an mqtt section,
// loads, and has one device per unit that answered a probe with a value.
TEST(scan_report, what_scan_prints_check_accepts_over_random_scans) {
    const std::error_code outcomes[] = {{},
                                        exception(modbus_errc::illegal_data_address),
                                        exception(modbus_errc::illegal_function),
                                        exception(modbus_errc::timeout),
                                        exception(modbus_errc::gateway_target_failed),
                                        exception(modbus_errc::invalid_response)};
    // What a device may call itself: anything, YAML's syntax and control
    // characters included.
    const std::string names[] = {"ACME", "a: b", "#x", "- [y]\n", "\"q'", std::string("\0\x7f\xff", 3), ""};
    for (unsigned seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng(seed);
        std::vector<unit_result> units;
        std::size_t with_value = 0;
        for (unsigned unit = 1; unit <= 247; unit += 1 + static_cast<unsigned>(rng() % 20)) {
            unit_result u{static_cast<std::uint8_t>(unit), {}};
            for (const auto& probe : modbus::scan_probes(u.unit, std::chrono::milliseconds(100))) {
                probe_result r{probe.function, probe.address, outcomes[rng() % std::size(outcomes)],
                               static_cast<std::uint16_t>(rng()), {}};
                if (probe.function == function_code::read_device_identification && !r.error) {
                    for (std::uint8_t id = 0; id < rng() % 5; ++id)
                        r.identity.push_back({id, names[rng() % std::size(names)]});
                }
                u.probes.push_back(r);
                if (!modbus::probe_again(r))
                    break;
            }
            if (std::any_of(u.probes.begin(), u.probes.end(),
                            [](const probe_result& p) {
                                return !p.error && p.function != function_code::read_device_identification;
                            })) {
                ++with_value;
            }
            units.push_back(u);
        }
        const bool tcp = seed % 2 == 0;
        const std::string yaml =
            tcp ? "{ type: tcp, host: \"10.0.0.5\", port: 502 }"
                : "{ type: rtu, device: \"/dev/ttyS1\", baud: 9600, parity: even, stop_bits: 1 }";
        const auto text =
            "mqtt: { host: 127.0.0.1, client_id: scan }\n" + starter_config("scanned", yaml, units);
        try {
            const auto cfg = config::load_string(text, "scan.yaml");
            EXPECT_EQ(cfg.devices.size(), with_value) << "seed " << seed << "\n" << text;
        } catch (const config::config_error& e) {
            ADD_FAILURE() << "seed " << seed << ": " << e.what() << "\n" << text;
        }
    }
}

}  // namespace
}  // namespace fieldbridge::gateway
