// The words the configuration uses for enumerations, both ways: YAML values
// are looked up in these tables and the point map prints them back. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "config/model.hpp"

namespace fieldbridge::config {

template <class E>
using name_table = std::span<const std::pair<std::string_view, E>>;

name_table<register_kind> register_kind_names();  // coil discrete holding input
name_table<data_type> data_type_names();          // bool int16 ... string
name_table<word_order> word_order_names();        // abcd cdab badc dcba
name_table<string_packing> string_packing_names();
name_table<parity> parity_names();
name_table<payload_format> payload_format_names();
name_table<simulation::waveform> waveform_names();
name_table<write_function> write_function_names();  // auto fc16
name_table<rs485_mode> rs485_mode_names();          // none kernel rts_up rts_down
name_table<tcp_framing> tcp_framing_names();        // mbap rtu
name_table<store_durability> durability_names();  // full normal
name_table<mqtt_protocol> mqtt_protocol_names();  // 3.1.1 5
name_table<drop_policy> drop_policy_names();  // oldest qos0_first refuse_new
name_table<qos0_route> qos0_route_names();  // direct stored
name_table<store_order> store_order_names();  // strict fresh_first

std::string_view to_string(register_kind k);
std::string_view to_string(data_type t);
std::string_view to_string(word_order o);
std::string_view to_string(string_packing p);
std::string_view to_string(parity p);
std::string_view to_string(payload_format f);
std::string_view to_string(simulation::waveform w);


// True for the register kinds Modbus can write: coils and holding registers.
bool is_writable_kind(register_kind k);

// True for coil and discrete input, which address single bits.
bool is_bit_kind(register_kind k);

}  // namespace fieldbridge::config
