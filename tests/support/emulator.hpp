// Test programs of a cross build run under qemu-user (the toolchain file's
// CMAKE_CROSSCOMPILING_EMULATOR), and qemu-user starts a program natively:
// the build machine's mosquitto runs as it is, a program built for the
// target (the gateway) needs the emulator in front of it.
#pragma once

#include <string>
#include <vector>

namespace fieldbridge::testing {

// argv with the emulator in front when argv[0] is a file holding a program
// for the machine this test was built for and the build is a cross build;
// argv unchanged otherwise.
std::vector<std::string> with_emulator(std::vector<std::string> argv);

// True in a cross build's tests (they run emulated).
bool emulated();

}  // namespace fieldbridge::testing
