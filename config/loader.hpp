// Loading a configuration: YAML text → a checked config::gateway.
// Free functions; each call is independent and safe to run on any thread.
#pragma once

#include <string>

#include "config/config_error.hpp"
#include "config/model.hpp"

namespace fieldbridge::config {

// Reads and checks the file at path (and the files it !includes). Throws
// config_error listing every problem found, each with file:line:column.
gateway load_file(const std::string& path);

// The same from text; file_name is used in messages and as the base for
// relative !include and TLS paths (the working directory when it has none).
gateway load_string(const std::string& yaml, const std::string& file_name = "<string>");

}  // namespace fieldbridge::config
