#!/usr/bin/env bash
# Installs every Debian 12 package fieldbridge needs to build, test and run
# its demo. Idempotent: packages already present are left alone.
# Usage: scripts/install-deps.sh [--cross arm64|armhf]...
#   --cross ARCH  also the cross compiler, the target's libraries (multiarch)
#                 and qemu-user to run its tests (cmake/toolchains/)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

cross=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cross)
      case "${2:-}" in
        arm64|armhf) cross+=("$2") ;;
        *) echo "install-deps: --cross takes arm64 or armhf" >&2; exit 64 ;;
      esac
      shift 2 ;;
    *) echo "usage: scripts/install-deps.sh [--cross arm64|armhf]..." >&2; exit 64 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libmodbus-dev libboost1.81-dev libssl-dev libyaml-cpp-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libsystemd-dev
  libgtest-dev libgmock-dev clang libclang-rt-14-dev clang-tidy libmosquitto-dev
  mosquitto mosquitto-clients socat openssl procps python3-jsonschema python3-yaml
  protobuf-c-compiler libprotobuf-c-dev
)

# The target's libraries: every -dev package above that is Multi-Arch; for
# yaml-cpp (its -dev package is not) the runtime library, used with the
# build machine's headers (CMakeLists.txt).
for arch in "${cross[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "install-deps: adding the $arch architecture"
    $SUDO dpkg --add-architecture "$arch"
  fi
  packages+=("crossbuild-essential-$arch" qemu-user-static)
  # libc6:<arch> is the loader and libc that qemu-user runs the programs with.
  for lib in libc6 libmodbus-dev libboost1.81-dev libssl-dev libyaml-cpp0.7 libsqlite3-dev libfmt-dev libspdlog-dev \
             libsystemd-dev libgtest-dev libgmock-dev libmosquitto-dev libprotobuf-c-dev; do
    packages+=("$lib:$arch")
  done
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

export DEBIAN_FRONTEND=noninteractive
updated=0

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  updated=1
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The metrics test checks a scrape with promtool, from Debian's prometheus
# package. Installing that package would also enable a Prometheus server on
# port 9090, so only promtool is taken out of it, into /usr/local/bin.
if ! command -v promtool > /dev/null; then
  echo "install-deps: installing promtool from the prometheus package"
  [ "$updated" -eq 1 ] || $SUDO apt-get update -qq
  work=$(mktemp -d)
  chmod 0755 "$work"  # apt-get download runs as _apt
  (cd "$work" && apt-get download -qq prometheus)
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  $SUDO install -m 0755 "$work/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$work"
fi

# The Debian mosquitto package enables a system broker on port 1883; the demo
# and the tests start their own brokers, so the system one is left as it is.
