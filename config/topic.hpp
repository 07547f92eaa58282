// MQTT topic templates: "{prefix}/{device}/{point}" expanded per point.
// Placeholders: {prefix} (publish.prefix), {device}, {point}, {bus} (names)
// and {unit} (the device's Modbus unit id). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

// The topic of point p of device d on bus b, from tmpl (the point's own topic
// or publish.topic_template). A placeholder this function does not know is
// copied unchanged; the loader refuses such templates beforehand.
std::string expand_topic(const std::string& tmpl, const publish_settings& publish, const device& d, const point& p,
                         const bus& b);

// The publish topic of a point: its own topic if it has one, else the template.
std::string point_topic(const publish_settings& publish, const device& d, const point& p, const bus& b);

// An availability topic (availability.device_topic for a device,
// availability.gateway_topic with device "" for the gateway's birth, will
// and goodbye): placeholders of a device not configured expand to nothing.
std::string availability_topic(const std::string& tmpl, const gateway& cfg, const std::string& device);
// The gateway's own status topic (availability.gateway_topic expanded).
std::string status_topic(const gateway& cfg);

// The one subscription filter that covers the command topic of every point
// whose topic comes from publish.topic: the template with each placeholder
// level a '+' and {prefix} expanded, then commands.suffix. Nullopt when the
// template has a placeholder sharing a level with other text, or the suffix
// does not start a level of its own ("/set"): then each command topic needs
// a filter of its own.
std::optional<std::string> command_wildcard(const gateway& cfg);

// Why tmpl is not a usable topic template ("unknown placeholder {devise}; ..."),
// or nullopt when it is fine: no unknown or unclosed placeholder, no MQTT
// wildcard (+ #), control character or non-character, not empty, not
// beginning with $SYS or $share.
std::optional<std::string> topic_template_error(std::string_view tmpl);

// Why text cannot be part of a publish topic (wildcards, NUL, a control
// character or non-character: is_refused_code_point), or nullopt.
std::optional<std::string> topic_text_error(std::string_view text);

// "begins with $SYS, which the broker keeps for itself: ...", for a topic
// or template that begins with reserved_topic_prefix().
std::string reserved_topic_error(std::string_view prefix);

// "contains the control character U+0009 at byte 4; ...": for a
// refused code point (common/utf8.hpp) of a topic, client id or user name.
std::string refused_code_point_error(const refused_code_point& at);

}  // namespace fieldbridge::config
