#include "tests/support/emulator.hpp"

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fieldbridge::testing {
namespace {

#ifdef FIELDBRIDGE_TEST_EMULATOR
#if defined(__aarch64__)
constexpr std::uint16_t own_machine = EM_AARCH64;
#elif defined(__arm__)
constexpr std::uint16_t own_machine = EM_ARM;
#elif defined(__x86_64__)
constexpr std::uint16_t own_machine = EM_X86_64;
#else
constexpr std::uint16_t own_machine = EM_NONE;
#endif

// The ELF machine of a program file; EM_NONE for anything else. e_machine
// sits at the same offset in 32- and 64-bit headers.
std::uint16_t machine_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    unsigned char header[20] = {};
    if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return EM_NONE;
    if (std::memcmp(header, ELFMAG, SELFMAG) != 0) return EM_NONE;
    // Little-endian targets only (all of ours are).
    return static_cast<std::uint16_t>(header[18] | (header[19] << 8));
}
#endif

}  // namespace

bool emulated() {
#ifdef FIELDBRIDGE_TEST_EMULATOR
    return true;
#else
    return false;
#endif
}

std::vector<std::string> with_emulator(std::vector<std::string> argv) {
#ifdef FIELDBRIDGE_TEST_EMULATOR
    if (!argv.empty() && own_machine != EM_NONE && machine_of(argv[0]) == own_machine) {
        // CMake's list: the program, then its arguments, separated by ';'.
        std::vector<std::string> prefix;
        std::istringstream words(FIELDBRIDGE_TEST_EMULATOR);
        for (std::string w; std::getline(words, w, ';');) {
            if (!w.empty()) prefix.push_back(w);
        }
        argv.insert(argv.begin(), prefix.begin(), prefix.end());
    }
#endif
    return argv;
}

}  // namespace fieldbridge::testing
