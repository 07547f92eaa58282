// payload_template: a `format: template` payload as the operator wrote it,
// parsed once at load. Placeholders are {{name}} (spaces inside allowed):
// value, raw, quality, error, unit, point, device, ts, ts_ms. A template
// whose first character (after blanks) is '{' or '[' is a JSON template: it
// must be JSON with its placeholders filled in, and each placeholder knows
// whether it stands inside a JSON string (its text is escaped there) or
// where a JSON value goes (it becomes one: a number, a string in quotes,
// null). Any other template is text, filled in as it stands. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fieldbridge::config {

enum class template_field : std::uint8_t { value, raw, quality, error, unit, point, device, ts, ts_ms };

// "value", "ts_ms", ...
std::string_view to_string(template_field f);

struct template_part {
    std::string literal;                  // text before the placeholder
    std::optional<template_field> field;  // none: the text after the last placeholder
    bool in_string = false;               // JSON template: the placeholder is inside a JSON string
};

struct payload_template {
    std::string text;  // as written
    bool json = false;
    std::vector<template_part> parts;
};

// Why a template cannot be used, and where in its text (0-based byte offset).
struct template_error {
    std::size_t offset = 0;
    std::string message;
};

std::variant<payload_template, template_error> parse_payload_template(std::string_view text);

// A parsed template held by a point, a device or a profile, shared by every
// copy (a profile's points are not parsed again per device). Two are equal
// when their texts are.
class template_ref {
public:
    template_ref() = default;
    explicit template_ref(payload_template t) : shared_(std::make_shared<const payload_template>(std::move(t))) {}

    const payload_template* get() const { return shared_.get(); }
    explicit operator bool() const { return shared_ != nullptr; }
    bool operator==(const template_ref& other) const {
        if (shared_ == other.shared_) return true;
        return shared_ && other.shared_ && shared_->text == other.shared_->text;
    }

private:
    std::shared_ptr<const payload_template> shared_;
};

}  // namespace fieldbridge::config
