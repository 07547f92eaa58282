// What the model-based tests share: seed counts from the environment and a
// scratch directory, in memory where there is one (the models commit often).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace fieldbridge::testing {

inline std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// The seeds to run, first and last: <prefix>_SEED alone, else 1 to
// <prefix>_SEEDS (default `count`).
inline std::pair<std::uint64_t, std::uint64_t> seed_range(const std::string& prefix, std::uint64_t count) {
    const auto one = env_number((prefix + "_SEED").c_str(), 0);
    if (one != 0) return {one, one};
    return {1, env_number((prefix + "_SEEDS").c_str(), count)};
}

// <dev/shm or the temporary directory>/<prefix>-<pid>, created.
inline std::filesystem::path scratch_dir(const std::string& prefix) {
    const std::filesystem::path shm = "/dev/shm";
    std::error_code ec;
    const auto base = std::filesystem::is_directory(shm, ec) ? shm : std::filesystem::temp_directory_path();
    auto dir = base / (prefix + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace fieldbridge::testing
