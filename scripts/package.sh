#!/usr/bin/env bash
# Builds the release packages: an optimised build per architecture, the
# binary stripped in fieldbridge_<version>_<arch>.deb and its debug
# information in fieldbridge-dbgsym_<version>_<arch>.ddeb, Depends from
# dpkg-shlibdeps against the target's libraries. Packages land in dist/;
# each is inspected and installed in a private root
# (tests/package/inspect_deb.sh).
# Usage: scripts/package.sh [amd64|arm64|armhf|all]   (default amd64)
# Cross architectures need scripts/install-deps.sh --cross ARCH first.
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-amd64}"
case "$want" in
  all) arches=(amd64 arm64 armhf) ;;
  amd64|arm64|armhf) arches=("$want") ;;
  *) echo "usage: scripts/package.sh [amd64|arm64|armhf|all]" >&2; exit 64 ;;
esac
mkdir -p dist
for arch in "${arches[@]}"; do
  dir="build-pkg-$arch"
  toolchain=()
  case "$arch" in
    arm64) toolchain=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake) ;;
    armhf) toolchain=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake) ;;
  esac
  echo "== $arch: build ($dir)"
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja "${toolchain[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DFIELDBRIDGE_BUILD_TESTS=OFF \
        -DFIELDBRIDGE_BUILD_BENCH=OFF -DFIELDBRIDGE_DBGSYM=ON > "$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; exit 1; }
  cmake --build "$dir" --target fieldbridge
  echo "== $arch: cpack"
  rm -f dist/fieldbridge*_"$arch".deb dist/fieldbridge*_"$arch".ddeb  # an older version's would be taken for this one
  (cd "$dir" && cpack -G DEB -B "$PWD/../dist" > cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
  rm -rf dist/_CPack_Packages
  for f in dist/fieldbridge*_"$arch".*deb; do
    echo "$f: $(stat -c %s "$f") bytes"
  done
  echo "$arch binary before stripping: $(stat -c %s "$dir/gateway/fieldbridge") bytes"
  echo "== $arch: inspection"
  tests/package/inspect_deb.sh "$(ls dist/fieldbridge_*_"$arch".deb | tail -n 1)" "$arch"
done
