#!/usr/bin/env bash
# The demo: a local mosquitto, the built-in simulator serving examples/demo.yaml's
# devices on 127.0.0.1:1502, and the gateway polling them; live values are
# printed by mosquitto_sub until Ctrl-C (or for --duration SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    -h|--help) echo "usage: scripts/demo.sh [--duration SECONDS]"; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 64 ;;
  esac
done

scripts/install-deps.sh
# -Werror is the gate of the test build (scripts/test.sh); here a warning is
# shown, not fatal, so that a newer compiler does not stop the demo.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDBRIDGE_WERROR=OFF >/dev/null
cmake --build build --target fieldbridge -j"$(nproc)"

config=examples/demo.yaml
mqtt_port=1883
work=$(mktemp -d /tmp/fieldbridge-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 100); do
    if port_open "$1"; then return 0; fi
    sleep 0.1
  done
  echo "demo: nothing listens on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

if port_open "$mqtt_port"; then
  echo "demo: using the broker already listening on 127.0.0.1:$mqtt_port"
else
  cat > "$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
user root
CONF
  mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
  pids+=($!)
  wait_port "$mqtt_port"
fi

build/gateway/fieldbridge check "$config" > /dev/null
build/gateway/fieldbridge simulate -c "$config" > "$work/simulator.log" 2>&1 &
pids+=($!)
wait_port 1502
build/gateway/fieldbridge run -c "$config" > "$work/gateway.log" 2>&1 &
pids+=($!)

echo "demo: gateway running; live values from mosquitto_sub -v -t 'demo/#' (Ctrl-C to stop)"
if [ "$duration" -gt 0 ]; then
  timeout "$duration" mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -v -t 'demo/#' || true
else
  mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -v -t 'demo/#' || true
fi
