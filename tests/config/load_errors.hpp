// The errors a configuration text loads with, as `check` prints them, for
// the loader's tests. Header-only, test code.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"

namespace fieldbridge::config::testing {

// Every diagnostic of loading yaml as plant.yaml; a test failure when it loads.
inline std::string errors_of(const std::string& yaml) {
    try {
        load_string(yaml, "plant.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "loaded without errors:\n" << yaml;
    return {};
}

}  // namespace fieldbridge::config::testing
