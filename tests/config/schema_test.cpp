// `fieldbridge schema` against the loader: the JSON Schema generated from
// schema_keys is a valid draft 2020-12 schema; every example and docs
// configuration passes both; and every key of every section, put at the
// edges of its range (and just past them, with a wrong type, an unknown
// neighbour, a required key missing), gets the same verdict from the loader
// and from the schema (Debian's python3-jsonschema), so the three cannot
// drift apart. Where the schema cannot tell (duration ranges, which it
// checks only in form), the loader must still refuse.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/duration.hpp"
#include "config/json_schema.hpp"
#include "config/loader.hpp"
#include "config/schema_keys.hpp"
#include "tests/config/docs_blocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fieldbridge::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct doc_case {
    std::string name;
    std::string yaml;
    bool valid = true;
    bool schema_can_tell = true;  // false: the loader alone must refuse it
};

struct verdict {
    bool valid = false;
    std::string error;
};

// Runs the validator over the cases' files; file name -> verdict.
std::map<std::string, verdict> schema_verdicts(const fs::path& dir, const std::vector<doc_case>& cases,
                                               const std::vector<std::string>& extra_files = {}) {
    const auto schema_file = dir / "schema.json";
    std::ofstream(schema_file) << json_schema().dump(2);
    std::vector<std::string> argv{"/usr/bin/python3",
                                  FIELDBRIDGE_SOURCE_DIR "/tests/config/validate_with_schema.py",
                                  schema_file.string()};
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto file = dir / ("case" + std::to_string(i) + ".yaml");
        std::ofstream(file) << cases[i].yaml;
        argv.push_back(file.string());
    }
    argv.insert(argv.end(), extra_files.begin(), extra_files.end());
    fieldbridge::testing::child_process validator(argv);
    const auto code = validator.wait(120s);
    std::map<std::string, verdict> out;
    std::istringstream lines(validator.output());
    std::string line;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains("file")) {
            ADD_FAILURE() << "validator: " << line;
            continue;
        }
        out[j.at("file").get<std::string>()] = {j.at("valid").get<bool>(), j.at("error").get<std::string>()};
    }
    EXPECT_EQ(code, 0) << validator.output();
    return out;
}

std::optional<std::string> loader_error(const std::string& yaml) {
    try {
        load_string(yaml, "case.yaml");
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
}

void expect_same_verdicts(const fs::path& dir, const std::vector<doc_case>& cases) {
    const auto verdicts = schema_verdicts(dir, cases);
    ASSERT_EQ(verdicts.size(), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const auto file = (dir / ("case" + std::to_string(i) + ".yaml")).string();
        const auto& schema = verdicts.at(file);
        const auto loader = loader_error(c.yaml);
        if (c.valid) {
            EXPECT_FALSE(loader) << c.name << ": the loader refuses it: " << *loader << "\n" << c.yaml;
            EXPECT_TRUE(schema.valid) << c.name << ": the schema refuses it: " << schema.error << "\n"
                                      << c.yaml;
        } else {
            EXPECT_TRUE(loader) << c.name << ": the loader accepts it\n" << c.yaml;
            if (c.schema_can_tell) {
                EXPECT_FALSE(schema.valid) << c.name << ": the schema accepts it\n" << c.yaml;
            }
        }
    }
}

// ---- a configuration with one key set somewhere ----

// An ordered flow map whose keys can be set again in place.
class flow {
public:
    flow& set(const std::string& key, const std::string& value) {
        for (auto& [k, v] : entries_) {
            if (k == key) {
                v = value;
                return *this;
            }
        }
        entries_.emplace_back(key, value);
        return *this;
    }
    flow& erase(const std::string& key) {
        std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
        return *this;
    }
    std::string text() const {
        std::string out = "{ ";
        for (std::size_t i = 0; i < entries_.size(); ++i)
            out += (i ? ", " : "") + entries_[i].first + ": " + entries_[i].second;
        return out + " }";
    }

private:
    std::vector<std::pair<std::string, std::string>> entries_;
};

// The parts of a small valid configuration, each to be changed by a case.
struct document {
    flow mqtt = flow().set("host", "\"127.0.0.1\"").set("client_id", "\"schema\"");
    std::map<std::string, flow> root_sections;  // publish, store, ...
    flow tcp_bus = flow().set("type", "tcp").set("host", "\"127.0.0.1\"").set("port", "502");
    std::optional<flow> rtu_bus;
    std::optional<flow> profile;
    flow device = flow().set("bus", "line1").set("unit_id", "1");
    flow point = flow().set("name", "v").set("register", "holding").set("address", "0");
    bool device_points = true;

    std::string text() const {
        std::string out = "mqtt: " + mqtt.text() + "\n";
        for (const auto& [name, f] : root_sections)
            out += name + ": " + f.text() + "\n";
        if (profile)
            out += "profiles:\n  p: " + profile->text() + "\n";
        out += "buses:\n  line1: " + tcp_bus.text() + "\n";
        if (rtu_bus)
            out += "  line2: " + rtu_bus->text() + "\n";
        flow d = device;
        if (device_points)
            d.set("points", "[ " + point.text() + " ]");
        out += "devices:\n  meter1: " + d.text() + "\n";
        return out;
    }
};

std::string quoted(const std::string& s) {
    return nlohmann::json(s).dump();
}

// A good value of a string key: what the key means, not just any text.
std::string sample_string(section s, std::string_view key) {
    static const std::map<std::pair<section, std::string_view>, std::string> samples{
        {{section::publish, "topic"}, "{prefix}/{device}/{point}"},
        {{section::publish, "prefix"}, "plant"},
        {{section::availability, "gateway_topic"}, "{prefix}/gw"},
        {{section::availability, "device_topic"}, "{prefix}/{device}/up"},
        {{section::commands, "device_topic"}, "{prefix}/{device}/cmd"},
        {{section::commands, "suffix"}, "/s"},
        {{section::commands, "reply_suffix"}, "/r"},
        {{section::point, "topic"}, "{prefix}/{device}/{point}/x"},
        {{section::point, "template"}, "{\"v\":{{value}}}"},
        {{section::publish, "template"}, "{{point}}={{value}}"},
        {{section::device, "bus"}, "line1"},
        {{section::device, "profile"}, "p"},
        {{section::bus, "device"}, "/dev/ttyS0"},
        {{section::bus, "host"}, "127.0.0.1"},
    };
    const auto it = samples.find({s, key});
    return it != samples.end() ? it->second : "x";
}

// What a key needs beside it to be valid at all (a bit needs a bool point...).
void context(document& d, section s, std::string_view key, const std::string& written) {
    const std::string value =
        written.size() >= 2 && written.front() == '"' ? written.substr(1, written.size() - 2) : written;
    if (s == section::mqtt && key == "session_expiry")
        d.mqtt.set("protocol", "\"5\"");
    if (s == section::mqtt && key == "password")
        d.mqtt.set("username", "\"u\"");
    if (s == section::mqtt_reconnect && key == "min")
        d.mqtt.set("reconnect", "{ max: 24h, min: " + value + " }");
    if (s == section::mqtt_reconnect && key == "max")
        d.mqtt.set("reconnect", "{ min: 1ms, max: " + value + " }");
    if (s == section::publish && key == "format" && value == "template")
        d.root_sections["publish"].set("template", "\"{{value}}\"");
    if (s == section::device && key == "profile")
        d.profile = flow().set("points", "[ { name: w, register: holding, address: 9 } ]");
    if (s == section::point) {
        if (key == "bit")
            d.point.set("type", "bool");
        if (key == "length" || key == "packing")
            d.point.set("type", "string").set("length", key == "length" ? value : "2");
        if (key == "order")
            d.point.set("type", "float32");
        if (key == "type" && value == "string")
            d.point.set("length", "2");
        if (key == "type" && value == "bool")
            d.point.set("bit", "0");
        if (key == "register" && (value == "coil" || value == "discrete"))
            d.point.set("type", "bool");
    }
}

// The document with `key: value` in section s.
std::string with_key(section s, std::string_view key_view, const std::string& value) {
    const std::string key(key_view);
    document d;
    context(d, s, key, value);
    switch (s) {
        case section::root:
            break;
        case section::mqtt:
            d.mqtt.set(key, value);
            break;
        case section::mqtt_reconnect:
            if (key != "min" && key != "max")
                d.mqtt.set("reconnect", "{ " + key + ": " + value + " }");
            break;
        case section::mqtt_tls:
            if (key == "cert_file" || key == "key_file") {  // one needs the other
                d.mqtt.set("tls",
                           flow().set("cert_file", "c.pem").set("key_file", "k.pem").set(key, value).text());
            } else {
                d.mqtt.set("tls", "{ " + key + ": " + value + " }");
            }
            break;
        case section::publish:
        case section::store:
        case section::control:
        case section::metrics:
        case section::commands:
        case section::availability:
        case section::sparkplug:
            d.root_sections[std::string(section_path(s))].set(key, value);
            break;
        case section::profile:
            d.profile = flow().set("points", "[ { name: w, register: holding, address: 9 } ]");
            d.profile->set(key, value);
            d.device.set("profile", "p");
            break;
        case section::bus: {
            const auto tcp = tcp_bus_keys();
            if (key == "type" || std::find(tcp.begin(), tcp.end(), key) != tcp.end()) {
                d.tcp_bus.set(key, value);
            } else {
                d.rtu_bus = flow().set("type", "rtu").set("device", "\"/dev/ttyS0\"");
                d.rtu_bus->set(key, value);
            }
            break;
        }
        case section::device:
            if (key == "points")
                d.device_points = false;
            d.device.set(key, value);
            break;
        case section::simulator_faults:
            d.device.set("simulator_faults", "{ " + key + ": " + value + " }");
            break;
        case section::point:
            d.point.set(key, value);
            break;
        case section::simulate: {
            // amplitude and period belong to a sine, step to a counter.
            const std::string wave = key == "step"                           ? "counter"
                                     : key == "amplitude" || key == "period" ? "sine"
                                                                             : "";
            d.point.set("simulate",
                        (wave.empty() ? flow() : flow().set("wave", wave)).set(key, value).text());
            break;
        }
    }
    return d.text();
}

// The sections whose keys the cases set one by one (root's are sections).
const std::vector<section> leaf_sections{section::mqtt,
                                         section::mqtt_reconnect,
                                         section::mqtt_tls,
                                         section::publish,
                                         section::store,
                                         section::control,
                                         section::metrics,
                                         section::commands,
                                         section::availability,
                                         section::sparkplug,
                                         section::profile,
                                         section::bus,
                                         section::device,
                                         section::simulator_faults,
                                         section::point,
                                         section::simulate};

std::vector<doc_case> key_cases() {
    std::vector<doc_case> cases;
    const auto add = [&](section s, const key_spec& k, const std::string& value, bool valid,
                         bool schema_can_tell = true) {
        cases.push_back({std::string(section_path(s)) + "." + std::string(k.name) + ": " + value +
                             (valid ? " (good)" : " (bad)"),
                         with_key(s, k.name, value), valid, schema_can_tell});
    };
    for (const auto s : leaf_sections) {
        for (const auto& k : keys_of(s)) {
            switch (k.kind) {
                case value_kind::string:
                case value_kind::nonempty_string:
                    add(s, k, quoted(sample_string(s, k.name)), true);
                    // Any scalar is text to the loader; an editor reads these as a number and a boolean.
                    {
                        // Names of other entries: what the schema cannot tell, references.
                        const bool reference = s == section::device && (k.name == "bus" || k.name == "profile");
                        add(s, k, "1234", !reference, !reference);
                        add(s, k, "true", !reference, !reference);
                    }
                    if (k.kind == value_kind::nonempty_string)
                        add(s, k, "\"\"", false);
                    add(s, k, "[ 1 ]", false);
                    break;
                case value_kind::name:
                    add(s, k, "\"v_1.a-b\"", true);
                    add(s, k, "123", true);
                    add(s, k, "\"a b\"", false);
                    break;
                case value_kind::integer:
                    add(s, k, std::to_string(k.min), true);
                    add(s, k, std::to_string(k.max), true);
                    add(s, k, std::to_string(k.min - 1), false);
                    add(s, k, std::to_string(k.max + 1), false);
                    add(s, k, "\"many\"", false);
                    // Quoted, the loader reads the number all the same; the schema sees text.
                    add(s, k, quoted(std::to_string(k.max)), true);
                    add(s, k, quoted(std::to_string(k.max + 1)), false, false);
                    break;
                case value_kind::integer_set:
                    for (const auto v : k.integers)
                        add(s, k, std::to_string(v), true);
                    add(s, k, std::to_string(k.integers.front() + 1), false);
                    break;
                case value_kind::number:
                    add(s, k, "1.5", true);
                    add(s, k, "\"1.5\"", true);
                    add(s, k, "\"many\"", false);
                    if (k.number_min)
                        add(s, k, std::to_string(*k.number_min - 1), false);
                    break;
                case value_kind::boolean:
                    add(s, k, "true", true);
                    add(s, k, "false", true);
                    add(s, k, "\"True\"", true);
                    add(s, k, "\"maybe\"", false);
                    break;
                case value_kind::duration:
                    add(s, k, format_duration(k.duration_min), true);
                    add(s, k, format_duration(k.duration_max), true);
                    add(s, k, format_duration(k.duration_max + 1ms), false, false);
                    if (k.duration_min.count() > 0)
                        add(s, k, format_duration(k.duration_min - 1ms), false, false);
                    add(s, k, "\"5x\"", false);
                    break;
                case value_kind::seconds:
                case value_kind::seconds_or_never:
                    add(s, k, "0s", true);
                    add(s, k, format_duration(k.duration_max), true);
                    add(s, k, format_duration(k.duration_max + 1s), false, false);
                    add(s, k, "1500ms", false);
                    if (k.kind == value_kind::seconds_or_never)
                        add(s, k, "never", true);
                    break;
                case value_kind::choice:
                    if (k.name != "type" || s != section::bus) {
                        for (const auto& c : k.choices)
                            add(s, k, quoted(c), true);
                    }
                    add(s, k, "\"nonsense\"", false);
                    break;
                case value_kind::nested:
                case value_kind::map_of:
                case value_kind::list_of:
                    add(s, k, "\"x\"", false);
                    add(s, k, k.kind == value_kind::list_of ? "[ { zz_unknown: 1 } ]" : "{ zz_unknown: 1 }",
                        false);
                    break;
                case value_kind::list_of_strings:
                    add(s, k, k.name == "unmapped" || k.name == "unanswered" ? "[ \"1-2\" ]" : "[ \"b:1884\" ]", true);
                    add(s, k, k.name == "unmapped" || k.name == "unanswered" ? "[ 7 ]" : "[ 10 ]", true);
                    add(s, k, "5", false);
                    break;
                case value_kind::listen_address:
                    add(s, k, "\"127.0.0.1:9108\"", true);
                    add(s, k, "\"[::1]:9108\"", true);
                    add(s, k, "\"localhost:9108\"", false);
                    break;
            }
        }
        // An extension key, taken anywhere and ignored.
        key_spec extension;
        extension.name = "x-note";
        add(s, extension, "{ a: 1 }", true);
        // An unknown key in the section.
        key_spec unknown;
        unknown.name = "zz_unknown";
        add(s, unknown, "1", false);
    }
    return cases;
}

TEST(json_schema, every_key_at_and_past_its_edges_gets_the_loaders_verdict) {
    fieldbridge::testing::temp_dir dir("fieldbridge-schema");
    const auto cases = key_cases();
    ASSERT_GT(cases.size(), 400u);
    expect_same_verdicts(dir.path(), cases);
}

TEST(json_schema, a_missing_required_key_or_an_unknown_section_is_refused_by_both) {
    fieldbridge::testing::temp_dir dir("fieldbridge-schema");
    std::vector<doc_case> cases;
    for (const auto* key : {"name", "register", "address"}) {
        document d;
        d.point.erase(key);
        cases.push_back({std::string("point without ") + key, d.text(), false});
    }
    for (const auto* key : {"bus", "unit_id"}) {
        document d;
        d.device.erase(key);
        cases.push_back({std::string("device without ") + key, d.text(), false});
    }
    document no_type;
    no_type.tcp_bus.erase("type");
    cases.push_back({"bus without type", no_type.text(), false});
    document no_host;
    no_host.tcp_bus.erase("host");
    cases.push_back({"tcp bus without host", no_host.text(), false});
    document rtu_key_on_tcp;
    rtu_key_on_tcp.tcp_bus.set("baud", "9600");
    cases.push_back({"rtu key on a tcp bus", rtu_key_on_tcp.text(), false});
    document no_points;
    no_points.profile = flow().set("retries", "2");
    no_points.device.set("profile", "p");
    cases.push_back({"profile without points", no_points.text(), false});
    cases.push_back({"unknown section", document().text() + "polling: { fast: true }\n", false});
    cases.push_back({"a bad name as a key",
                     "mqtt: { host: h, client_id: c }\nbuses:\n  \"line 1\": { type: tcp, host: h }\n",
                     false});
    cases.push_back(
        {"an x- section with anchors", "x-common: &c { register: holding }\n" + document().text(), true});
    expect_same_verdicts(dir.path(), cases);
}

TEST(json_schema, the_examples_and_every_docs_configuration_pass_it) {
    fieldbridge::testing::temp_dir dir("fieldbridge-schema");
    std::vector<doc_case> cases;
    for (const auto& doc : testing::docs_documents(FIELDBRIDGE_SOURCE_DIR))
        cases.push_back({doc.where, doc.text, true});
    ASSERT_GE(cases.size(), 3u);
    expect_same_verdicts(dir.path(), cases);
    // The example files as they are (their !include paths are relative to them).
    std::vector<std::string> examples;
    for (const auto& e : fs::directory_iterator(FIELDBRIDGE_SOURCE_DIR "/examples")) {
        if (e.path().extension() == ".yaml")
            examples.push_back(e.path().string());
    }
    ASSERT_GE(examples.size(), 2u);
    const auto verdicts = schema_verdicts(dir.path(), {}, examples);
    for (const auto& f : examples) {
        EXPECT_NO_THROW(load_file(f)) << f;
        ASSERT_EQ(verdicts.count(f), 1u) << f;
        EXPECT_TRUE(verdicts.at(f).valid) << f << ": " << verdicts.at(f).error;
    }
}

TEST(json_schema, is_what_fieldbridge_schema_prints_and_names_its_draft) {
    const auto schema = json_schema();
    EXPECT_EQ(schema.at("$schema"), "https://json-schema.org/draft/2020-12/schema");
    // Every section's keys are in it.
    for (const auto& k : keys_of(section::root))
        EXPECT_TRUE(schema.at("properties").contains(std::string(k.name))) << k.name;
    const auto& point = schema.at("properties")
                            .at("devices")
                            .at("additionalProperties")
                            .at("properties")
                            .at("points")
                            .at("items");
    EXPECT_EQ(point.at("properties").size(), keys_of(section::point).size());
}

}  // namespace
}  // namespace fieldbridge::config
