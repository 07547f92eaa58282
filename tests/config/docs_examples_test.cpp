// Every ```yaml block in README.md and docs/*.md must load: examples in the
// docs cannot rot. A block that is a fragment (one section, say `mqtt`) is
// completed with the sections it lacks from a small base configuration.
// Other programs' YAML (a Prometheus scrape job or alert rules) is fenced as
// ```yml and not checked here.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <gtest/gtest.h>

#include "config/loader.hpp"

namespace fieldbridge::config {
namespace {

namespace fs = std::filesystem;

struct yaml_block {
    std::string where;  // file:line of the opening fence
    std::string text;
};

std::vector<yaml_block> yaml_blocks(const fs::path& file) {
    std::ifstream in(file);
    std::vector<yaml_block> out;
    std::string line;
    int number = 0;
    std::optional<yaml_block> open;
    while (std::getline(in, line)) {
        ++number;
        if (!open && line == "```yaml") {
            open = yaml_block{file.filename().string() + ":" + std::to_string(number), {}};
        } else if (open && line == "```") {
            out.push_back(*open);
            open.reset();
        } else if (open) {
            open->text += line + "\n";
        }
    }
    return out;
}

// Top-level sections of a YAML document, by key, in text form.
std::map<std::string, std::string> sections(const std::string& yaml) {
    std::map<std::string, std::string> out;
    std::istringstream in(yaml);
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] != ' ' && line[0] != '#') {
            current = line.substr(0, line.find(':'));
        }
        if (!current.empty()) out[current] += line + "\n";
    }
    return out;
}

const char* const base = R"(mqtt: { host: 127.0.0.1, client_id: docs }
buses:
  line1: { type: tcp, host: 127.0.0.1, port: 502 }
devices:
  meter1:
    bus: line1
    unit_id: 1
    points:
      - { name: v, register: input, address: 100, type: uint16 }
)";

TEST(docs_examples, every_yaml_block_in_the_docs_loads) {
    std::vector<fs::path> files{FIELDBRIDGE_SOURCE_DIR "/README.md"};
    for (const auto& e : fs::directory_iterator(FIELDBRIDGE_SOURCE_DIR "/docs")) {
        if (e.path().extension() == ".md") files.push_back(e.path());
    }
    std::size_t checked = 0;
    for (const auto& f : files) {
        for (const auto& block : yaml_blocks(f)) {
            auto merged = sections(base);
            for (auto& [key, text] : sections(block.text)) merged[key] = text;
            std::string document;
            // x- sections first: they hold the anchors the others alias.
            for (const auto& [key, text] : merged) {
                if (key.starts_with("x-")) document += text;
            }
            for (const auto& [key, text] : merged) {
                if (!key.starts_with("x-")) document += text;
            }
            // The profiles the package installs are the ones in the source tree.
            const std::string installed = "/usr/share/fieldbridge/profiles/";
            for (auto at = document.find(installed); at != std::string::npos; at = document.find(installed, at)) {
                const std::string shipped = FIELDBRIDGE_SOURCE_DIR "/examples/profiles/";
                document.replace(at, installed.size(), shipped);
                at += shipped.size();
            }
            try {
                load_string(document, block.where);
            } catch (const config_error& e) {
                ADD_FAILURE() << block.where << ": the example does not load:\n" << e.what() << "\n" << document;
            }
            ++checked;
        }
    }
    // README has a full example; configuration.md has several fragments.
    EXPECT_GE(checked, 3u);
}

}  // namespace
}  // namespace fieldbridge::config
