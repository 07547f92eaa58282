// YAML as people write it, and YAML written to hurt: anchors and aliases
// reused by many devices load as written (the tree is never changed by
// reading it); alias bombs, endless or oversized files, files nested too
// deep and text that is not UTF-8 are refused with file:line:col and the
// bound they pass, before they can take the memory of the gateway.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "config/flow_nesting.hpp"
#include "config/limits.hpp"
#include "config/loader.hpp"
#include "config/yaml_tree.hpp"
#include "tests/support/utf8_text.hpp"

namespace fieldbridge::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Every diagnostic of a configuration that must not load, one per line.
std::string errors_of(const std::string& yaml, const std::string& file = "plant.yaml") {
    try {
        load_string(yaml, file);
    } catch (const config_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "loaded without errors";
    return {};
}

std::string file_errors_of(const fs::path& file) {
    try {
        load_file(file.string());
    } catch (const config_error& e) {
        return e.what();
    }
    ADD_FAILURE() << file << " loaded without errors";
    return {};
}

std::size_t lines_of(const std::string& text) {
    if (text.empty()) return 0;
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

// A directory of its own, removed at the end of the test.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "fieldbridge-yaml-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path write(const std::string& name, const std::string& text) const {
        const auto file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }

private:
    fs::path path_;
};

const std::string three_points = "[{ name: v, register: input, address: 0, type: uint16, scale: 0.1 },\n"
                                 "       { name: i, register: input, address: 1, type: int16 },\n"
                                 "       { name: on, register: coil, address: 7, writable: true }]";

void expect_three_points(const device& d) {
    ASSERT_EQ(d.points.size(), 3u) << d.name;
    EXPECT_EQ(d.points[0].name, "v");
    EXPECT_EQ(d.points[0].kind, register_kind::input_register);
    EXPECT_EQ(d.points[0].type, data_type::uint16);
    EXPECT_EQ(d.points[0].scale, 0.1);
    EXPECT_EQ(d.points[1].name, "i");
    EXPECT_EQ(d.points[1].address, 1);
    EXPECT_EQ(d.points[1].type, data_type::int16);
    EXPECT_EQ(d.points[2].name, "on");
    EXPECT_EQ(d.points[2].kind, register_kind::coil);
    EXPECT_TRUE(d.points[2].writable);
}

// ---- anchors and aliases, as people write them ----

TEST(yaml_aliases, a_device_anchored_under_an_extension_key_is_reused_by_a_thousand_devices) {
    constexpr int devices = 1000;
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                       "x-defaults: &dev {bus: b1, unit_id: 7, poll_interval: 2s,\n  points: " +
                       three_points + "}\ndevices:\n";
    for (int i = 0; i < devices; ++i) yaml += "  d" + std::to_string(i) + ": *dev\n";

    const gateway g = load_string(yaml, "plant.yaml");
    EXPECT_TRUE(g.warnings.empty()) << g.warnings.front();
    ASSERT_EQ(g.devices.size(), static_cast<std::size_t>(devices));
    for (int i = 0; i < devices; ++i) {
        const device& d = g.devices[static_cast<std::size_t>(i)];
        EXPECT_EQ(d.name, "d" + std::to_string(i));
        EXPECT_EQ(d.bus, "b1");
        EXPECT_EQ(d.unit_id, 7);
        EXPECT_EQ(d.poll_interval, std::chrono::seconds{2});
        expect_three_points(d);
        // One list read once: the aliases share it like a profile's devices.
        EXPECT_TRUE(d.points.shares_with(g.devices[0].points)) << d.name;
    }
}

TEST(yaml_aliases, anchored_point_lists_and_settings_are_reused_with_extension_keys_anywhere) {
    // Anchors in x- keys at the top, in a device and in a point list's
    // owner; aliases for the point list and for single values.
    const std::string yaml = "x-points: &pts " + three_points + R"(
x-timing: &slow 500ms
buses:
  b1: { type: tcp, host: 127.0.0.1, port: 1502, x-note: "rack 3" }
devices:
  m1: { bus: b1, unit_id: 1, timeout: *slow, points: *pts, x-site: &site north }
  m2: { bus: b1, unit_id: 2, timeout: *slow, points: *pts, x-again: *site }
  m3:
    bus: b1
    unit_id: 3
    points: *pts
)";
    const gateway g = load_string(yaml, "plant.yaml");
    EXPECT_TRUE(g.warnings.empty()) << g.warnings.front();
    ASSERT_EQ(g.devices.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(g.devices[i].unit_id, static_cast<int>(i + 1));
        expect_three_points(g.devices[i]);
    }
    EXPECT_EQ(g.devices[0].timeout, std::chrono::milliseconds{500});
    EXPECT_EQ(g.devices[1].timeout, std::chrono::milliseconds{500});
    EXPECT_EQ(g.devices[2].timeout, device{}.timeout);
}

TEST(yaml_aliases, an_error_in_aliased_content_is_reported_where_it_is_written) {
    // The value is written once, at the anchor: that is where to fix it, for
    // each device that uses it.
    const std::string yaml = R"(buses:
  b1: { type: tcp, host: 127.0.0.1, port: 1502 }
x-dev: &dev
  bus: b1
  unit_id: 300
  points: [{ name: a, register: holding, address: 0 }]
devices:
  d0: *dev
  d1: *dev
)";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 2u) << e;
    EXPECT_NE(e.find("plant.yaml:5:12: devices.d0.unit_id: 300 is out of range"), std::string::npos) << e;
    EXPECT_NE(e.find("plant.yaml:5:12: devices.d1.unit_id: 300 is out of range"), std::string::npos) << e;
}

TEST(yaml_aliases, merge_keys_take_a_devices_settings_with_its_own_on_top) {
    // YAML merge keys: the keys of the device win wherever they are
    // written; of several maps merged, the earlier wins; a merged map's own
    // merge keys apply too.
    const std::string yaml = R"(buses:
  b1: { type: tcp, host: 127.0.0.1, port: 1502 }
  b2: { type: tcp, host: 127.0.0.1, port: 1503 }
x-base: &base { timeout: 300ms, retries: 1 }
x-dev: &dev
  <<: *base
  bus: b1
  unit_id: 1
  points: )" + three_points + R"(
x-fast: &fast { poll_interval: 100ms, timeout: 50ms }
devices:
  d0: *dev
  d1: { unit_id: 2, <<: *dev }
  d2:
    <<: [*fast, *dev]
    bus: b2
    unit_id: 3
)";
    const gateway g = load_string(yaml, "plant.yaml");
    EXPECT_TRUE(g.warnings.empty()) << g.warnings.front();
    ASSERT_EQ(g.devices.size(), 3u);
    const auto& d0 = g.devices[0];
    const auto& d1 = g.devices[1];
    const auto& d2 = g.devices[2];
    EXPECT_EQ(std::tuple(d0.bus, d0.unit_id, d0.timeout, d0.retries), std::tuple("b1", 1, 300ms, 1));
    EXPECT_EQ(std::tuple(d1.bus, d1.unit_id, d1.timeout, d1.retries), std::tuple("b1", 2, 300ms, 1));
    EXPECT_EQ(std::tuple(d2.bus, d2.unit_id, d2.timeout, d2.retries), std::tuple("b2", 3, 50ms, 1));
    EXPECT_EQ(d2.poll_interval, 100ms);
    EXPECT_EQ(d0.poll_interval, device{}.poll_interval);
    for (const auto& d : g.devices) {
        expect_three_points(d);
        EXPECT_TRUE(d.points.shares_with(d0.points)) << d.name;
    }

    auto e = errors_of("x-dev: &dev { bus: b1 }\ndevices:\n  d0: { <<: 5, unit_id: 1 }\n");
    EXPECT_NE(e.find("plant.yaml:3:13: devices.d0.<<: found 5; expected a map or a list of maps to merge"),
              std::string::npos)
        << e;
    // A quoted "<<" is a key like any other.
    e = errors_of("buses: { b1: { type: tcp, host: h } }\nx-dev: &dev { unit_id: 1 }\n"
                  "devices:\n  d0: { '<<': *dev, bus: b1 }\n");
    EXPECT_NE(e.find("plant.yaml:4:9: devices.d0.<<: unknown key"), std::string::npos) << e;
}

// ---- alias bombs ----

// The classic: each level a list of `width` aliases of the level before.
struct bomb {
    std::string yaml;
    std::vector<std::string> lines;
};

bomb make_bomb(int levels, int width) {
    bomb b;
    std::string first = "x-l0: &l0 [";
    for (int i = 0; i < width; ++i) first += i ? ", x" : "x";
    b.lines.push_back(first + "]");
    for (int level = 1; level < levels; ++level) {
        std::string line = "x-l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
        for (int i = 0; i < width; ++i) line += (i ? ", *l" : "*l") + std::to_string(level - 1);
        b.lines.push_back(line + "]");
    }
    for (const auto& l : b.lines) b.yaml += l + "\n";
    return b;
}

TEST(yaml_aliases, a_billion_laughs_is_refused_at_the_alias_that_passes_the_bound) {
    // Nine levels of ten: 10^9 scalars from a file of 500 bytes.
    const bomb b = make_bomb(9, 10);
    ASSERT_LT(b.yaml.size(), 600u);
    // Where it passes the bound, worked out from the node counts: the root
    // map, then per level its key and its list (1 + width x the level below).
    std::uint64_t total = 1;
    std::uint64_t level_size = 0;
    std::size_t line = 0;
    std::size_t alias = 0;
    std::uint64_t target = 0;
    for (std::size_t level = 0; level < b.lines.size() && line == 0; ++level) {
        total += 2;  // the key and the list
        const std::uint64_t below = level_size;
        level_size = 1;
        for (int i = 0; i < 10; ++i) {
            const std::uint64_t item = level == 0 ? 1 : below;
            total += item;
            level_size += item;
            if (total > limits::max_nodes) {
                line = level + 1;
                alias = static_cast<std::size_t>(i);
                target = item;
                break;
            }
        }
    }
    ASSERT_NE(line, 0u);
    // The column of that alias in its line.
    std::size_t column = b.lines[line - 1].find('[') + 2;
    for (std::size_t i = 0; i < alias; ++i) column = b.lines[line - 1].find('*', column) + 1;
    const std::string where = "plant.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ";

    // Used where the loader reads it, not only parked under an x- key.
    const auto e = errors_of(b.yaml + "buses: { b1: { type: tcp, host: 127.0.0.1, port: 1502 } }\n"
                                      "devices: { d0: { bus: b1, unit_id: 1, points: *l8 } }\n");
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find(where + "alias *l" + std::to_string(line - 2) + " expands to " + std::to_string(target) +
                     " nodes, making " + std::to_string(total) + " nodes so far; expected at most " +
                     std::to_string(limits::max_nodes) + " nodes"),
              std::string::npos)
        << e << "\nexpected at " << where;
}

TEST(yaml_aliases, bombs_of_every_shape_are_refused_exactly_when_they_pass_the_bound) {
    // A class of bombs (levels x width): the expanded size is known in closed
    // form; a bomb loads (x- keys are not read) exactly when it fits.
    for (int levels = 1; levels <= 8; ++levels) {
        for (int width : {1, 2, 3, 7, 10, 16, 40}) {
            const bomb b = make_bomb(levels, width);
            std::uint64_t total = 1;
            std::uint64_t size = 0;
            for (int level = 0; level < levels; ++level) {
                size = 1 + static_cast<std::uint64_t>(width) * (level == 0 ? 1 : size);
                total += 1 + size;
                if (total > 2 * limits::max_nodes) break;
            }
            SCOPED_TRACE("levels " + std::to_string(levels) + " width " + std::to_string(width));
            if (total <= limits::max_nodes) {
                EXPECT_NO_THROW(load_string(b.yaml, "plant.yaml"));
            } else {
                const auto e = errors_of(b.yaml);
                EXPECT_EQ(lines_of(e), 1u) << e;
                EXPECT_NE(e.find("nodes so far; expected at most " + std::to_string(limits::max_nodes)),
                          std::string::npos)
                    << e;
            }
        }
    }
}

TEST(yaml_aliases, a_point_list_bomb_through_devices_is_refused) {
    // 1000 points written once (about 60 KB) for the first device, 999 more
    // devices aliasing them: a million points. Refused on the node bound at
    // the alias that passes it.
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                       "devices:\n  d0:\n    bus: b1\n    unit_id: 1\n    points: &p\n";
    for (int i = 0; i < 1000; ++i) {
        yaml += "      - { name: p" + std::to_string(i) + ", register: holding, address: " + std::to_string(i) +
                " }\n";
    }
    // Nodes before the second device: the root map; buses: its key, map,
    // b1's key, map and 3 pairs; devices: its key and map; d0: its key, map,
    // 3 keys, 2 values and the list of 1000 maps of 3 pairs.
    const std::uint64_t first = 1 + (1 + 1 + 1 + 1 + 6) + (1 + 1) + (1 + 1 + 3 + 2 + (1 + 1000 * 7));
    // A device: its key, map, 3 keys, 2 values, then the alias.
    constexpr std::uint64_t before_alias = 7;
    std::uint64_t total = first;
    int passing = 0;
    std::string passing_line;
    for (int i = 1; i < 1000; ++i) {
        const std::string line = "  d" + std::to_string(i) + ": { bus: b1, unit_id: 1, points: *p }";
        yaml += line + "\n";
        if (passing == 0) {
            total += before_alias + 7001;
            if (total > limits::max_nodes) {
                passing = i;
                passing_line = line;
            }
        }
    }
    ASSERT_NE(passing, 0);
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:" + std::to_string(1007 + passing) + ":" +
                     std::to_string(passing_line.find('*') + 1) + ": alias *p expands to 7001 nodes, making " +
                     std::to_string(total) + " nodes so far"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("expected at most " + std::to_string(limits::max_nodes) + " nodes"), std::string::npos) << e;
}

TEST(yaml_aliases, an_alias_inside_the_node_it_names_is_refused) {
    const auto e = errors_of("x-loop: &a [1, *a]\n");
    EXPECT_NE(e.find("plant.yaml:1:16: alias *a is inside the node it names"), std::string::npos) << e;
}

// ---- devices and points ----

TEST(yaml_limits, more_devices_than_the_bound_are_refused) {
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                       "x-dev: &dev { bus: b1, unit_id: 1, points: [{ name: a, register: holding, address: 0 }] }\n"
                       "devices:\n";
    for (std::size_t i = 0; i <= limits::max_devices; ++i) yaml += "  d" + std::to_string(i) + ": *dev\n";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    const std::string line = std::to_string(5 + limits::max_devices);
    EXPECT_NE(e.find("plant.yaml:" + line + ":3: devices.d" + std::to_string(limits::max_devices) +
                     ": more than " + std::to_string(limits::max_devices) + " devices"),
              std::string::npos)
        << e;
}

// A profile is kept with a device's whole set of defaults while the file is
// read, and a bus with its link: without their own bounds a file of a
// million short entries (within the node bound) took a gigabyte.
TEST(yaml_limits, more_profiles_or_buses_than_their_bounds_are_refused) {
    const std::vector<std::tuple<std::string, std::size_t, std::string>> sections = {
        {"profiles", limits::max_profiles, "{ points: [] }"},
        {"buses", limits::max_buses, "{ type: tcp, host: 127.0.0.1 }"},
    };
    for (const auto& [section, bound, entry] : sections) {
        const std::string name = section.substr(0, 1);
        std::string yaml = section + ":\n";
        for (std::size_t i = 0; i <= bound + 10; ++i) yaml += "  " + name + std::to_string(i) + ": " + entry + "\n";
        const auto e = errors_of(yaml);
        EXPECT_EQ(lines_of(e), 1u) << section << ": " << e;
        EXPECT_NE(e.find("plant.yaml:" + std::to_string(bound + 2) + ":3: " + section + "." + name +
                         std::to_string(bound) + ": more than " + std::to_string(bound) + " " + section +
                         "; expected at most " + std::to_string(bound) + " " + section +
                         " per gateway (the " + section + " after it are not read)"),
                  std::string::npos)
            << e;
    }
}

TEST(yaml_limits, more_keys_in_one_map_than_the_bound_are_refused) {
    std::string yaml;
    for (std::size_t i = 0; i <= limits::max_map_keys + 5; ++i) yaml += "x-" + std::to_string(i) + ": 1\n";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:" + std::to_string(limits::max_map_keys + 1) + ":1: x-" +
                     std::to_string(limits::max_map_keys) + ": more than " + std::to_string(limits::max_map_keys) +
                     " keys in one map (merged maps included); expected at most " +
                     std::to_string(limits::max_map_keys)),
              std::string::npos)
        << e;
    // Merged keys count as well.
    std::string merged = "x-big: &big\n";
    for (std::size_t i = 0; i < limits::max_map_keys; ++i) merged += "  k" + std::to_string(i) + ": 1\n";
    merged += "buses: { b1: { type: tcp, host: h } }\ndevices:\n  d0:\n    bus: b1\n    <<: *big\n";
    const auto m = errors_of(merged);
    EXPECT_NE(m.find("devices.d0.k9998: more than " + std::to_string(limits::max_map_keys) +
                     " keys in one map (merged maps included)"),
              std::string::npos)
        << m;
}

TEST(yaml_limits, keys_of_maps_merged_at_every_depth_count_together) {
    // Three maps of 4 000 keys, each merged into the next: 12 000 keys
    // reach the device, though no map has more than 4 000 of its own.
    std::string yaml;
    for (int level = 0; level < 3; ++level) {
        yaml += "x-m" + std::to_string(level) + ": &m" + std::to_string(level) + "\n";
        if (level > 0) yaml += "  <<: *m" + std::to_string(level - 1) + "\n";
        for (int k = 0; k < 4'000; ++k) yaml += "  l" + std::to_string(level) + "k" + std::to_string(k) + ": 1\n";
    }
    yaml += "buses: { b1: { type: tcp, host: h } }\ndevices:\n  d0:\n    bus: b1\n    <<: *m2\n";
    const auto e = errors_of(yaml);
    EXPECT_NE(e.find("more than " + std::to_string(limits::max_map_keys) + " keys in one map (merged maps included)"),
              std::string::npos)
        << e.substr(0, 2000);
}

// "did you mean" compares a name with every name known: for 5 000 devices
// that name an unknown bus among 5 000 long names it would take hours. The
// first references get a suggestion; the others the list of names alone.
TEST(yaml_limits, only_the_first_unknown_references_get_a_suggestion) {
    std::string yaml = "buses:\n  line: { type: tcp, host: h }\ndevices:\n";
    for (int i = 0; i < 30; ++i) yaml += "  d" + std::to_string(i) + ": { bus: lne, unit_id: 1 }\n";
    const auto e = errors_of(yaml);
    std::size_t suggested = 0;
    std::size_t listed = 0;
    for (std::size_t at = e.find("no bus named lne"); at != std::string::npos; at = e.find("no bus named lne", at + 1)) {
        const auto end = e.find('\n', at);
        const auto line = e.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.find("did you mean line?") != std::string::npos) ++suggested;
        if (line.find("expected one of: line") != std::string::npos) ++listed;
    }
    EXPECT_EQ(suggested, 20u) << e;
    EXPECT_EQ(listed, 30u) << e;
}

TEST(yaml_limits, exactly_as_many_profiles_and_buses_as_their_bounds_load) {
    std::string yaml = "profiles:\n";
    for (std::size_t i = 0; i < limits::max_profiles; ++i) {
        yaml += "  p" + std::to_string(i) + ": { points: [{ name: a, register: holding, address: 0 }] }\n";
    }
    yaml += "buses:\n";
    for (std::size_t i = 0; i < limits::max_buses; ++i) yaml += "  b" + std::to_string(i) + ": { type: tcp, host: h }\n";
    yaml += "devices:\n";
    for (std::size_t i = 0; i < limits::max_buses; ++i) {
        yaml += "  d" + std::to_string(i) + ": { bus: b" + std::to_string(i) + ", unit_id: 1, profile: p" +
                std::to_string(i % limits::max_profiles) + " }\n";
    }
    const auto g = load_string(yaml, "plant.yaml");
    EXPECT_EQ(g.profiles.size(), limits::max_profiles);
    EXPECT_EQ(g.buses.size(), limits::max_buses);
    ASSERT_EQ(g.devices.size(), limits::max_buses);
    EXPECT_EQ(g.devices.back().bus, "b" + std::to_string(limits::max_buses - 1));
    EXPECT_EQ(g.devices.back().points.size(), 1u);
}

std::string point_lines(std::size_t count, const std::string& indent) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        out += indent + "- { name: p" + std::to_string(i) + ", register: holding, address: " + std::to_string(i) +
               " }\n";
    }
    return out;
}

TEST(yaml_limits, more_points_per_device_than_the_bound_are_refused) {
    const std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                             "devices:\n  d0:\n    bus: b1\n    unit_id: 1\n    points:\n" +
                             point_lines(limits::max_points_per_device + 1, "      ");
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:8:7: devices.d0.points: " + std::to_string(limits::max_points_per_device + 1) +
                     " points; expected at most " + std::to_string(limits::max_points_per_device)),
              std::string::npos)
        << e;
}

TEST(yaml_limits, more_points_in_all_devices_than_the_bound_are_refused) {
    const std::size_t per_device = limits::max_points_per_device;
    const std::size_t devices = limits::max_points_total / per_device + 1;
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\nx-points: &p\n" +
                       point_lines(per_device, "  ") + "devices:\n";
    for (std::size_t i = 0; i < devices; ++i) {
        yaml += "  d" + std::to_string(i) + ": { bus: b1, unit_id: " + std::to_string(i + 1) + ", points: *p }\n";
    }
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    const std::string line = std::to_string(4 + per_device + devices);
    EXPECT_NE(e.find("plant.yaml:" + line + ":3: devices.d" + std::to_string(devices - 1) +
                     ": the devices up to this one have " + std::to_string(devices * per_device) +
                     " points; expected at most " + std::to_string(limits::max_points_total)),
              std::string::npos)
        << e;
}

TEST(yaml_limits, more_points_in_all_profiles_than_the_bound_are_refused) {
    const std::size_t per_profile = limits::max_points_per_device;
    const std::size_t profiles = limits::max_profile_points / per_profile + 1;
    std::string yaml = "x-points: &p\n" + point_lines(per_profile, "  ") + "profiles:\n";
    for (std::size_t i = 0; i < profiles + 3; ++i) yaml += "  p" + std::to_string(i) + ": { points: *p }\n";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:" + std::to_string(2 + per_profile + profiles) + ":3: profiles.p" +
                     std::to_string(profiles - 1) + ": the profiles up to this one have " +
                     std::to_string(profiles * per_profile) + " points; expected at most " +
                     std::to_string(limits::max_profile_points) + " points in all profiles together"),
              std::string::npos)
        << e;
}

TEST(yaml_limits, topics_past_their_bound_in_all_points_are_refused_before_they_are_kept) {
    // A topic template of a few lines makes long topics for every point: the
    // gateway would keep them all (mapper, command table). Refused at the
    // point where they pass the bound, before any more are made.
    const std::string long_level(60'000, 'x');
    const std::size_t per_device = 200;
    const std::size_t devices = limits::max_topic_bytes / (per_device * long_level.size()) + 2;
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\npublish:\n  topic: \"" +
                       long_level + "/{device}/{point}\"\nx-points: &p\n" + point_lines(per_device, "  ") +
                       "devices:\n";
    for (std::size_t i = 0; i < devices; ++i) {
        yaml += "  d" + std::to_string(i) + ": { bus: b1, unit_id: " + std::to_string(i + 1) + ", points: *p }\n";
    }
    std::size_t bytes = 0;
    std::string crossing;
    std::size_t crossing_line = 0;
    for (std::size_t d = 0; d < devices && crossing.empty(); ++d) {
        for (std::size_t p = 0; p < per_device; ++p) {
            bytes += long_level.size() + 2 + ("d" + std::to_string(d)).size() + ("p" + std::to_string(p)).size();
            if (bytes > limits::max_topic_bytes) {
                crossing = "devices.d" + std::to_string(d) + ".points[p" + std::to_string(p) + "]";
                crossing_line = 6 + p;  // the point's line in the profile
                break;
            }
        }
    }
    ASSERT_FALSE(crossing.empty());
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e.substr(0, 2000);
    EXPECT_NE(e.find("plant.yaml:" + std::to_string(crossing_line) + ":5: " + crossing +
                     ": the topics of the points up to this one come to " + std::to_string(bytes) +
                     " bytes; expected at most " + std::to_string(limits::max_topic_bytes) +
                     " bytes of topics in all points together (64 MiB): shorten publish.topic"),
              std::string::npos)
        << e.substr(0, 2000);
}

TEST(yaml_limits, a_million_mistakes_are_counted_not_listed) {
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                       "devices:\n  d0: { bus: b1, unit_id: 1, points: [{ name: a, register: holding, address: 0";
    const std::size_t mistakes = 3 * limits::max_diagnostics;
    for (std::size_t i = 0; i < mistakes; ++i) yaml += ", k" + std::to_string(i) + ": 1";
    yaml += " }] }\n";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), limits::max_diagnostics + 1) << e.substr(0, 500);
    EXPECT_NE(e.find("plant.yaml: and " + std::to_string(mistakes - limits::max_diagnostics) +
                     " more error(s) not listed"),
              std::string::npos)
        << e.substr(e.size() - 300);
}

// A name of the file quoted in every error it causes: a long one through
// an alias in a thousand devices, and the names of every bus listed as the
// choices. Each message is cut (the name to 80 bytes, the list to 20
// names, the message to limits::max_diagnostic_bytes), so the errors of any
// file take at most a few MB to hold and print.
TEST(yaml_limits, a_long_name_quoted_in_a_thousand_errors_is_cut_in_each) {
    const std::string long_name(64 * 1024, 'z');
    std::string yaml = "buses:\n";
    for (int b = 0; b < 30; ++b) {
        yaml += "  bus_" + std::to_string(b) + "_" + std::string(200, 'b') +
                ": { type: tcp, host: 127.0.0.1, port: 1502 }\n";
    }
    yaml += "devices:\n  d0: { bus: &x \"" + long_name + "\", unit_id: 1 }\n";
    for (int d = 1; d < 1000; ++d)
        yaml += "  d" + std::to_string(d) + ": { bus: *x, unit_id: 1 }\n";
    const auto e = errors_of(yaml);
    EXPECT_LT(e.size(), (limits::max_diagnostics + 1) * (limits::max_diagnostic_bytes + 64))
        << e.substr(0, 500);
    std::size_t references = 0;
    for (std::size_t at = 0, end = 0; at < e.size(); at = end + 1) {
        end = std::min(e.find('\n', at), e.size());
        const auto line = e.substr(at, end - at);
        ASSERT_LE(line.size(), limits::max_diagnostic_bytes + 64) << line.substr(0, 300);
        if (line.find(": no bus named ") == std::string::npos)
            continue;
        ++references;
        EXPECT_NE(line.find("no bus named " + std::string(80, 'z') + "... (65536 bytes)"), std::string::npos)
            << line.substr(0, 300);
        EXPECT_NE(line.find(" and 10 more"), std::string::npos) << line.substr(0, 300);
    }
    EXPECT_EQ(references, 1000u) << e.substr(0, 500);
}

// ---- files ----

TEST(yaml_files, an_include_of_dev_zero_or_of_a_fifo_is_refused_without_reading_it) {
    temp_dir dir;
    const auto fifo = dir.path() / "points.fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const std::string base = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                             "devices:\n  d0: { bus: b1, unit_id: 1, points: !include ";
    auto e = errors_of(base + "/dev/zero }\n", (dir.path() / "plant.yaml").string());
    EXPECT_NE(e.find("plant.yaml:4:38: devices.d0.points: !include /dev/zero is not a regular file (a device, "
                     "FIFO or socket); expected a regular YAML file"),
              std::string::npos)
        << e;
    e = errors_of(base + "points.fifo }\n", (dir.path() / "plant.yaml").string());
    EXPECT_NE(e.find(":4:38: devices.d0.points: !include " + fifo.string() + " is not a regular file"),
              std::string::npos)
        << e;
    e = file_errors_of("/dev/zero");
    EXPECT_EQ(e, "/dev/zero: the configuration file is not a regular file (a device, FIFO or socket); expected a "
                 "regular YAML file");
}

TEST(yaml_files, files_past_the_size_bounds_are_refused) {
    temp_dir dir;
    // A comment as long as the bound allows, and one byte more.
    const std::string at_bound = "#" + std::string(limits::max_file_bytes - 2, 'x') + "\n";
    const std::string past_bound = at_bound + "\n";
    dir.write("fits.yaml", "[]\n#" + at_bound.substr(4));
    dir.write("big.yaml", past_bound);
    const auto main_file = (dir.path() / "plant.yaml").string();
    const std::string base = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                             "devices:\n  d0: { bus: b1, unit_id: 1, points: !include ";

    auto e = errors_of(base + "big.yaml }\n", main_file);
    EXPECT_NE(e.find(":4:38: devices.d0.points: !include " + (dir.path() / "big.yaml").string() +
                     " is larger than " + std::to_string(limits::max_file_bytes) + " bytes; expected at most " +
                     std::to_string(limits::max_file_bytes) + " bytes per file (16 MiB); give devices of one model "
                     "a profile, or split the file"),
              std::string::npos)
        << e;
    // A file at the bound is read (an empty point list: a warning only).
    EXPECT_NO_THROW(load_string(base + "fits.yaml }\n", main_file));

    // The main file, from disk or as text.
    e = file_errors_of(dir.path() / "big.yaml");
    EXPECT_NE(e.find("the configuration file is larger than " + std::to_string(limits::max_file_bytes)),
              std::string::npos)
        << e;
    e = errors_of(past_bound);
    EXPECT_EQ(e, "plant.yaml:1:1: the configuration is " + std::to_string(past_bound.size()) +
                     " bytes; expected at most " + std::to_string(limits::max_file_bytes) +
                     " bytes (16 MiB); give devices of one model a profile, or split the file");

    // All files together: three files of 12 MiB pass the 32 MiB of all
    // files at the third.
    constexpr std::size_t twelve = 12u * 1024 * 1024;
    static_assert(3 * twelve > limits::max_total_bytes && 2 * twelve < limits::max_total_bytes);
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\ndevices:\n";
    for (int i = 0; i < 3; ++i) {
        dir.write("part" + std::to_string(i) + ".yaml", "[]\n#" + std::string(twelve - 5, 'x') + "\n");
        yaml += "  d" + std::to_string(i) + ": { bus: b1, unit_id: 1, points: !include part" + std::to_string(i) +
                ".yaml }\n";
    }
    const std::size_t room = limits::max_total_bytes - 2 * twelve - yaml.size();
    e = errors_of(yaml, main_file);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find(":6:38: devices.d2.points: !include " + (dir.path() / "part2.yaml").string() +
                     " is larger than " + std::to_string(room) +
                     " bytes, the room left of the 32 MiB that all files may take together; expected smaller files"),
              std::string::npos)
        << e;
}

// An included file is parsed within the nodes the files before it left, not
// with the whole bound each: every parsed file's tree is kept, so files of
// nearly the bound each would hold several times it in memory.
TEST(yaml_files, an_included_file_is_parsed_within_the_nodes_left_by_the_files_before_it) {
    temp_dir dir;
    const bomb half = make_bomb(6, 12);  // about 3.6 million nodes expanded: one fits, two do not
    dir.write("more.yaml", half.yaml);
    const auto e = errors_of(half.yaml +
                                 "buses: { b1: { type: tcp, host: 127.0.0.1, port: 1502 } }\n"
                                 "devices: { d0: { bus: b1, unit_id: 1, points: !include more.yaml } }\n",
                             (dir.path() / "plant.yaml").string());
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find((dir.path() / "more.yaml").string() + ":"), std::string::npos) << e;
    EXPECT_NE(e.find(" were left of the " + std::to_string(limits::max_nodes) +
                     " nodes all files may take together"),
              std::string::npos)
        << e;
}

TEST(yaml_files, an_included_file_is_read_once_and_its_point_list_shared) {
    temp_dir dir;
    dir.write("meter.yaml", three_points + "\n");
    std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\ndevices:\n";
    for (int i = 0; i < 50; ++i) {
        yaml += "  d" + std::to_string(i) + ": { bus: b1, unit_id: 1, points: !include meter.yaml }\n";
    }
    const gateway g = load_string(yaml, (dir.path() / "plant.yaml").string());
    ASSERT_EQ(g.devices.size(), 50u);
    for (const auto& d : g.devices) {
        expect_three_points(d);
        EXPECT_TRUE(d.points.shares_with(g.devices[0].points));
    }
    // Marks in the included file are its own.
    dir.write("bad.yaml", "- { name: a, register: holding, address: 0 }\n- { name: b, register: holdin, address: 1 }\n");
    const auto e = errors_of(yaml + "  bad: { bus: b1, unit_id: 2, points: !include bad.yaml }\n",
                             (dir.path() / "plant.yaml").string());
    EXPECT_NE(e.find((dir.path() / "bad.yaml").string() + ":2:24: devices.bad.points[b].register: holdin is not "
                                                          "allowed here"),
              std::string::npos)
        << e;
}

TEST(yaml_files, includes_nested_past_the_bound_and_cycles_are_refused) {
    temp_dir dir;
    // Each file is nothing but an include of the next; the last is a list.
    const int files = limits::max_include_depth + 1;
    for (int i = 1; i < files; ++i) {
        dir.write("f" + std::to_string(i) + ".yaml", "!include f" + std::to_string(i + 1) + ".yaml\n");
    }
    dir.write("f" + std::to_string(files) + ".yaml", three_points + "\n");
    const std::string base = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\n"
                             "devices:\n  d0: { bus: b1, unit_id: 1, points: !include ";
    const auto main_file = (dir.path() / "plant.yaml").string();
    // From f2, the chain is one file short of the bound: it loads.
    const gateway g = load_string(base + "f2.yaml }\n", main_file);
    ASSERT_EQ(g.devices.size(), 1u);
    expect_three_points(g.devices[0]);

    auto e = errors_of(base + "f1.yaml }\n", main_file);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find((dir.path() / ("f" + std::to_string(files - 1) + ".yaml")).string() +
                     ":1:1: devices.d0.points: !include " +
                     (dir.path() / ("f" + std::to_string(files) + ".yaml")).string() + " is nested " +
                     std::to_string(files) + " files deep; expected at most " +
                     std::to_string(limits::max_include_depth) + " levels of !include"),
              std::string::npos)
        << e;

    dir.write("self.yaml", "!include self.yaml\n");
    e = errors_of(base + "self.yaml }\n", main_file);
    EXPECT_NE(e.find("self.yaml includes itself"), std::string::npos) << e;
}

// ---- text ----

TEST(yaml_text, text_that_is_not_utf8_is_refused_at_its_first_bad_byte) {
    // Random configurations whose unit strings hold text of every UTF-8
    // length; one in three gets a malformed sequence at a random place in
    // a string. The error names the line and byte column of its first byte.
    const std::vector<std::string> malformed{
        "\xFF", "\xC0\xAF",         "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
        "\x80", "\xE2\x82",         "\xF0\x9F", "\xC3",         "\xF5\x80\x80\x80", "\xFE"};
    const std::vector<char32_t> letters{U'a', U'Z', U'7', U'\u00E9', U'\u00B0', U'\u0416', U'\u20AC', U'\u6C34',
                                        U'\uFFFD', U'\U0001F600', U'\U0010FFFF'};
    std::mt19937 random(20261201);
    for (int round = 0; round < 300; ++round) {
        std::string yaml = "buses:\n  b1: { type: tcp, host: 127.0.0.1, port: 1502 }\ndevices:\n"
                           "  d0:\n    bus: b1\n    unit_id: 1\n    points:\n";
        const int points = 1 + static_cast<int>(random() % 5);
        const bool spoil = random() % 3 == 0;
        const int spoilt_point = static_cast<int>(random() % static_cast<unsigned>(points));
        int line = 0;
        int column = 0;
        for (int p = 0; p < points; ++p) {
            std::string unit;
            const int length = 1 + static_cast<int>(random() % 8);
            for (int k = 0; k < length; ++k) unit += fieldbridge::testing::utf8_of(letters[random() % letters.size()]);
            std::string prefix = "      - { name: p" + std::to_string(p) + ", register: holding, address: " +
                                 std::to_string(p) + ", unit: \"";
            if (spoil && p == spoilt_point) {
                // Between two characters: find a boundary at or after a random byte.
                std::size_t at = random() % (unit.size() + 1);
                while (at < unit.size() && (static_cast<unsigned char>(unit[at]) & 0xC0) == 0x80) ++at;
                const std::string& bad = malformed[random() % malformed.size()];
                line = static_cast<int>(lines_of(yaml));
                column = static_cast<int>(prefix.size() + at + 1);
                // A truncated sequence must not be completed by what follows.
                unit = unit.substr(0, at) + bad + (bad.size() < 4 ? "x" : "") + unit.substr(at);
            }
            yaml += prefix + unit + "\" }\n";
        }
        SCOPED_TRACE("round " + std::to_string(round));
        if (!spoil) {
            const gateway g = load_string(yaml, "plant.yaml");
            EXPECT_EQ(g.devices.at(0).points.size(), static_cast<std::size_t>(points));
            continue;
        }
        const auto e = errors_of(yaml);
        EXPECT_EQ(e, "plant.yaml:" + std::to_string(line) + ":" + std::to_string(column) +
                         ": a byte that is not UTF-8 (the file is not valid UTF-8); expected UTF-8 text: save the "
                         "file as UTF-8");
    }
}

TEST(yaml_text, utf16_and_nul_bytes_are_refused) {
    EXPECT_NE(errors_of(std::string("\xFF\xFE" "d\0e\0", 6)).find("plant.yaml:1:1: the file is UTF-16 or UTF-32"),
              std::string::npos);
    EXPECT_EQ(errors_of(std::string("devices:\n  d\0: x\n", 17)),
              "plant.yaml:2:4: a NUL byte (the file is binary, or UTF-16/UTF-32); expected UTF-8 text");
    // A UTF-8 byte order mark is fine.
    EXPECT_NO_THROW(load_string("\xEF\xBB\xBF" "buses: {}\n", "plant.yaml"));
}

// ---- the tree itself ----

yaml_tree::parse_result parse(std::string_view text, std::uint64_t max_nodes = limits::max_nodes) {
    return yaml_tree::parse(text, max_nodes, growth_from_now(), limits::max_parse_heap_bytes);
}

// ---- brackets nested deep ----

constexpr std::size_t no_bound = std::numeric_limits<std::size_t>::max();

TEST(yaml_flow_depth, brackets_count_where_they_open_a_list_or_map_and_nowhere_else) {
    const std::string deep = std::string(65, '[') + std::string(65, ']');
    EXPECT_TRUE(refuse_flow("x: " + deep + "\n", 64, no_bound).has_value());
    EXPECT_FALSE(refuse_flow("x: " + deep + "\n", 65, no_bound).has_value());
    const auto at = refuse_flow("a: 1\nb:\n  - " + std::string(3, '{') + "\n", 2, no_bound);
    ASSERT_TRUE(at.has_value());
    EXPECT_EQ(at->at.line, 3);
    EXPECT_EQ(at->at.column, 7);
    // Not opening anything: inside quotes (either kind, escapes, across
    // lines), comments and plain text.
    const std::string many(100, '[');
    for (const std::string& text : {
             "x: \"" + many + "\"\n", "x: '" + many + "'\n", "x: 'it''s " + many + "'\n",
             "x: \"a\\\" " + many + "\"\n", "x: \"a\n" + many + "\"\n", "x: 1 # " + many + "\n",
             "# " + many + "\n", "x: a" + many + "\n", "x: [a, \"" + many + "\", '" + many + "']\n",
             "x: don't " + many + "\n"}) {
        EXPECT_FALSE(refuse_flow(text, 1, no_bound).has_value()) << text;
    }
    // Counted: after an anchor, a tag, text inside brackets, a plain
    // scalar that begins with '-' and a quote; after a '#' that a lone
    // carriage return precedes (text to the parser, not a space: no comment),
    // and after a comment that "\r\n" ends.
    for (const std::string text : {"x: &a [[\n", "x: !!seq [[\n", "x: [a[a\n", "x: -\"\n[[\n", "x: [b\r# , [[\n",
                                   "# c\r\n[[\n", "- [[\n", "[[\n"}) {
        EXPECT_TRUE(refuse_flow(text, 1, no_bound).has_value()) << text;
    }
    // Not counted: a comment that a lone carriage return does not end, and a
    // plain scalar that one does not end.
    for (const std::string text : {"# c\r[[\n", "k:\r[[[\n"}) {
        EXPECT_FALSE(refuse_flow(text, 1, no_bound).has_value()) << text;
    }
    // Not counted: a plain scalar's text on the lines it goes on over.
    EXPECT_FALSE(refuse_flow("x: a\n  'b [[[[' \n  \"c [[[[\"\ny: 1\n", 1, no_bound).has_value());
    // Not counted: a block scalar's text.
    EXPECT_FALSE(refuse_flow("x: |\n  [[[[\n\n  [[\ny: 1\n", 1, no_bound).has_value());
    EXPECT_FALSE(refuse_flow("x: >-\n    [[[[\n     [[\n    [[\n", 1, no_bound).has_value());
    EXPECT_FALSE(refuse_flow("- a: |\n     [[[[\n", 1, no_bound).has_value());
    EXPECT_TRUE(refuse_flow("x: |\n  [[[[\ny: [[\n", 1, no_bound).has_value());
    // Counted where the parser reads brackets that an earlier scan took for
    // text (each of these took 700 MB to 1.2 GB with 3 million brackets):
    // after a quoted scalar, a closing bracket or an alias; right after a
    // tag; after a byte order mark; in a document after a directive or after
    // the first; below a block scalar's header where its text is indented
    // less than its first line, or less than the node it belongs to (a
    // compact "- a: |"), or less than an empty line before it; after a
    // plain scalar that goes on over a line break inside brackets; after a
    // ':' on the line after a quoted key.
    for (const std::string text : {"'a'[[\n", "[] [[\n", "x: [*a [[\n", "x: !!seq[[\n", "!<t>[[\n", "*a,[[\n",
                                   "\xEF\xBB\xBF[[\n", "\xEF\xBB\xBF#c\n---\n[[\n", "%YAML 1.2\n---\n[[\n",
                                   "\t\n---\n[[\n", "---\nx: 1\n---\n[[\n", "x: |\n    a\n  [[\n",
                                   "- a: |\n  [[\n", "x: |\n   \n [[\n", "x: |4\n  [[\n", "[a\n'b,[[\n",
                                   "[\"a\"\n:'x #',[[\n", "[*a :'x,[[\n", "a: b\n 'c\nd: [[\n", "a: b\n |\nd: [[\n"}) {
        EXPECT_TRUE(refuse_flow(text, 1, no_bound).has_value()) << text;
    }
    // Tokens are counted for what begins on one line outside brackets.
    EXPECT_FALSE(refuse_flow("a: [1, 2]\nb: [1, 2]\nc: {x: [1]}\n", 64, 7).has_value());  // { x : [ 1 ] }
    EXPECT_TRUE(refuse_flow("[1, 2] [1, 2]\n", 64, 7).has_value());
    EXPECT_FALSE(refuse_flow("a: [1, 2, 3]\n", 64, 7).has_value());  // [ 1 , 2 , 3 ]
    EXPECT_TRUE(refuse_flow("a: [1, 2, 3, 4]\n", 64, 7).has_value());
    EXPECT_TRUE(refuse_flow("a: [[1], [2]]\n", 64, 7).has_value());
    EXPECT_FALSE(refuse_flow("a: [\n 1,\n 2,\n 3]\n", 64, 7).has_value());
    // Every kind of token counts, not only entries: colons, quoted scalars,
    // anchors, tags and aliases.
    for (const std::string text : {"[: : : : : : : :]\n", "['' '' '' '' '' '' '' '']\n", "[&a 1, &b 2, &c 3]\n",
                                   "[!!str a, !!str b, !!str c]\n", "[*a, *a, *a, *a]\n"}) {
        EXPECT_TRUE(refuse_flow(text, 64, 7).has_value()) << text;
    }
    // Closed brackets free their level.
    std::string flat;
    for (int i = 0; i < 1000; ++i) flat += "- [[1], {a: [2]}]\n";
    EXPECT_FALSE(refuse_flow(flat, 3, no_bound).has_value());
}

// Random documents of lists and maps in brackets, their scalars quoted or
// plain and full of brackets: the depth found is the depth yaml-cpp parses.
TEST(yaml_flow_depth, the_depth_found_is_the_depth_of_the_parsed_document_over_random_documents) {
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937_64 r(seed);
        const auto scalar = [&r]() -> std::string {
            switch (r() % 5) {
                case 0: return "\"a[{\\\"]" + std::string(r() % 3, '[') + "\"";
                case 1: return "'it''s [{" + std::string(r() % 3, '{') + "'";
                case 2: return "p" + std::to_string(r() % 100);
                case 3: return r() % 2 == 0 ? "a-b.c" : "c\r#d";  // a lone CR is text
                default: return "x:y";
            }
        };
        std::size_t deepest = 0;
        std::function<std::string(std::size_t)> node = [&](std::size_t depth) -> std::string {
            if (depth >= 12 || r() % 3 == 0) return scalar();
            deepest = std::max(deepest, depth + 1);  // brackets around this one
            const bool map = r() % 2 == 0;
            std::string out;
            if (r() % 4 == 0) out += "&n" + std::to_string(r() % 10) + " ";  // an anchor before the bracket
            if (r() % 4 == 0) out += map ? "!!map " : "!!seq ";
            out += map ? "{" : "[";
            for (std::size_t i = 0, n = r() % 4; i < n; ++i) {
                if (i > 0) out += r() % 2 == 0 ? ", " : ",\n  ";
                if (map) out += "k" + std::to_string(i) + ": ";
                out += node(depth + 1);
            }
            return out + (map ? "}" : "]");
        };
        const std::string text = "x: " + node(0) + (r() % 2 == 0 ? " # [[[ {{\n" : "\n");
        ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(parse(text, 1'000'000)))
            << "seed " << seed << ": " << text;
        if (deepest > 0) {
            EXPECT_TRUE(refuse_flow(text, deepest - 1, no_bound).has_value()) << "seed " << seed << ": " << text;
        }
        EXPECT_FALSE(refuse_flow(text, deepest, no_bound).has_value()) << "seed " << seed << ": " << text;
    }
}

TEST(yaml_flow_depth, a_file_nested_past_the_bound_is_refused_before_it_is_parsed) {
    const auto e = errors_of("x-a: " + std::string(1'000'000, '[') + "\n");
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:1:" + std::to_string(6 + limits::max_flow_depth) +
                     ": a list or map in brackets nested more than " + std::to_string(limits::max_flow_depth) +
                     " deep"),
              std::string::npos)
        << e;
}

// The parser's marks end lines at '\n' only; the refusal's mark counts as
// they do, so that it points into the line an editor shows.
TEST(yaml_flow_depth, the_refusal_is_marked_as_the_parser_marks_lines) {
    const auto e = errors_of("x-a: a\rx-b: " + std::string(100, '[') + "\r\n");
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:1:" + std::to_string(13 + limits::max_flow_depth) + ": a list or map in brackets"),
              std::string::npos)
        << e;
    const auto quoted = errors_of("x-a: \"a\rb\r\nc\"\nx-b: " + std::string(100, '{') + "\n");
    EXPECT_NE(quoted.find("plant.yaml:3:" + std::to_string(6 + limits::max_flow_depth) + ": a list or map in brackets"),
              std::string::npos)
        << quoted;
}

// ---- the parser's memory ----

// A meter of growth that reads step more at each reading, as a load's
// memory would under a file the parser holds: the reading before the chunk
// at offset k x chunk is k x step.
struct growing_meter {
    std::size_t step;
    std::shared_ptr<std::size_t> readings = std::make_shared<std::size_t>(0);
    std::size_t operator()() const { return ++*readings * step; }
};

constexpr std::size_t mib = 1024 * 1024;
// yaml_tree hands the parser its text in chunks of this many bytes.
constexpr std::size_t chunk = 16 * 1024;

std::string long_list(std::size_t bytes) {
    std::string text = "x-a:\n";
    for (std::size_t i = 0; text.size() < bytes; ++i) text += "  - item " + std::to_string(i) + "\n";
    return text;
}

yaml_tree::parse_result parse_metered(std::string_view text, const heap_meter& growth, std::size_t bound) {
    return yaml_tree::parse(text, limits::max_nodes, growth, bound);
}

// What yaml-cpp holds while it reads is out of reach of the bounds counted
// on the text (lines of brackets after a text it reads as a key took 1.5 GB
// in a file of the size bound): the load's memory is read between chunks,
// and the parse stops within the chunk where it passed the bound, marked
// there.
TEST(yaml_parse_memory, the_parse_stops_at_the_chunk_where_memory_passed_its_bound) {
    const std::string text = long_list(10 * chunk + 100);
    // 1 and 2 MiB before the chunks at 1 and 2 x chunk, 3 MiB (past the
    // bound) before the one at 3 x chunk: the text ends there.
    auto parsed = parse_metered(text, growing_meter{mib}, 2 * mib);
    const auto* e = std::get_if<yaml_error>(&parsed);
    ASSERT_NE(e, nullptr);
    const yaml_mark at = mark_at_offset(text, 3 * chunk - 1);
    EXPECT_EQ(e->at.line, at.line);
    EXPECT_EQ(e->at.column, at.column);
    EXPECT_EQ(e->message.rfind("the configuration took more than 2 MiB of memory by the time the YAML parser had "
                               "read up to here; ",
                               0),
              0u)
        << e->message;
    EXPECT_FALSE(e->node_bound);
    // Memory that stays where it was, or reaches the bound (and no more)
    // before the last chunk, or no meter: the whole list.
    const std::size_t chunks = (text.size() + chunk - 1) / chunk;
    for (const auto& [growth, bound] : std::vector<std::pair<heap_meter, std::size_t>>{
             {growing_meter{0}, 0}, {growing_meter{mib}, (chunks - 1) * mib}, {heap_meter{}, 0}}) {
        auto whole = parse_metered(text, growth, bound);
        ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(whole));
        const auto list = std::get<std::shared_ptr<const yaml_tree>>(whole)->root()["x-a"];
        ASSERT_GT(list.size(), 0u);
        EXPECT_EQ(list[list.size() - 1].Scalar(), "item " + std::to_string(list.size() - 1));
        EXPECT_EQ(mark_at_offset(text, text.size() - 1).line, static_cast<int>(list.size()) + 1);
    }
}

// Read once before each chunk after the first: never for a text of one
// chunk or less, and not after the last chunk of a text of whole chunks.
TEST(yaml_parse_memory, memory_is_read_once_between_chunks) {
    for (const std::size_t size : {std::size_t{0}, std::size_t{10}, chunk - 1, chunk, chunk + 1, 3 * chunk,
                                   3 * chunk + 1}) {
        std::string text = "x-a: \"";
        text += std::string(size > text.size() + 2 ? size - text.size() - 2 : 0, 'v');
        text += "\"\n";
        if (size < text.size()) text = std::string(size, '#');
        ASSERT_EQ(text.size(), size);
        const growing_meter growth{0};
        ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(parse_metered(text, growth, 0)))
            << size;
        EXPECT_EQ(*growth.readings, size == 0 ? 0 : (size - 1) / chunk) << size;
    }
}

// The text cut short is no syntax error of the file's: brackets left open
// where the parse stopped are not reported, the bound is.
TEST(yaml_parse_memory, the_bound_is_reported_rather_than_what_the_cut_text_lacks) {
    std::string text = "x-a: [";
    while (text.size() < 4 * chunk) text += "a, ";
    text += "b]\n";
    auto parsed = parse_metered(text, growing_meter{mib}, mib);
    const auto* e = std::get_if<yaml_error>(&parsed);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->at.line, 1);
    EXPECT_EQ(e->at.column, static_cast<int>(2 * chunk));
    EXPECT_NE(e->message.find("took more than 1 MiB of memory"), std::string::npos) << e->message;
}

// Chunks split lines, scalars and UTF-8 characters anywhere, and a byte
// order mark moves where the parser's own reads of 2 KiB fall against them:
// the tree is the text's whatever the split.
TEST(yaml_parse_memory, text_read_in_chunks_is_the_same_tree) {
    const std::string two_chars = "\xC3\xA9\xE2\x82\xAC";  // é€: 5 bytes
    for (const std::string bom : {"", "\xEF\xBB\xBF"}) {
        // One quoted scalar over 3 chunks: a chunk begins inside one of its
        // characters (with "x-a: \"" before it, at 1 and 3 x chunk; after a
        // byte order mark too, at 2 x chunk).
        std::string value;
        while (value.size() < 3 * chunk) value += two_chars;
        std::string text = bom + "x-a: \"" + value + "\"\nx-b:\n";
        const auto inside = [&](std::size_t at) { return (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80; };
        ASSERT_TRUE(inside(chunk) || inside(2 * chunk) || inside(3 * chunk)) << bom.size();
        std::vector<std::string> values;
        for (std::size_t i = 0; text.size() < 6 * chunk; ++i) {
            values.push_back(std::string(i % 7, 'v') + two_chars + std::to_string(i));
            text += "  k" + std::to_string(i) +
                    (i % 2 == 0 ? ": \"" + values.back() + "\"\r\n" : ": " + values.back() + "\n");
        }
        auto parsed = parse_metered(text, growing_meter{0}, 0);
        ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(parsed));
        const auto root = std::get<std::shared_ptr<const yaml_tree>>(parsed)->root();
        EXPECT_EQ(root["x-a"].Scalar(), value);
        const auto map = root["x-b"];
        ASSERT_EQ(map.size(), values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            EXPECT_EQ(map["k" + std::to_string(i)].Scalar(), values[i]) << i;
        }
    }
}

// ---- tags ----

// A tag changes what a value means; one the loader does not read was taken
// as if it were not there (`password: !include secret.txt` set the password
// to the file's name). Only !include (where a file is read) and YAML's core
// tags, which mean what YAML reads anyway, are taken.
TEST(yaml_tags, a_tag_the_loader_does_not_read_is_refused_where_it_is_written) {
    const std::string head = "buses:\n  b1: { type: tcp, host: 127.0.0.1 }\nmqtt:\n  host: broker\n  username: u\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"  password: !vault x\n", "plant.yaml:6:13: unknown tag !vault; expected no tag, !include FILE"},
        {"  password: !!binary c2VjcmV0\n", "plant.yaml:6:13: unknown tag !!binary"},
        {"  port: !<tag:example.com,2026:port> 1883\n", "plant.yaml:6:9: unknown tag tag:example.com,2026:port"},
        {"  tls: !secure { enabled: true }\n", "plant.yaml:6:8: unknown tag !secure"},
        {"  failover: !list [a]\n", "plant.yaml:6:13: unknown tag !list"},
        {"  password: !include secret.txt\n",
         "plant.yaml:6:13: mqtt.password: found !include secret.txt; expected a string (!include is read only for a "
         "profile or a point list)"},
        {"  port: !include port.yaml\n", "plant.yaml:6:9: mqtt.port: found !include port.yaml; expected an integer"},
        {"  failover: !include brokers.yaml\n",
         "plant.yaml:6:13: mqtt.failover: found !include brokers.yaml; expected a list of broker addresses"},
        {"  tls: !include tls.yaml\n", "plant.yaml:6:8: mqtt.tls: found !include tls.yaml; expected a map"},
    };
    for (const auto& [line, expected] : cases) {
        const auto e = errors_of(head + line);
        EXPECT_EQ(lines_of(e), 1u) << line << e;
        EXPECT_NE(e.find(expected), std::string::npos) << line << e;
    }
}

// A known tag on a node of another kind was taken as if it were not there:
// `mqtt: !include { host: b }` read the map, `session_expiry: !include never`
// meant "never". Every such pairing is refused where the tag is.
TEST(yaml_tags, a_tag_on_a_node_of_another_kind_is_refused_where_it_is_written) {
    const std::string head = "buses:\n  b1: { type: tcp, host: 127.0.0.1 }\nmqtt:\n  host: broker\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"  tls: !include { enabled: false }\n",
         "plant.yaml:5:8: tag !include on a map; expected !include FILE, a file name after the tag"},
        {"  failover: !include [b2]\n", "plant.yaml:5:13: tag !include on a list; expected !include FILE"},
        {"  port: !!map 1883\n", "plant.yaml:5:9: tag !!map on a scalar; expected a tag of the value's kind, or none"},
        {"  failover: !!map [b2]\n", "plant.yaml:5:13: tag !!map on a list"},
        {"  tls: !!seq { enabled: false }\n", "plant.yaml:5:8: tag !!seq on a map"},
        {"  tls: !!str { enabled: false }\n", "plant.yaml:5:8: tag !!str on a map"},
        {"  failover: !!int [b2]\n", "plant.yaml:5:13: tag !!int on a list"},
        {"  protocol: \"5\"\n  session_expiry: !include never\n",
         "plant.yaml:6:19: mqtt.session_expiry: found !include never; expected"},
    };
    for (const auto& [line, expected] : cases) {
        const auto e = errors_of(head + line);
        EXPECT_EQ(lines_of(e), 1u) << line << e;
        EXPECT_NE(e.find(expected), std::string::npos) << line << e;
    }
    // The same values without the tag, or with the tag of their kind, load.
    const auto g = load_string(head + "  protocol: \"5\"\n  session_expiry: !!str never\n  tls: !!map { enabled: false }\n",
                               "plant.yaml");
    EXPECT_EQ(g.mqtt.session_expiry, std::chrono::seconds{0xFFFFFFFF});
}

TEST(yaml_tags, core_tags_are_read_as_the_text_they_tag) {
    const auto g = load_string("mqtt:\n  host: !!str broker\n  port: !!int 1884\n  username: !!str u\n  password: !!str 12345\n"
                               "  tls: !!map { enabled: !!bool false }\n  failover: !!seq [!!str b2]\n"
                               "buses:\n  b1: { type: tcp, host: 127.0.0.1 }\n",
                               "plant.yaml");
    EXPECT_EQ(g.mqtt.host, "broker");
    EXPECT_EQ(g.mqtt.port, 1884);
    EXPECT_EQ(g.mqtt.password, "12345");
    ASSERT_EQ(g.mqtt.failover.size(), 1u);
    EXPECT_EQ(g.mqtt.failover[0].first, "b2");
}

TEST(yaml_tags, a_file_of_many_different_tags_stops_at_the_first_unknown_one) {
    std::string yaml = "x-tags:\n";
    for (int i = 0; i < 70'000; ++i) yaml += "  - !t" + std::to_string(i) + " v\n";
    const auto e = errors_of(yaml);
    EXPECT_EQ(lines_of(e), 1u) << e;
    EXPECT_NE(e.find("plant.yaml:2:5: unknown tag !t0;"), std::string::npos) << e;
}

TEST(yaml_tree, nodes_keep_kind_tag_scalar_and_mark_and_an_alias_is_its_anchor) {
    const auto parsed = parse("a: &x [1, 'two', ~, !include f.yaml]\nb: *x\nc:\n  - { k: v }\n");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(parsed));
    const auto& tree = *std::get<std::shared_ptr<const yaml_tree>>(parsed);
    const yaml_node root = tree.root();
    ASSERT_TRUE(root.IsMap());
    ASSERT_EQ(root.size(), 3u);
    const yaml_node a = root["a"];
    ASSERT_TRUE(a.IsSequence());
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[0].Scalar(), "1");
    EXPECT_EQ(a[0].Tag(), "?");  // plain
    EXPECT_EQ(a[1].Scalar(), "two");
    EXPECT_EQ(a[1].Tag(), "!");  // quoted
    EXPECT_TRUE(a[2].IsNull());
    EXPECT_EQ(a[3].Tag(), "!include");
    EXPECT_EQ(a[3].Scalar(), "f.yaml");
    EXPECT_FALSE(a[4].IsDefined());
    EXPECT_FALSE(root["missing"]);
    EXPECT_EQ(a[1].mark().line, 1);
    EXPECT_EQ(a[1].mark().column, 11);
    // The alias is the anchored node itself, not a copy.
    EXPECT_TRUE(root["b"].same_node(a));
    const yaml_node c = root["c"];
    ASSERT_TRUE(c.IsSequence());
    EXPECT_EQ(c[0].mark().line, 4);
    EXPECT_EQ(c[0].mark().column, 5);
    std::vector<std::string> keys;
    for (const auto& [key, value] : root.pairs()) keys.push_back(key.Scalar());
    EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
    std::size_t items = 0;
    for (const auto item : a) items += item.IsDefined() ? 1u : 0u;
    EXPECT_EQ(items, 4u);
    // Stored: root, 3 keys, the list and its 4 items, c's list, its map and
    // its pair. Expanded: the alias counts the 5 nodes of the list again.
    EXPECT_EQ(tree.stored_nodes(), 1u + 3 + 5 + 1 + 1 + 2);
    EXPECT_EQ(tree.expanded_nodes(), tree.stored_nodes() + 5);
}

TEST(yaml_tree, an_empty_text_is_a_null_root_and_only_the_first_document_is_read) {
    const auto empty = parse("");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(empty));
    EXPECT_TRUE(std::get<std::shared_ptr<const yaml_tree>>(empty)->root().IsNull());
    const auto two = parse("a: 1\n---\nb: [\n");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const yaml_tree>>(two));
    EXPECT_EQ(std::get<std::shared_ptr<const yaml_tree>>(two)->root()["a"].Scalar(), "1");
}

TEST(yaml_tree, a_syntax_error_found_past_the_end_of_the_text_points_at_its_end) {
    // yaml-cpp reads ahead past an escape cut short by the end of the file.
    EXPECT_EQ(errors_of("mqtt:\n  host: \"broker\\u}\n"),
              "plant.yaml:3:1: YAML syntax error: bad character found while scanning hex number; expected "
              "well-formed YAML (check indentation, quotes and brackets)");
    EXPECT_EQ(errors_of("mqtt:\n  host: \"broker\\u}"),
              "plant.yaml:2:19: YAML syntax error: bad character found while scanning hex number; expected "
              "well-formed YAML (check indentation, quotes and brackets)");
}

// The node bound is told apart from other refusals by a flag (the loader
// adds what the files before an included one left), not by its wording.
TEST(yaml_tree, only_a_document_past_the_node_bound_is_refused_as_such) {
    const auto error_of = [](std::string_view text, std::uint64_t max_nodes) {
        auto parsed = parse(text, max_nodes);
        const auto* e = std::get_if<yaml_error>(&parsed);
        return e != nullptr ? *e : yaml_error{{}, "parsed", false};
    };
    EXPECT_TRUE(error_of("[1, 2, 3, 4]", 4).node_bound) << "5 nodes";
    EXPECT_EQ(error_of("[1, 2, 3]", 4).message, "parsed");
    EXPECT_TRUE(error_of("a: &x [1, 2]\nb: *x\n", 7).node_bound) << "an alias past the bound";
    EXPECT_EQ(error_of("a: &x [1, 2]\nb: *x\n", 9).message, "parsed");
    for (const std::string_view bad : std::initializer_list<std::string_view>{
             "a: [1, 2", "a: &x [*x]", "\xFF", std::string_view("a\0b", 3)}) {
        const auto e = error_of(bad, 100);
        EXPECT_NE(e.message, "parsed") << bad;
        EXPECT_FALSE(e.node_bound) << e.message;
    }
}

// An independent reading of RFC 3629: decode, then check the value.
yaml_mark reference_invalid_utf8(std::string_view text) {
    int line = 1;
    int column = 1;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        char32_t value = length == 1 ? c : length == 2 ? (c & 0x1F) : length == 3 ? (c & 0x0F) : (c & 0x07);
        bool ok = length != 0 && i + length <= text.size();
        for (std::size_t k = 1; ok && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            ok = (next & 0xC0) == 0x80;
            value = (value << 6) | (next & 0x3F);
        }
        const char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && value >= least[length] && value <= 0x10FFFF && !(value >= 0xD800 && value <= 0xDFFF);
        if (!ok) return {line, column};
        if (c == '\n') {
            ++line;
            column = 1;
        } else {
            column += static_cast<int>(length);
        }
        i += length;
    }
    return {};
}

TEST(yaml_tree, the_first_byte_that_is_not_utf8_is_found_as_an_independent_decoder_finds_it) {
    std::mt19937 random(42);
    // Bytes drawn mostly from the interesting ranges: ASCII, newlines,
    // continuation bytes, every kind of lead byte.
    const std::vector<std::pair<int, int>> ranges{{0x20, 0x7E}, {0x0A, 0x0A}, {0x80, 0xBF}, {0xC0, 0xC1},
                                                  {0xC2, 0xDF}, {0xE0, 0xEF}, {0xF0, 0xF4}, {0xF5, 0xFF}};
    int invalid = 0;
    for (int round = 0; round < 200000; ++round) {
        std::string text;
        const int length = static_cast<int>(random() % 12);
        for (int k = 0; k < length; ++k) {
            const auto& [low, high] = ranges[random() % ranges.size()];
            text += static_cast<char>(low + static_cast<int>(random() % static_cast<unsigned>(high - low + 1)));
        }
        const yaml_mark found = first_invalid_utf8(text);
        const yaml_mark expected = reference_invalid_utf8(text);
        ASSERT_EQ(std::pair(found.line, found.column), std::pair(expected.line, expected.column))
            << "round " << round;
        invalid += found.line != 0 ? 1 : 0;
    }
    // Both outcomes were drawn often.
    EXPECT_GT(invalid, 20000);
    EXPECT_LT(invalid, 190000);
}

}  // namespace
}  // namespace fieldbridge::config
