#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, stage by stage:
#   build + tests   a -Werror build with ctest (unit and integration)
#   asan + fuzz     one clang build with ASan + UBSan: every libFuzzer target
#                   for a share of a bounded time, then the suite
#   tsan            the suite under ThreadSanitizer
#   tidy            clang-tidy over fieldbridge's .cpp files (.clang-tidy)
# Each stage prints its time; a failing stage stops the run.
# Usage: scripts/test.sh
#   FIELDBRIDGE_SKIP_SANITIZE=1   skip the suite under ASan and TSan (fuzzing still runs)
#   FIELDBRIDGE_SKIP_TIDY=1       skip clang-tidy
#   FIELDBRIDGE_FUZZ_SECONDS=N    fuzzing budget for all targets (default 150)
# Tests labelled "long" (the uplink model over 50 000 seeds) are left out:
#   (cd build && ctest -L long)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
stage_started=0
stage() {
  stage_started=$SECONDS
  echo "== $*"
}
stage_done() {
  echo "== $1: $((SECONDS - stage_started)) s"
}

stage "build (Release with debug info, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBRIDGE_WERROR=ON
cmake --build build -j"$jobs"
stage_done build
stage "tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300 -LE long)
stage_done tests

if [ "${FIELDBRIDGE_SKIP_SANITIZE:-0}" != "1" ]; then
  # One clang build serves both: the libFuzzer targets and the suite under
  # ASan + UBSan (its libraries carry libFuzzer's coverage hooks, which cost
  # the tests little).
  stage "build (clang, ASan + UBSan) and fuzzing (bounded)"
  FIELDBRIDGE_FUZZ_DIR=build-asan FIELDBRIDGE_FUZZ_BUILD=all scripts/fuzz.sh "${FIELDBRIDGE_FUZZ_SECONDS:-150}"
  stage_done "build (clang, ASan + UBSan) and fuzzing"
  stage "tests under ASan + UBSan"
  # The uplink and store models run their full seed counts in the plain stage.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FIELDBRIDGE_UPLINK_SEEDS=300 FIELDBRIDGE_STORE_MODEL_SEEDS=300 \
      ctest --output-on-failure -j"$jobs" --timeout 600 -LE long)
  stage_done "tests under ASan + UBSan"
else
  stage "fuzzing (bounded)"
  scripts/fuzz.sh "${FIELDBRIDGE_FUZZ_SECONDS:-150}"
  stage_done fuzzing
fi

if [ "${FIELDBRIDGE_SKIP_SANITIZE:-0}" != "1" ]; then
  stage "build (ThreadSanitizer)"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBRIDGE_TSAN=ON \
        -DFIELDBRIDGE_WERROR=ON -DFIELDBRIDGE_BUILD_BENCH=OFF
  cmake --build build-tsan -j"$jobs"
  stage_done "build (ThreadSanitizer)"
  stage "tests under ThreadSanitizer"
  # Suppressions cover third-party internals only (each entry says why).
  supp="$PWD/tests/tsan.supp"  # before the cd below
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$supp" \
      FIELDBRIDGE_UPLINK_SEEDS=200 FIELDBRIDGE_STORE_MODEL_SEEDS=200 ctest --output-on-failure -j"$jobs" --timeout 900 -LE long)
  stage_done "tests under ThreadSanitizer"
fi

if [ "${FIELDBRIDGE_SKIP_TIDY:-0}" != "1" ]; then
  stage "clang-tidy"
  scripts/tidy.sh build
  stage_done clang-tidy
fi
