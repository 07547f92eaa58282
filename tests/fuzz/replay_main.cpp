// Runs a fuzz target over every file of the given corpus directories (or
// files), without libFuzzer: each target's seed corpus, findings included,
// is a regression test of every build, plain and sanitized. A target
// reports a broken property by aborting, so any failure ends this process
// with the file's name printed first.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

void run_file(const fs::path& file, int& count) {
    std::fprintf(stderr, "replay %s\n", file.c_str());
    std::ifstream f(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++count;
}

}  // namespace

int main(int argc, char** argv) {
    int count = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto& e : fs::directory_iterator(p)) {
                if (e.is_regular_file()) run_file(e.path(), count);
            }
        } else if (fs::is_regular_file(p)) {
            run_file(p, count);
        } else {
            std::fprintf(stderr, "no such corpus: %s\n", argv[i]);
            return 2;
        }
    }
    if (count == 0) {
        std::fprintf(stderr, "empty corpus\n");
        return 2;
    }
    std::printf("%d input(s) replayed, no failure\n", count);
    return 0;
}
