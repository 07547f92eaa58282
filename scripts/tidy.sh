#!/usr/bin/env bash
# Runs clang-tidy (Debian's, checks from .clang-tidy, every warning an
# error) over fieldbridge's own source files (not the tests: the checks are
# about the product's code), with the compile commands of a configured build
# directory. Exits 1 on a finding.
#
# By default only the changed code is checked: the .cpp files changed since
# the commit named in scripts/tidy-baseline (the last commit whose whole tree
# was checked), and the .cpp files that include a header changed since then.
# A change to .clang-tidy, a baseline missing from the history (a shallow
# clone) or --all checks every file; the analyzer costs 15-40 s of CPU per
# file, so the whole tree takes about 10 minutes on 2 cores.
#
# Usage: scripts/tidy.sh [build dir] [--all] [--record]
#   build dir   a configured build (compile_commands.json); default build
#   --all       every file, whatever changed
#   --record    after a clean run of every file, write HEAD into
#               scripts/tidy-baseline (commit it)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
all=0
record=0
for arg in "$@"; do
  case "$arg" in
    --all) all=1 ;;
    --record) all=1; record=1 ;;
    -*) echo "tidy: unknown option $arg" >&2; exit 2 ;;
    *) dir="$arg" ;;
  esac
done
if [ ! -f "$dir/compile_commands.json" ]; then
  echo "tidy: $dir/compile_commands.json missing: configure $dir first" >&2
  exit 1
fi

product='^(common|config|drivers|mqtt|sparkplug|gateway)/'
baseline=""
if [ -f scripts/tidy-baseline ]; then
  baseline=$(grep -o -m 1 -E '^[0-9a-f]{40}' scripts/tidy-baseline || true)
fi
if [ "$all" = 0 ]; then
  if [ -z "$baseline" ] || ! git cat-file -e "$baseline^{commit}" 2>/dev/null; then
    echo "tidy: baseline ${baseline:-(none)} not in this history: checking every file"
    all=1
  elif git diff --name-only "$baseline" -- .clang-tidy | grep -q .; then
    echo "tidy: .clang-tidy changed since the baseline: checking every file"
    all=1
  fi
fi

if [ "$all" = 1 ]; then
  mapfile -t files < <(git ls-files | grep -E "$product" | grep -E '\.cpp$')
else
  # Changed since the baseline, committed or not.
  mapfile -t changed < <({ git diff --name-only "$baseline"; git ls-files --others --exclude-standard; } |
                         grep -E "$product" | sort -u)
  files=()
  for f in "${changed[@]}"; do
    [ -f "$f" ] || continue  # deleted
    case "$f" in
      *.cpp) files+=("$f") ;;
      *.hpp)
        # Its direct includers carry its findings (HeaderFilterRegex).
        mapfile -t users < <(git grep -l -F "#include \"$f\"" -- '*.cpp' | grep -E "$product" || true)
        files+=("${users[@]}") ;;
    esac
  done
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v '^$' | sort -u)
  echo "tidy: ${#files[@]} file(s) changed since ${baseline:0:12} (scripts/tidy-baseline)"
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy: nothing to check"
  exit 0
fi

# -w: the compiler's own warnings are the -Werror build's business (and g++
# flags in the compile commands are unknown to clang); only the checks of
# .clang-tidy are reported here.
# No lambda may capture a structured binding (C++20, P1091): g++ 12 compiles
# it, clang 14 (the parser under Debian 12's clang-tidy, and the compiler of
# the ASan + fuzz build) does not.
regex="^$PWD/($(printf '%s\n' "${files[@]}" | sed 's/[.]/[.]/g' | paste -sd '|'))\$"
run-clang-tidy -p "$dir" -j "$(nproc)" -quiet -extra-arg=-w "$regex" > "$dir/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error):" "$dir/clang-tidy.log" | sort -u | head -n 100
  echo "tidy: findings above (whole output in $dir/clang-tidy.log)" >&2
  exit 1
}
echo "tidy: no findings in ${#files[@]} file(s)"
if [ "$record" = 1 ]; then
  if [ -n "$(git status --porcelain -- common config drivers mqtt gateway .clang-tidy)" ]; then
    echo "tidy: uncommitted changes to the product's code: baseline not recorded" >&2
    exit 1
  fi
  {
    git rev-parse HEAD
    echo "# The last commit whose whole tree passed scripts/tidy.sh --all; written by"
    echo "# scripts/tidy.sh --record. scripts/tidy.sh checks what changed since."
  } > scripts/tidy-baseline
  echo "tidy: baseline recorded: $(git rev-parse --short HEAD) (commit scripts/tidy-baseline)"
fi
