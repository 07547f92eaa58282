# Cross build for aarch64-linux-gnu with Debian 12's cross compiler and the target's
# multiarch libraries (scripts/install-deps.sh --cross arm64 sets both up):
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# Test programs run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR), so
# ctest runs the suite as on the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and CMake packages come from the target's lib/<triplet>
# (CMAKE_LIBRARY_ARCHITECTURE, pkg-config's directory below), programs from
# the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# The loader and libc are the target's multiarch libc6 (/lib/aarch64-linux-gnu),
# found by qemu without -L: with -L /usr/aarch64-linux-gnu it would take the cross
# toolchain's loader, which is older than the multiarch libc it then loads,
# and a program hangs in its first pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
