// Payload templates (format: template): the parser on its own, and the
// loader's keys (publish, profile, device, point), errors at the
// placeholder's file:line:col, and the template every point is made from.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/loader.hpp"
#include "tests/config/load_errors.hpp"
#include "config/payload_template.hpp"

namespace fieldbridge::config {
namespace {

payload_template parsed(std::string_view text) {
    auto r = parse_payload_template(text);
    if (auto* e = std::get_if<template_error>(&r)) {
        ADD_FAILURE() << text << ": " << e->message << " at " << e->offset;
        return {};
    }
    return std::get<payload_template>(std::move(r));
}

template_error refused(std::string_view text) {
    auto r = parse_payload_template(text);
    if (auto* e = std::get_if<template_error>(&r)) return *e;
    ADD_FAILURE() << text << ": accepted";
    return {};
}

TEST(payload_template, a_text_template_is_split_at_its_placeholders) {
    const auto t = parsed("{{device}}.{{ point }} value={{value}}");
    EXPECT_FALSE(t.json);
    ASSERT_EQ(t.parts.size(), 4u);
    EXPECT_EQ(t.parts[0].literal, "");
    EXPECT_EQ(t.parts[0].field, template_field::device);
    EXPECT_EQ(t.parts[1].literal, ".");
    EXPECT_EQ(t.parts[1].field, template_field::point);
    EXPECT_EQ(t.parts[2].literal, " value=");
    EXPECT_EQ(t.parts[2].field, template_field::value);
    EXPECT_EQ(t.parts[3].literal, "");
    EXPECT_FALSE(t.parts[3].field);
}

TEST(payload_template, every_placeholder_name_is_known) {
    for (const auto f : {template_field::value, template_field::raw, template_field::quality, template_field::error,
                         template_field::unit, template_field::point, template_field::device, template_field::ts,
                         template_field::ts_ms}) {
        const auto t = parsed("{{" + std::string(to_string(f)) + "}}");
        ASSERT_EQ(t.parts.size(), 2u);
        EXPECT_EQ(t.parts[0].field, f);
    }
}

TEST(payload_template, a_json_template_knows_which_placeholders_stand_inside_a_string) {
    const auto t = parsed(R"( {"v":{{value}},"name":"{{device}}/{{point}}","q":"say \"{{quality}}\""} )");
    EXPECT_TRUE(t.json);
    ASSERT_EQ(t.parts.size(), 5u);
    EXPECT_FALSE(t.parts[0].in_string);  // a value
    EXPECT_TRUE(t.parts[1].in_string);
    EXPECT_TRUE(t.parts[2].in_string);
    EXPECT_TRUE(t.parts[3].in_string) << "an escaped quote does not end the string";
    EXPECT_TRUE(parsed("[{{value}},{{ts_ms}}]").json);
    EXPECT_FALSE(parsed("{{value}}").json) << "a placeholder first is text, not an object";
}

TEST(payload_template, an_unknown_placeholder_is_refused_at_its_offset_with_a_suggestion) {
    const auto e = refused("v={{vlaue}}");
    EXPECT_EQ(e.offset, 2u);
    EXPECT_NE(e.message.find("unknown placeholder {{vlaue}}"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("did you mean {{value}}?"), std::string::npos) << e.message;
}

TEST(payload_template, braces_that_open_no_placeholder_are_refused) {
    EXPECT_EQ(refused("a {{value").offset, 2u);
    EXPECT_EQ(refused("{{ value }").offset, 0u);
    EXPECT_EQ(refused("{{}}").offset, 0u);
    EXPECT_NE(refused("").message.find("is empty"), std::string::npos);
}

TEST(payload_template, a_json_template_that_is_not_json_once_filled_in_is_refused_where_it_breaks) {
    const auto e = refused(R"({"v":{{value}} "u":1})");
    EXPECT_EQ(e.offset, 17u) << e.message;  // the end of the second key, where the parser found it
    EXPECT_NE(e.message.find("is not JSON"), std::string::npos) << e.message;
    EXPECT_NE(refused(R"({"v":"{{value}})").message.find("is not JSON"), std::string::npos);
    // Quoting a placeholder that is a value is fine: it is then a string.
    EXPECT_NO_FATAL_FAILURE(parsed(R"({"v":"{{value}}"})"));
}

// A digit stand-in would let these through; a value can be negative, a
// string or null, so each would publish broken JSON.
TEST(payload_template, a_value_placeholder_glued_to_number_text_is_refused) {
    for (const auto* text : {R"({"neg":-{{value}}})", R"({"v":1{{value}}})", R"({"v":{{value}}.5})",
                             R"({"v":{{value}}e3})", R"([0.{{ts_ms}}])"}) {
        EXPECT_NE(refused(text).message.find("is not JSON"), std::string::npos) << text;
    }
}

TEST(payload_template, a_number_too_large_for_json_is_a_refusal_not_a_throw) {
    const auto e = refused(R"({"max":1e999,"v":{{value}}})");
    EXPECT_NE(e.message.find("is not JSON"), std::string::npos) << e.message;
}

// ---- the loader ----

using testing::errors_of;

// Line 1 is left for publish; the device's points come at the end.
std::string plant(const std::string& publish, const std::string& device_extra = "", const std::string& points = "") {
    return publish + "\n" +
           "profiles:\n"
           "  meter:\n"
           "    template: \"P {{value}}\"\n"
           "    points:\n"
           "      - { name: a, register: holding, address: 0 }\n"
           "buses:\n"
           "  line: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
           "devices:\n"
           "  m1:\n"
           "    bus: line\n"
           "    unit_id: 1\n" +
           device_extra +
           "    points:\n"
           "      - { name: b, register: holding, address: 1 }\n" +
           points +
           "  m2: { bus: line, unit_id: 2, profile: meter }\n";
}

const payload_template* template_of(const gateway& g, const std::string& device, const std::string& point) {
    for (const auto& d : g.devices) {
        if (d.name != device) continue;
        for (const auto& p : d.points) {
            if (p.name == point) return effective_template(g.publish, d, p);
        }
    }
    ADD_FAILURE() << "no point " << device << "." << point;
    return nullptr;
}

TEST(payload_template_config, the_points_template_wins_over_the_devices_the_profiles_and_publish) {
    const auto g = load_string(plant("publish: { format: template, template: \"G {{value}}\" }",
                                     "    template: \"D {{value}}\"\n",
                                     "      - { name: c, register: holding, address: 2, template: \"X {{value}}\" }\n"),
                               "plant.yaml");
    EXPECT_EQ(g.publish.format, payload_format::templated);
    EXPECT_EQ(template_of(g, "m1", "b")->text, "D {{value}}");
    EXPECT_EQ(template_of(g, "m1", "c")->text, "X {{value}}");
    EXPECT_EQ(template_of(g, "m2", "a")->text, "P {{value}}") << "the profile's, as a device setting";
    const auto without_device = load_string(plant("publish: { format: template, template: \"G {{value}}\" }"), "p.yaml");
    EXPECT_EQ(template_of(without_device, "m1", "b")->text, "G {{value}}");
}

// "plant.yaml:LINE:COLUMN" of the first needle in yaml.
std::string where(const std::string& yaml, const std::string& needle) {
    const auto at = yaml.find(needle);
    EXPECT_NE(at, std::string::npos) << needle;
    const auto line_start = yaml.rfind('\n', at);
    const auto line = std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1;
    const auto column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    return "plant.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

TEST(payload_template_config, an_unknown_placeholder_is_reported_at_its_line_and_column) {
    // Plain: the column of the placeholder itself.
    auto yaml = plant("publish:\n  format: template\n  template: v={{vlaue}}");
    auto e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "{{vlaue}}") + "publish.template: has an unknown placeholder {{vlaue}}; did you mean "
                                               "{{value}}?"),
              std::string::npos)
        << e;
    // Quoted, in a flow map.
    yaml = plant("publish: { format: template, template: \"v={{vlaue}}\" }");
    e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "{{vlaue}}") + "publish.template"), std::string::npos) << e;
    // A point's, on its line.
    yaml = plant("publish: { format: template }", "",
                 "      - { name: c, register: holding, address: 2, template: \"{{ts_mss}}\" }\n");
    e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "{{ts_mss}}") + "devices.m1.points[c].template"), std::string::npos) << e;
    EXPECT_NE(e.find("did you mean {{ts_ms}}?"), std::string::npos) << e;
    // A block scalar, and a quoted scalar folded over two lines: the
    // placeholder where it was written.
    yaml = plant("publish:\n  format: template\n  template: |\n    {\"v\": {{value}},\n     \"u\": {{units}}}");
    e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "{{units}}") + "publish.template"), std::string::npos) << e;
    yaml = plant("publish:\n  format: template\n  template: '{\"v\": {{value}},\n     \"u\": {{units}}}'");
    e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "{{units}}") + "publish.template"), std::string::npos) << e;
    // Text the file does not hold as the value has it (an escape): at the value.
    yaml = plant("publish: { format: template, template: \"\\x7B{vlaue}}\" }");
    e = errors_of(yaml);
    EXPECT_NE(e.find(where(yaml, "\"\\x7B") + "publish.template: has an unknown placeholder {{vlaue}}"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("(at character 1 of the template)"), std::string::npos) << e;
    // A short piece of text at fault is looked for from its own offset on,
    // not found earlier in the value: the stray '}' after the comma.
    yaml = plant("publish:\n  format: template\n  template: '{\"v\":{{value}},}'");
    e = errors_of(yaml);
    EXPECT_NE(e.find("plant.yaml:3:29: publish.template"), std::string::npos) << e;  // '}' after '},'
    EXPECT_EQ(yaml.substr(yaml.find("},}") + 2, 1), "}");
}

TEST(payload_template_config, format_template_needs_a_template_for_every_point) {
    const auto e = errors_of(plant("publish: { format: template }", "",
                                   "      - { name: c, register: holding, address: 2, template: \"{{value}}\" }\n"));
    EXPECT_NE(e.find("devices.m1.points[b]: publish.format is template and this point has no template"),
              std::string::npos)
        << e;
    EXPECT_EQ(e.find("devices.m2"), std::string::npos) << "m2's profile gives it one:\n" << e;
}

TEST(payload_template_config, a_template_with_another_format_is_a_warning) {
    const auto g = load_string(plant("publish: { format: json }"), "plant.yaml");
    ASSERT_EQ(g.warnings.size(), 1u);
    EXPECT_NE(g.warnings[0].find("profiles.meter.template: a payload template is set but publish.format is json"),
              std::string::npos)
        << g.warnings[0];
}

TEST(payload_template_config, equal_templates_compare_equal_and_others_do_not) {
    const auto a = load_string(plant("publish: { format: template, template: \"{{value}}\" }"), "a.yaml");
    const auto b = load_string(plant("publish: { format: template, template: \"{{value}}\" }"), "b.yaml");
    const auto c = load_string(plant("publish: { format: template, template: \"{{raw}}\" }"), "c.yaml");
    EXPECT_EQ(a.publish, b.publish);
    EXPECT_FALSE(a.publish == c.publish);
}

}  // namespace
}  // namespace fieldbridge::config
