#!/usr/bin/env bash
# Installs every Debian 12 package fieldbridge needs to build, test and run
# its demo. Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libmodbus-dev libboost1.81-dev libssl-dev libyaml-cpp-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libsystemd-dev
  libgtest-dev libgmock-dev clang libclang-rt-14-dev clang-tidy libmosquitto-dev
  mosquitto mosquitto-clients socat openssl procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The Debian mosquitto package enables a system broker on port 1883; the demo
# and the tests start their own brokers, so the system one is left as it is.
