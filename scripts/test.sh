#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, stage by stage:
#   tsan           a g++ -Werror build with ThreadSanitizer (the benchmarks
#                  compiled too), the suite under it
#   asan + fuzz    one clang build with ASan + UBSan: every libFuzzer target
#                  for a share of a bounded time, then the suite under it
#   arm64          a cross build (g++ for aarch64-linux-gnu, -Werror) of the
#                  unit tests, run under qemu-user (tests labelled unit;
#                  the models over fewer seeds, emulation is 10-50x slower)
#   tidy           clang-tidy over the product's code changed since
#                  scripts/tidy-baseline (scripts/tidy.sh)
# Both builds compile the product as RelWithDebInfo at -O1 (the sanitizers'
# usual level) and the test code at -O0, which halves the build time; a
# plain build of the suite is `cmake -S . -B build && cmake --build build &&
# (cd build && ctest -LE long)`.
# Each stage prints its time; a failing stage stops the run.
# Compiles go through ccache (CMakeLists.txt, FIELDBRIDGE_CCACHE): a run
# after a small change rebuilds little; a first run on a machine compiles all.
# Usage: scripts/test.sh
#   FIELDBRIDGE_SKIP_TIDY=1       skip clang-tidy
#   FIELDBRIDGE_FUZZ_SECONDS=N    fuzzing budget for all targets (default 150)
#   FIELDBRIDGE_TIDY_ALL=1        clang-tidy over every file
#   FIELDBRIDGE_SKIP_ARM64=1      skip the arm64 stage
# Tests labelled "long" (the uplink model over 50 000 seeds) are left out:
#   (cd build && ctest -L long)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${FIELDBRIDGE_SKIP_ARM64:-0}" = "1" ]; then
  scripts/install-deps.sh
else
  scripts/install-deps.sh --cross arm64
fi

jobs=$(nproc)
stage_started=0
stage() {
  stage_started=$SECONDS
  echo "== $*"
}
stage_done() {
  echo "== $1: $((SECONDS - stage_started)) s"
}

stage "build (g++, ThreadSanitizer, -Werror)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBRIDGE_TEST_FLAGS=-O0 \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DFIELDBRIDGE_TSAN=ON -DFIELDBRIDGE_WERROR=ON -DFIELDBRIDGE_BUILD_BENCH=ON
cmake --build build-tsan -j"$jobs"
stage_done "build (ThreadSanitizer)"
stage "tests under ThreadSanitizer"
# Suppressions cover third-party internals only (each entry says why).
supp="$PWD/tests/tsan.supp"  # before the cd below
# Tests labelled single_thread run on one thread (model and property tests
# with a manual clock): TSan has nothing to find there, they run under ASan +
# UBSan below.
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$supp" \
    FIELDBRIDGE_STORE_MODEL_SEEDS=100 ctest --output-on-failure -j"$jobs" --timeout 900 -LE 'long|single_thread')
stage_done "tests under ThreadSanitizer"

# One clang build serves both: the libFuzzer targets and the suite under
# ASan + UBSan (its libraries carry libFuzzer's coverage hooks, which cost
# the tests little).
stage "build (clang, ASan + UBSan) and fuzzing (bounded)"
FIELDBRIDGE_FUZZ_DIR=build-asan FIELDBRIDGE_FUZZ_BUILD=all scripts/fuzz.sh "${FIELDBRIDGE_FUZZ_SECONDS:-150}"
stage_done "build (clang, ASan + UBSan) and fuzzing"
stage "tests under ASan + UBSan"
# The uplink model (1000 seeds in four shards of like cost, each well inside
# its 1200 s timeout) starts first (its COST), on both cores; `ctest` in a
# plain build runs 2000 seeds of each model, `ctest -L long` 50 000 of the
# uplink's.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FIELDBRIDGE_UPLINK_SEEDS=1000 FIELDBRIDGE_STORE_MODEL_SEEDS=2000 \
    ctest --output-on-failure -j"$jobs" --timeout 900 -LE long)
stage_done "tests under ASan + UBSan"

if [ "${FIELDBRIDGE_SKIP_ARM64:-0}" != "1" ]; then
  stage "build (g++ for arm64, unit tests, -Werror)"
  cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
        -DFIELDBRIDGE_TEST_FLAGS=-O0 -DFIELDBRIDGE_WERROR=ON
  cmake --build build-arm64 -j"$jobs" --target unit_tests
  stage_done "build (arm64)"
  stage "unit tests of the arm64 build under qemu-user"
  # Integration tests (a broker, simulators, the gateway binary emulated) are
  # not built here: `ctest -L integration` in a full cross build runs them
  # (docs/operations.md, "ARM boxes", lists what they show under emulation).
  (cd build-arm64 && FIELDBRIDGE_UPLINK_SEEDS=100 FIELDBRIDGE_STORE_MODEL_SEEDS=200 FIELDBRIDGE_SPARKPLUG_SEEDS=200 \
      ctest --output-on-failure -j"$jobs" --timeout 900 -L unit)
  stage_done "unit tests (arm64, emulated)"
fi

if [ "${FIELDBRIDGE_SKIP_TIDY:-0}" != "1" ]; then
  stage "clang-tidy"
  if [ "${FIELDBRIDGE_TIDY_ALL:-0}" = "1" ]; then
    scripts/tidy.sh build-asan --all
  else
    scripts/tidy.sh build-asan
  fi
  stage_done clang-tidy
fi
