# Cross build for arm-linux-gnueabihf with Debian 12's cross compiler and the target's
# multiarch libraries (scripts/install-deps.sh --cross armhf sets both up):
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
# Test programs run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR), so
# ctest runs the suite as on the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
# g++ notes on ARM that the passing of some std:: iterators changed in GCC 7.1
# (-Wpsabi): an ABI fact about objects built by compilers older than
# Debian 12's, with none of which this program links.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
# Libraries and CMake packages come from the target's lib/<triplet>
# (CMAKE_LIBRARY_ARCHITECTURE, pkg-config's directory below), programs from
# the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig)
# The loader and libc are the target's multiarch libc6 (/lib/arm-linux-gnueabihf),
# found by qemu without -L: with -L /usr/arm-linux-gnueabihf it would take the cross
# toolchain's loader, which is older than the multiarch libc it then loads,
# and a program hangs in its first pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm-static)
