// libFuzzer target for the whole configuration loader: the input is the
// text of a main file, which may !include a few fixed files of a temporary
// directory (a point list, a profile, a file that includes another, one that
// includes itself, one with a syntax error); includes of other paths are
// read only if they are regular files within the bounds, and refused
// otherwise (a device, a FIFO, a missing file).
// Checked, beyond "no crash, no sanitizer report, no hang, bounded memory":
//  - the only way to refuse a text is config_error, with at least one
//    diagnostic, each with a message, a file and a line/column that is
//    either unknown (0) or inside that file's text;
//  - no more than limits::max_diagnostics + 1 diagnostics;
//  - a loaded configuration keeps the bounds (devices, points), prints its
//    point map, and makes the example messages `check` prints (the mapper
//    the service runs, any payload format and template) without a throw.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "config/limits.hpp"
#include "config/loader.hpp"
#include "config/point_map.hpp"
#include "gateway/payload_examples.hpp"

namespace {

namespace fs = std::filesystem;
using namespace fieldbridge::config;

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "config_load_fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

// The directory of included files, made once per process.
struct include_dir {
    fs::path path;
    std::map<std::string, std::string> files;  // path -> text, for checking marks

    include_dir() {
        std::string pattern = (fs::temp_directory_path() / "fieldbridge-config-fuzz-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp", pattern);
        path = pattern;
        write("points.yaml",
              "- { name: v, register: input, address: 0, type: float32, order: cdab, scale: 0.1, unit: V }\n"
              "- { name: on, register: coil, address: 3, writable: true }\n");
        write("profile.yaml", "points: !include points.yaml\ntimeout: 200ms\n");
        write("nested.yaml", "!include points.yaml\n");
        write("self.yaml", "!include self.yaml\n");
        write("broken.yaml", "- { name: a, register: [holding\n");
        write("anchors.yaml", "- &p { name: a, register: holding, address: 0 }\n- *p\n");
    }
    ~include_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) {
        std::ofstream(path / name, std::ios::binary) << text;
        files[(path / name).string()] = text;
    }
};

// Whether line:column (1-based) is inside text (the column may be one past
// the end of its line: an error at the end of a line or of the file).
bool inside(const std::string& text, int line, int column) {
    if (line == 0) return column == 0;
    if (line < 0 || column <= 0) return false;
    std::size_t start = 0;
    for (int l = 1; l < line; ++l) {
        const auto nl = text.find('\n', start);
        if (nl == std::string::npos) return false;
        start = nl + 1;
    }
    const auto end = std::min(text.find('\n', start), text.size());
    return static_cast<std::size_t>(column) <= end - start + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static include_dir dir;
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string main_file = (dir.path / "main.yaml").string();
    try {
        const gateway g = load_string(text, main_file);
        if (g.devices.size() > limits::max_devices) fail("too many devices", std::to_string(g.devices.size()));
        std::size_t points = 0;
        for (const auto& d : g.devices) {
            if (d.points.size() > limits::max_points_per_device) fail("too many points", d.name);
            points += d.points.size();
        }
        if (points > limits::max_points_total) fail("too many points in all", std::to_string(points));
        (void)format_point_map(g);
        (void)fieldbridge::gateway::example_messages(g, std::chrono::system_clock::time_point{});
    } catch (const config_error& e) {
        const auto& all = e.diagnostics();
        if (all.empty()) fail("config_error without diagnostics", e.what());
        if (all.size() > limits::max_diagnostics + 1) fail("too many diagnostics", std::to_string(all.size()));
        for (const auto& d : all) {
            if (d.message.empty()) fail("empty message", to_string(d));
            if (d.file.empty()) fail("no file", to_string(d));
            const std::string* source = nullptr;
            if (d.file == main_file) {
                source = &text;
            } else if (const auto it = dir.files.find(d.file); it != dir.files.end()) {
                source = &it->second;
            }
            // Marks in files outside the directory are not checked.
            if (source && !inside(*source, d.line, d.column)) fail("mark outside its file", to_string(d));
        }
    }
    return 0;
}
