// The metrics endpoint's answer: the figures of a status snapshot in the
// Prometheus text exposition format (version 0.0.4). Every family is
// written with its HELP and TYPE lines even when it has no sample yet, so
// that a dashboard's queries always name a family the gateway serves.
//
// Names follow the Prometheus conventions: a `fieldbridge_` prefix, `_total`
// on counters, base units in the name (`_seconds`, `_bytes`, `_ratio`).
// Labels are bounded by the configuration: per bus and per device, never
// per point. The process figures use the names the Prometheus client
// libraries use (`process_resident_memory_bytes`, ...). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/status_report.hpp"

namespace fieldbridge::gateway {

// The content type of the answer.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

std::string metrics_report(const status_snapshot& s);

// The names of the metric families metrics_report writes (without the
// _bucket/_sum/_count of a histogram's samples).
std::vector<std::string> metric_families();

}  // namespace fieldbridge::gateway
