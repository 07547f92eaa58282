#!/usr/bin/env bash
# Builds the MQTT packet decoder's libFuzzer target with clang (ASan +
# UBSan) and runs it for a bounded time on a copy of the seed corpus.
# Usage: scripts/fuzz.sh [seconds]       (default 60)
# A finding is written to build-fuzz/findings/ and the script exits 1; add
# the file to tests/fuzz/corpus/mqtt_decode/ once fixed so that every build
# replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
mkdir -p build-fuzz

cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFIELDBRIDGE_FUZZ=ON -DFIELDBRIDGE_BUILD_BENCH=OFF -DFIELDBRIDGE_WERROR=OFF > build-fuzz/configure.log 2>&1 \
  || { cat build-fuzz/configure.log; exit 1; }
cmake --build build-fuzz --target mqtt_decode_fuzz

work=build-fuzz/corpus
rm -rf "$work" build-fuzz/findings
mkdir -p "$work" build-fuzz/findings
cp tests/fuzz/corpus/mqtt_decode/* "$work/"
echo "== fuzzing the MQTT decoder (3.1.1 and 5.0) for ${seconds} s"
build-fuzz/tests/fuzz/mqtt_decode_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=build-fuzz/findings/ -print_final_stats=1 "$work" 2>&1 | tail -n 12
