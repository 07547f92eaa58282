#include "config/json_schema.hpp"

#include <charconv>

#include "config/schema_keys.hpp"

namespace fieldbridge::config {
namespace {

using json = nlohmann::json;

constexpr const char* duration_pattern = "^[0-9]+(ms|s|m|h)$";

json section_schema(section s);

// A choice written as a number in YAML ("5") arrives as one.
json choice_values(const std::vector<std::string>& choices) {
    json values = json::array();
    for (const auto& c : choices) {
        values.push_back(c);
        long long n = 0;
        const auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), n);
        if (ec == std::errc() && end == c.data() + c.size())
            values.push_back(n);
    }
    return values;
}

// The loader takes any scalar where it wants text (`password: 1234` is the
// text "1234"); an editor reads such a scalar as a number or a boolean.
json scalar_types() { return json::array({"string", "number", "boolean"}); }

// The loader reads a scalar's text whether it was quoted or not
// (`port: "502"` is 502); quoted, an editor sees a string. Its range is
// checked by `fieldbridge check` only.
json or_quoted(json plain, const char* text_pattern) {
    return {{"anyOf", json::array({std::move(plain), {{"type", "string"}, {"pattern", text_pattern}}})}};
}

json value_schema(const key_spec& k) {
    json v;
    switch (k.kind) {
        case value_kind::string:
            v = {{"type", scalar_types()}};
            break;
        case value_kind::nonempty_string:
            v = {{"type", scalar_types()}, {"minLength", 1}};
            break;
        case value_kind::name:
            v = {{"type", scalar_types()}, {"pattern", name_pattern}};
            break;
        case value_kind::integer:
            v = or_quoted({{"type", "integer"}, {"minimum", k.min}, {"maximum", k.max}},
                          "^[+-]?(0[xX][0-9A-Fa-f]+|[0-9]+)$");
            break;
        case value_kind::integer_set:
            v = {{"enum", k.integers}};
            break;
        case value_kind::number: {
            json n = {{"type", "number"}};
            if (k.number_min)
                n["minimum"] = *k.number_min;
            v = or_quoted(n, "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$");
            break;
        }
        case value_kind::boolean:
            v = or_quoted({{"type", "boolean"}}, "^(true|True|TRUE|false|False|FALSE)$");
            break;
        case value_kind::duration:
            v = {{"type", "string"}, {"pattern", duration_pattern}};
            break;
        case value_kind::seconds:
            v = {{"type", "string"}, {"pattern", "^([0-9]+(s|m|h)|[0-9]*000ms|0ms)$"}};
            break;
        case value_kind::seconds_or_never:
            v = {{"type", "string"}, {"pattern", "^([0-9]+(s|m|h)|[0-9]*000ms|0ms|never)$"}};
            break;
        case value_kind::choice:
            v = {{"enum", choice_values(k.choices)}};
            break;
        case value_kind::nested:
            v = section_schema(k.nested);
            break;
        case value_kind::map_of:
            v = {{"type", "object"},
                 {"propertyNames", {{"pattern", name_pattern}}},
                 {"additionalProperties", section_schema(k.nested)}};
            break;
        case value_kind::list_of:
            v = {{"type", "array"}, {"items", section_schema(k.nested)}};
            break;
        case value_kind::list_of_strings:
            v = {{"type", "array"}, {"items", {{"type", scalar_types()}}}};
            break;
        case value_kind::listen_address:
            v = {{"type", "string"},
                 {"pattern",
                  R"(^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$)"}};
            break;
    }
    v["description"] = std::string(k.description);
    return v;
}

json section_schema(section s) {
    json properties = json::object();
    json required = json::array();
    for (const auto& k : keys_of(s)) {
        properties[std::string(k.name)] = value_schema(k);
        if (k.required)
            required.push_back(std::string(k.name));
    }
    json out = {{"type", "object"}, {"properties", properties}, {"additionalProperties", false}};
    if (!required.empty())
        out["required"] = required;
    // Extension keys, in every section as the loader takes them: anchors live there.
    out["patternProperties"] = {{"^x-", json::object()}};
    if (s == section::bus) {
        // The keys of the other type are errors.
        const auto only = [](const std::vector<std::string>& others) {
            json forbidden = json::array();
            for (const auto& key : others)
                forbidden.push_back({{"required", {key}}});
            return json{{"not", {{"anyOf", forbidden}}}};
        };
        json tcp_then = only(rtu_bus_keys());
        tcp_then["required"] = {"host"};
        json rtu_then = only(tcp_bus_keys());
        rtu_then["required"] = {"device"};
        out["allOf"] =
            json::array({{{"if", {{"properties", {{"type", {{"const", "tcp"}}}}}}}, {"then", tcp_then}},
                         {{"if", {{"properties", {{"type", {{"const", "rtu"}}}}}}}, {"then", rtu_then}}});
    }
    return out;
}

}  // namespace

json json_schema() {
    json schema = section_schema(section::root);
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
    schema["title"] = "fieldbridge configuration";
    schema["description"] =
        "Keys, types, ranges and choices of a fieldbridge configuration (docs/configuration.md). "
        "fieldbridge check validates what needs the whole file: references between sections, duration "
        "ranges, "
        "register layouts.";
    return schema;
}

}  // namespace fieldbridge::config
