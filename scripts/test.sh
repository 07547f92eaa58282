#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: a -Werror build with ctest
# (unit and integration), a bounded libFuzzer run of the MQTT decoder, then
# the same suite under ASan+UBSan.
# Usage: scripts/test.sh            (both builds)
#        FIELDBRIDGE_SKIP_SANITIZE=1 scripts/test.sh   (plain build only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)

echo "== build (Release with debug info, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBRIDGE_WERROR=ON
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300)

echo "== fuzzing (bounded)"
scripts/fuzz.sh "${FIELDBRIDGE_FUZZ_SECONDS:-60}"

if [ "${FIELDBRIDGE_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFIELDBRIDGE_SANITIZE=ON \
        -DFIELDBRIDGE_WERROR=ON -DFIELDBRIDGE_BUILD_BENCH=OFF
  cmake --build build-asan -j"$jobs"
  echo "== tests under ASan + UBSan"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure -j"$jobs" --timeout 600)
fi
