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
    return {function_code::read_holding_registers, 0, e, v};
}
probe_result input(std::error_code e, std::uint16_t v = 0) {
    return {function_code::read_input_registers, 0, e, v};
}
std::error_code exception(modbus_errc c) {
    return make_error_code(c);
}

TEST(scan_plan, probes_fc3_then_fc4_at_register_0_and_stops_at_silence) {
    const auto probes = modbus::scan_probes(17, std::chrono::milliseconds(80));
    ASSERT_EQ(probes.size(), 2u);
    EXPECT_EQ(probes[0].function, function_code::read_holding_registers);
    EXPECT_EQ(probes[1].function, function_code::read_input_registers);
    for (const auto& p : probes) {
        EXPECT_EQ(p.unit, 17);
        EXPECT_EQ(p.address, 0);
        EXPECT_EQ(p.count, 1);
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
    EXPECT_EQ(scan_header(), "UNIT  FC3 @0 (holding)        FC4 @0 (input)");
    EXPECT_EQ(scan_row({3, {holding({}, 229), input(exception(modbus_errc::illegal_data_address))}}),
              "   3  229 (0x00E5)            exception 2");
    EXPECT_EQ(scan_row({247, {holding(exception(modbus_errc::timeout))}}), " 247  no answer               -");
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
    for (unsigned seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng(seed);
        std::vector<unit_result> units;
        std::size_t with_value = 0;
        for (unsigned unit = 1; unit <= 247; unit += 1 + static_cast<unsigned>(rng() % 20)) {
            unit_result u{static_cast<std::uint8_t>(unit), {}};
            for (const auto& probe : modbus::scan_probes(u.unit, std::chrono::milliseconds(100))) {
                probe_result r{probe.function, probe.address, outcomes[rng() % std::size(outcomes)],
                               static_cast<std::uint16_t>(rng())};
                u.probes.push_back(r);
                if (!modbus::probe_again(r))
                    break;
            }
            if (std::any_of(u.probes.begin(), u.probes.end(),
                            [](const probe_result& p) { return !p.error; })) {
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
