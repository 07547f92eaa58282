#include "config/payload_template.hpp"

#include <array>
#include <cctype>

#include <nlohmann/json.hpp>

#include "config/suggestion.hpp"

namespace fieldbridge::config {

namespace {

constexpr std::array<std::pair<std::string_view, template_field>, 9> fields{{
    {"value", template_field::value},
    {"raw", template_field::raw},
    {"quality", template_field::quality},
    {"error", template_field::error},
    {"unit", template_field::unit},
    {"point", template_field::point},
    {"device", template_field::device},
    {"ts", template_field::ts},
    {"ts_ms", template_field::ts_ms},
}};

const std::string expected =
    "; expected placeholders among {{value}} {{raw}} {{quality}} {{error}} {{unit}} {{point}} {{device}} {{ts}} "
    "{{ts_ms}}";

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// A JSON template starts (after blanks) with an object or an array, not
// with a placeholder.
bool is_json(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return false;
    if (text[first] != '{' && text[first] != '[') return false;
    return text.substr(first, 2) != "{{";
}

// The template with every placeholder stood in by a value of its place
// (null where a JSON value goes: whatever parses around a null parses
// around any value, where a digit could merge with the text beside it, as
// in -{{value}}; x inside a string) must be JSON; the error's offset is
// mapped back to the template's text.
std::optional<template_error> json_error(const payload_template& t) {
    std::string stood_in;
    std::vector<std::size_t> origin;  // per byte of stood_in, its offset in t.text
    std::size_t at = 0;
    for (const auto& part : t.parts) {
        for (std::size_t k = 0; k < part.literal.size(); ++k) origin.push_back(at + k);
        stood_in += part.literal;
        at += part.literal.size();
        if (!part.field) continue;
        const std::string_view stand_in = part.in_string ? "x" : "null";
        stood_in += stand_in;
        origin.insert(origin.end(), stand_in.size(), at);
        // The placeholder's own length in the text: find its closing braces.
        at = t.text.find("}}", at) + 2;
    }
    try {
        const auto parsed = nlohmann::json::parse(stood_in);
        (void)parsed;
    } catch (const nlohmann::json::exception& e) {
        // A parse error's byte is 1-based and may point one past the end;
        // other errors (a number too large for a double) have no place.
        const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&e);
        const std::size_t byte = parse == nullptr || parse->byte == 0 ? 0 : parse->byte - 1;
        const std::size_t offset = byte < origin.size() ? origin[byte] : t.text.size();
        std::string why = e.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ... ": keep the reason.
        if (const auto colon = why.find(": "); colon != std::string::npos) why = why.substr(colon + 2);
        return template_error{offset, "starts like JSON but is not JSON with its placeholders filled in (" + why +
                                          "); expected a JSON object or array, or a text template that does not "
                                          "start with '{' or '['"};
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(template_field f) {
    for (const auto& [name, field] : fields) {
        if (field == f) return name;
    }
    return "?";
}

std::variant<payload_template, template_error> parse_payload_template(std::string_view text) {
    payload_template t;
    t.text = std::string(text);
    t.json = is_json(text);
    if (text.empty()) return template_error{0, "is empty; expected a payload such as {\"v\":{{value}}}"};
    bool in_string = false;
    bool escaped = false;
    std::string literal;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 2) == "{{") {
            std::size_t k = i + 2;
            while (k < text.size() && text[k] == ' ') ++k;
            const std::size_t name_begin = k;
            while (k < text.size() && name_char(text[k])) ++k;
            const std::string_view name = text.substr(name_begin, k - name_begin);
            while (k < text.size() && text[k] == ' ') ++k;
            if (text.substr(k, 2) != "}}") {
                return template_error{i, "has '{{' that does not open a placeholder {{name}}" + expected};
            }
            std::optional<template_field> field;
            for (const auto& [n, f] : fields) {
                if (n == name) field = f;
            }
            if (!field) {
                std::string message = "has an unknown placeholder {{" + std::string(name) + "}}";
                std::vector<std::string> names;
                names.reserve(fields.size());
                for (const auto& [n, f] : fields) names.emplace_back(n);
                if (const auto guess = closest_match(name, names)) message += "; did you mean {{" + *guess + "}}?";
                return template_error{i, message + expected};
            }
            t.parts.push_back(template_part{std::move(literal), field, t.json && in_string});
            literal.clear();
            i = k + 2;
            continue;
        }
        const char c = text[i];
        if (t.json) {
            if (escaped) {
                escaped = false;
            } else if (in_string && c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = !in_string;
            }
        }
        literal += c;
        ++i;
    }
    t.parts.push_back(template_part{std::move(literal), std::nullopt, false});
    if (t.json) {
        if (auto why = json_error(t)) return std::move(*why);
    }
    return t;
}

}  // namespace fieldbridge::config
