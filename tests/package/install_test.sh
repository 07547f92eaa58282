#!/usr/bin/env bash
# `cmake --install` of a built tree into a staging root (DESTDIR), twice:
# the first install puts the example configuration in place; the second,
# over an edited configuration, keeps it (and its mode) and puts the
# example beside it.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/fieldbridge-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
install_once() {
  DESTDIR="$work/root" cmake --install "$build" --prefix /usr --component runtime >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "cmake --install"; }
}
config="$work/root/etc/fieldbridge/fieldbridge.yaml"
install_once
[ -f "$config" ] || fail "no configuration after the first install"
[ ! -e "$config.example" ] || fail "an example beside a configuration the install just made"
echo "# edited by the operator" >> "$config"
chmod 0640 "$config"
install_once
grep -q "edited by the operator" "$config" || fail "the second install replaced the edited configuration"
[ "$(stat -c %a "$config")" = 640 ] || fail "the second install changed the configuration's mode"
[ -f "$config.example" ] || fail "no example beside the kept configuration"
grep -q "Keeping" "$work/install.log" || fail "the install did not say it kept the configuration"
echo PASS
