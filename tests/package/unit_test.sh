#!/usr/bin/env bash
# The systemd unit as systemd reads it: `systemd-analyze verify` must accept
# it and `systemd-analyze security` must rate its exposure at 2.5 or lower.
# Runs offline (no systemd as PID 1 needed); the ExecStart binary is replaced
# by one that exists on this machine.
# Usage: unit_test.sh UNIT_FILE
set -euo pipefail
work=$(mktemp -d /tmp/fieldbridge-unit.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed 's#/usr/bin/fieldbridge#/bin/true#g' "$1" > "$work/fieldbridge.service"
systemd-analyze verify "$work/fieldbridge.service"
report=$(systemd-analyze security --offline=yes "$work/fieldbridge.service" 2>&1) || true
exposure=$(sed -n 's/.*Overall exposure level for fieldbridge.service: \([0-9.]*\).*/\1/p' <<<"$report")
[ -n "$exposure" ] || { echo "$report"; echo "FAIL: no exposure figure"; exit 1; }
echo "exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || { echo "$report"; echo "FAIL: exposure $exposure > 2.5"; exit 1; }
# Every serial port name the documentation gives operators (/dev/ttyAMA0,
# /dev/ttymxc0, ...) is one the unit's DevicePolicy lets the service open.
docs="$(dirname "$1")/../docs"
for name in $(grep -rhoE '/dev/tty[A-Za-z]+' "$docs" | sort -u | sed 's#/dev/##'); do
  grep -qx "DeviceAllow=char-$name rw" "$1" || { echo "FAIL: the docs name /dev/$name..., which the unit does not allow"; exit 1; }
done
echo PASS
