// The configuration as a JSON Schema (draft 2020-12), generated from
// schema_keys: what `fieldbridge schema` prints, for editors (the
// yaml-language-server modeline) and for checking configurations elsewhere.
// It checks keys, types, integer ranges, choices and the form of durations
// and names; what needs the whole configuration (a device's bus exists,
// duration ranges, a point's registers fit) stays with `fieldbridge check`.
// Pure.
#pragma once

#include <nlohmann/json.hpp>

namespace fieldbridge::config {

nlohmann::json json_schema();

}  // namespace fieldbridge::config
