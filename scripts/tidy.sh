#!/usr/bin/env bash
# Runs clang-tidy (Debian's, checks from .clang-tidy, every warning an
# error) over fieldbridge's own source files (not the tests: they double the
# time, about 15 s of CPU per file, and the checks are about the product's
# code), with the compile commands of a configured build directory. Exits 1
# on a finding.
# Usage: scripts/tidy.sh [build dir]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
if [ ! -f "$dir/compile_commands.json" ]; then
  echo "tidy: $dir/compile_commands.json missing: configure $dir first" >&2
  exit 1
fi
# -w: the compiler's own warnings are the -Werror build's business (and g++
# flags in the compile commands are unknown to clang); only the checks of
# .clang-tidy are reported here.
# No lambda may capture a structured binding (C++20, P1091): g++ 12 compiles
# it, clang 14 (the parser under Debian 12's clang-tidy, and the compiler of
# the ASan + fuzz build) does not.
run-clang-tidy -p "$dir" -j "$(nproc)" -quiet -extra-arg=-w \
  "^$PWD/(common|config|drivers|mqtt|gateway)/.*\.cpp\$" > "$dir/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error):" "$dir/clang-tidy.log" | sort -u | head -n 100
  echo "tidy: findings above (whole output in $dir/clang-tidy.log)" >&2
  exit 1
}
echo "tidy: no findings"
