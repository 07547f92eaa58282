#!/usr/bin/env bash
# Builds the .deb from a configured and built tree, inspects it, and installs,
# upgrades, removes and purges it in a private dpkg root (not the host's):
# the binary, unit, example config (a conffile that survives upgrades and
# removal) and docs must land where the unit expects them.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/fieldbridge-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/fieldbridge_*.deb)
echo "package: $(basename "$deb")"

contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/fieldbridge ./usr/lib/systemd/system/fieldbridge.service ./etc/fieldbridge/fieldbridge.yaml \
         ./usr/share/doc/fieldbridge/operations.md ./usr/share/doc/fieldbridge/configuration.md ./usr/share/doc/fieldbridge/cli.md \
         ./usr/share/doc/fieldbridge/copyright ./usr/share/doc/fieldbridge/examples/demo.yaml; do
  grep -q " $f\$" <<<"$contents" || fail "$f missing from the package"
done
info=$(dpkg-deb -I "$deb")
grep -q '^ Depends:.*libmodbus5' <<<"$info" || fail "Depends lacks libmodbus5: $info"
grep -q '^ Depends:.*adduser' <<<"$info" || fail "Depends lacks adduser (postinst creates the service user): $info"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/fieldbridge/fieldbridge.yaml "$work/control/conffiles" || fail "config is not a conffile"

# A private root for dpkg: maintainer scripts run without chroot and find no
# systemd, so they only do their file work.
root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-not-root --force-depends \
                   --log=/dev/null "$@" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg $*"; }; }

dpkg_root -i "$deb"
[ -x "$root/usr/bin/fieldbridge" ] || fail "binary not installed"
"$root/usr/bin/fieldbridge" --version | grep -q . || fail "installed binary does not run"
"$root/usr/bin/fieldbridge" check "$root/etc/fieldbridge/fieldbridge.yaml" >/dev/null \
  || fail "the installed example configuration does not pass check"

# The operator edits the config; an upgrade (same package again) keeps it.
echo "# edited by the operator" >> "$root/etc/fieldbridge/fieldbridge.yaml"
dpkg_root --force-confold -i "$deb"
grep -q "edited by the operator" "$root/etc/fieldbridge/fieldbridge.yaml" || fail "upgrade replaced the edited config"

# Remove keeps the config and the queue; purge takes both, in the dpkg root
# the scripts were run for (DPKG_ROOT), never the host's.
mkdir -p "$root/var/lib/fieldbridge"
echo queued > "$root/var/lib/fieldbridge/queue.db"
dpkg_root -r fieldbridge
[ ! -e "$root/usr/bin/fieldbridge" ] || fail "binary left after remove"
[ -e "$root/etc/fieldbridge/fieldbridge.yaml" ] || fail "remove deleted the config"
[ -e "$root/var/lib/fieldbridge/queue.db" ] || fail "remove deleted the queue"
dpkg_root -P fieldbridge
[ ! -e "$root/etc/fieldbridge/fieldbridge.yaml" ] || fail "purge left the config"
[ ! -e "$root/var/lib/fieldbridge" ] || fail "purge left the queue of the dpkg root (the script used another root)"
echo "PASS"
