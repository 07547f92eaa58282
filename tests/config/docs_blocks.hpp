// The ```yaml blocks of README.md and docs/*.md as whole configurations: a
// block that is a fragment (one section, say `mqtt`) is completed with the
// sections it lacks from a small base configuration, and the profiles the
// package installs are read from the source tree. Other programs' YAML (a
// Prometheus scrape job or alert rules) is fenced as ```yml and left out.
// Shared by the docs examples test (the loader) and the schema test.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace fieldbridge::config::testing {

namespace docs_detail {
struct yaml_block {
    std::string where;  // file:line of the opening fence
    std::string text;
};

inline std::vector<yaml_block> yaml_blocks(const std::filesystem::path& file) {
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
inline std::map<std::string, std::string> sections(const std::string& yaml) {
    std::map<std::string, std::string> out;
    std::istringstream in(yaml);
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] != ' ' && line[0] != '#') {
            current = line.substr(0, line.find(':'));
        }
        if (!current.empty())
            out[current] += line + "\n";
    }
    return out;
}

inline const char* const base = R"(mqtt: { host: 127.0.0.1, client_id: docs }
buses:
  line1: { type: tcp, host: 127.0.0.1, port: 502 }
devices:
  meter1:
    bus: line1
    unit_id: 1
    points:
      - { name: v, register: input, address: 100, type: uint16 }
)";

}  // namespace docs_detail

struct docs_document {
    std::string where;  // file:line of the block's opening fence
    std::string text;   // the whole configuration
};

// Every block of README.md and docs/*.md under source_dir, completed.
inline std::vector<docs_document> docs_documents(const std::filesystem::path& source_dir) {
    using namespace docs_detail;
    std::vector<std::filesystem::path> files{source_dir / "README.md"};
    for (const auto& e : std::filesystem::directory_iterator(source_dir / "docs")) {
        if (e.path().extension() == ".md")
            files.push_back(e.path());
    }
    std::vector<docs_document> out;
    for (const auto& f : files) {
        for (const auto& block : yaml_blocks(f)) {
            auto merged = sections(base);
            for (auto& [key, text] : sections(block.text))
                merged[key] = text;
            std::string document;
            // x- sections first: they hold the anchors the others alias.
            for (const auto& [key, text] : merged) {
                if (key.starts_with("x-"))
                    document += text;
            }
            for (const auto& [key, text] : merged) {
                if (!key.starts_with("x-"))
                    document += text;
            }
            // The profiles the package installs are the ones in the source tree.
            const std::string installed = "/usr/share/fieldbridge/profiles/";
            for (auto at = document.find(installed); at != std::string::npos;
                 at = document.find(installed, at)) {
                const std::string shipped = (source_dir / "examples" / "profiles").string() + "/";
                document.replace(at, installed.size(), shipped);
                at += shipped.size();
            }
            out.push_back({block.where, document});
        }
    }
    return out;
}

}  // namespace fieldbridge::config::testing
