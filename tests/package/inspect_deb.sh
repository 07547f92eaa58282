#!/usr/bin/env bash
# Inspects a release package built by scripts/package.sh for its
# architecture, and installs and removes it in a private dpkg root:
#  - Architecture field; Depends with the libraries the binary links
#    (dpkg-shlibdeps), which apt can resolve for that architecture;
#  - the binary's ELF machine, stripped, its build id the one the -dbgsym
#    package carries debug information for;
#  - binary, unit, example configuration (a conffile), docs in place;
#  - installed in a private root, the binary runs (under qemu-user for a
#    foreign architecture) and accepts the shipped configuration; remove
#    keeps the configuration, purge takes it.
# Usage: inspect_deb.sh PACKAGE.deb ARCH
set -euo pipefail
deb=$(realpath "$1")
arch="$2"
work=$(mktemp -d /tmp/fieldbridge-inspect.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL ($arch): $*" >&2; exit 1; }

case "$arch" in
  amd64) machine="Advanced Micro Devices X86-64"; run=() ;;
  arm64) machine="AArch64"; run=(qemu-aarch64-static) ;;
  armhf) machine="ARM"; run=(qemu-arm-static) ;;
  *) fail "unknown architecture" ;;
esac

info=$(dpkg-deb -I "$deb")
grep -qx " Architecture: $arch" <<<"$info" || fail "Architecture is not $arch: $info"
for dep in libmodbus5 libssl3 libyaml-cpp0.7 libsqlite3-0 libspdlog1.10 libsystemd0 adduser; do
  grep -q "^ Depends:.*$dep" <<<"$info" || fail "Depends lacks $dep: $info"
done
if dpkg --print-foreign-architectures | grep -qx "$arch" || [ "$arch" = "$(dpkg --print-architecture)" ]; then
  apt-get install -s -qq "$deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt cannot resolve Depends"; }
else
  echo "note: $arch is not a dpkg architecture here; Depends not resolved by apt"
fi

contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/fieldbridge ./usr/lib/systemd/system/fieldbridge.service ./etc/fieldbridge/fieldbridge.yaml \
         ./usr/share/doc/fieldbridge/operations.md ./usr/share/doc/fieldbridge/copyright; do
  grep -q " $f\$" <<<"$contents" || fail "$f missing from the package"
done
dpkg-deb -x "$deb" "$work/x"
bin="$work/x/usr/bin/fieldbridge"
readelf -h "$bin" | grep -q "Machine: *$machine" || fail "the binary is not for $machine: $(readelf -h "$bin" | grep Machine)"
readelf -S "$bin" | grep -q '\.debug_info' && fail "the binary is not stripped"
echo "binary: $(stat -c %s "$bin") bytes, package: $(stat -c %s "$deb") bytes"

dbgsym=$(ls "$(dirname "$deb")"/fieldbridge-dbgsym_*_"$arch".ddeb 2>/dev/null | head -n 1)
[ -n "$dbgsym" ] || fail "no -dbgsym package beside the package"
build_id=$(readelf -n "$bin" | sed -n 's/.*Build ID: *//p')
[ -n "$build_id" ] || fail "the binary has no build id"
dpkg-deb -c "$dbgsym" | grep -q "usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug" \
  || fail "the -dbgsym package has no debug information for build id $build_id"

root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-not-root --force-depends \
                   --force-architecture --log=/dev/null "$@" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg $*"; }; }
dpkg_root -i "$deb"
"${run[@]}" "$root/usr/bin/fieldbridge" --version | grep -q . || fail "the installed binary does not run"
"${run[@]}" "$root/usr/bin/fieldbridge" check "$root/etc/fieldbridge/fieldbridge.yaml" > /dev/null \
  || fail "the installed binary refuses the shipped configuration"
dpkg_root -r fieldbridge
[ ! -e "$root/usr/bin/fieldbridge" ] || fail "binary left after remove"
[ -e "$root/etc/fieldbridge/fieldbridge.yaml" ] || fail "remove deleted the configuration"
dpkg_root -P fieldbridge
[ ! -e "$root/etc/fieldbridge/fieldbridge.yaml" ] || fail "purge left the configuration"
echo "PASS ($arch)"
