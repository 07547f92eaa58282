#include "config/names.hpp"

#include <array>

namespace fieldbridge::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array register_kinds{
    std::pair{"coil"sv, register_kind::coil},
    std::pair{"discrete"sv, register_kind::discrete_input},
    std::pair{"holding"sv, register_kind::holding_register},
    std::pair{"input"sv, register_kind::input_register},
};

constexpr std::array data_types{
    std::pair{"bool"sv, data_type::boolean},   std::pair{"int16"sv, data_type::int16},
    std::pair{"uint16"sv, data_type::uint16},  std::pair{"int32"sv, data_type::int32},
    std::pair{"uint32"sv, data_type::uint32},  std::pair{"int64"sv, data_type::int64},
    std::pair{"uint64"sv, data_type::uint64},  std::pair{"float32"sv, data_type::float32},
    std::pair{"float64"sv, data_type::float64}, std::pair{"string"sv, data_type::string},
};

constexpr std::array word_orders{
    std::pair{"abcd"sv, word_order::abcd},
    std::pair{"cdab"sv, word_order::cdab},
    std::pair{"badc"sv, word_order::badc},
    std::pair{"dcba"sv, word_order::dcba},
};

constexpr std::array string_packings{
    std::pair{"high_byte_first"sv, string_packing::high_byte_first},
    std::pair{"low_byte_first"sv, string_packing::low_byte_first},
    std::pair{"low_byte_only"sv, string_packing::low_byte_only},
};

constexpr std::array parities{
    std::pair{"none"sv, parity::none},
    std::pair{"even"sv, parity::even},
    std::pair{"odd"sv, parity::odd},
};

constexpr std::array payload_formats{
    std::pair{"json"sv, payload_format::json},
    std::pair{"raw"sv, payload_format::raw},
    std::pair{"device"sv, payload_format::device},
    std::pair{"template"sv, payload_format::templated},
    std::pair{"sparkplug"sv, payload_format::sparkplug},
};

constexpr std::array tcp_framings{
    std::pair{"mbap"sv, tcp_framing::mbap},
    std::pair{"rtu"sv, tcp_framing::rtu},
};

constexpr std::array rs485_modes{
    std::pair{"none"sv, rs485_mode::none},
    std::pair{"kernel"sv, rs485_mode::kernel},
    std::pair{"rts_up"sv, rs485_mode::rts_up},
    std::pair{"rts_down"sv, rs485_mode::rts_down},
};

constexpr std::array write_functions{
    std::pair{"auto"sv, write_function::automatic},
    std::pair{"fc16"sv, write_function::fc16},
};

constexpr std::array mqtt_protocols{
    std::pair{"3.1.1"sv, mqtt_protocol::v3_1_1},
    std::pair{"5"sv, mqtt_protocol::v5},
    std::pair{"5.0"sv, mqtt_protocol::v5},
};

constexpr std::array durabilities{
    std::pair{"full"sv, store_durability::full},
    std::pair{"normal"sv, store_durability::normal},
};

constexpr std::array drop_policies{
    std::pair{"oldest"sv, drop_policy::oldest},
    std::pair{"qos0_first"sv, drop_policy::qos0_first},
    std::pair{"refuse_new"sv, drop_policy::refuse_new},
};

constexpr std::array qos0_routes{
    std::pair{"direct"sv, qos0_route::direct},
    std::pair{"stored"sv, qos0_route::stored},
};

constexpr std::array store_orders{
    std::pair{"strict"sv, store_order::strict},
    std::pair{"fresh_first"sv, store_order::fresh_first},
};

constexpr std::array waveforms{
    std::pair{"constant"sv, simulation::waveform::constant},
    std::pair{"counter"sv, simulation::waveform::counter},
    std::pair{"sine"sv, simulation::waveform::sine},
    std::pair{"ramp"sv, simulation::waveform::ramp},
};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, E>, N>& table, E value) {
    for (const auto& [name, v] : table) {
        if (v == value) return name;
    }
    return "?";
}

}  // namespace

name_table<register_kind> register_kind_names() { return register_kinds; }
name_table<data_type> data_type_names() { return data_types; }
name_table<word_order> word_order_names() { return word_orders; }
name_table<string_packing> string_packing_names() { return string_packings; }
name_table<parity> parity_names() { return parities; }
name_table<payload_format> payload_format_names() { return payload_formats; }
name_table<store_durability> durability_names() { return durabilities; }
name_table<mqtt_protocol> mqtt_protocol_names() { return mqtt_protocols; }
name_table<write_function> write_function_names() { return write_functions; }
name_table<rs485_mode> rs485_mode_names() { return rs485_modes; }
name_table<tcp_framing> tcp_framing_names() { return tcp_framings; }
name_table<drop_policy> drop_policy_names() { return drop_policies; }
name_table<qos0_route> qos0_route_names() { return qos0_routes; }
name_table<store_order> store_order_names() { return store_orders; }
name_table<simulation::waveform> waveform_names() { return waveforms; }

std::string_view to_string(register_kind k) { return name_of(register_kinds, k); }
std::string_view to_string(data_type t) { return name_of(data_types, t); }
std::string_view to_string(word_order o) { return name_of(word_orders, o); }
std::string_view to_string(string_packing p) { return name_of(string_packings, p); }
std::string_view to_string(parity p) { return name_of(parities, p); }
std::string_view to_string(payload_format f) { return name_of(payload_formats, f); }
std::string_view to_string(simulation::waveform w) { return name_of(waveforms, w); }


bool is_writable_kind(register_kind k) {
    return k == register_kind::coil || k == register_kind::holding_register;
}

bool is_bit_kind(register_kind k) { return k == register_kind::coil || k == register_kind::discrete_input; }

}  // namespace fieldbridge::config
