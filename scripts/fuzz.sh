#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz (clang, ASan + UBSan, coverage
# in all of fieldbridge's libraries) and runs each one for a bounded time on a
# copy of its seed corpus. The time budget is split evenly across targets
# (at least 10 s each).
# Usage: scripts/fuzz.sh [total-seconds]   (default 120)
#        FIELDBRIDGE_FUZZ_DIR=<build dir>  (default build-fuzz)
#        FIELDBRIDGE_FUZZ_BUILD=all        build the whole tree (the test suite
#                                          too, for a run under ASan + UBSan),
#                                          not only the fuzz targets
# Prints the executions of each target. A finding (crash, sanitizer report,
# broken property, timeout, memory beyond 2 GB) is copied to
# <build dir>/findings/<target>/ and the script exits 1 after running every
# target; once fixed, add the file to tests/fuzz/corpus/<target>/ so that
# every build replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
total="${1:-120}"
dir="${FIELDBRIDGE_FUZZ_DIR:-build-fuzz}"
mkdir -p "$dir"

# -O1 -g, as libFuzzer's documentation builds; test code (FIELDBRIDGE_FUZZ_BUILD=all)
# at -O0, see scripts/test.sh.
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DFIELDBRIDGE_TEST_FLAGS=-O0 \
      -DFIELDBRIDGE_FUZZ=ON -DFIELDBRIDGE_BUILD_BENCH=OFF -DFIELDBRIDGE_WERROR=OFF > "$dir/configure.log" 2>&1 \
  || { cat "$dir/configure.log"; exit 1; }
if [ "${FIELDBRIDGE_FUZZ_BUILD:-}" = all ]; then
  cmake --build "$dir"
else
  cmake --build "$dir" --target fuzz_targets
fi

mapfile -t targets < <(grep -v '^$' "$dir/tests/fuzz/fuzz_targets.txt")
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets in $dir/tests/fuzz/fuzz_targets.txt" >&2
  exit 1
fi
per=$(( total / ${#targets[@]} ))
if [ "$per" -lt 10 ]; then per=10; fi

rm -rf "$dir/corpus" "$dir/findings" "$dir/logs"
mkdir -p "$dir/corpus" "$dir/findings" "$dir/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  work="$dir/corpus/$t"
  findings="$dir/findings/$t"
  log="$dir/logs/$t.log"
  mkdir -p "$work" "$findings"
  if [ -d "tests/fuzz/corpus/$t" ]; then cp -r "tests/fuzz/corpus/$t/." "$work/"; fi
  echo "== fuzzing $t for ${per} s"
  rc=0
  "$dir/tests/fuzz/${t}_fuzz" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$findings/" -print_final_stats=1 "$work" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$findings")" ]; then
    tail -n 40 "$log"
    echo "fuzz: $t FAILED (exit $rc); findings in $findings/"
    failed+=("$t")
    summary+=("$(printf '%-20s %12s executions  FINDING' "$t" "${execs:-?}")")
  else
    rmdir "$findings"
    summary+=("$(printf '%-20s %12s executions  ok' "$t" "${execs:-?}")")
  fi
done

echo "== fuzzing summary (${per} s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
