#!/usr/bin/env bash
# Installs the Debian package into a fresh Debian root and checks it there (CI runs this):
#   packaging/check-deb.sh PACKAGE.deb
# The root is a minimal bookworm made by debootstrap from Debian's mirror, cached as a
# tarball in ${TOCSIN_REAL_SERVERS_DIR:-~/.cache/tocsin-test}; each run unpacks a clean
# copy. Needs root (chroot), and `systemd-analyze` for the unit's exposure score.
set -euo pipefail
deb="$(realpath "$1")"
cd "$(dirname "$0")/.."
cache="${TOCSIN_REAL_SERVERS_DIR:-$HOME/.cache/tocsin-test}"
mkdir -p "$cache"
base="$cache/debian-bookworm-minbase.tar"
if [ ! -s "$base" ]; then
  build="$(mktemp -d)"
  debootstrap --variant=minbase --include=adduser bookworm "$build" http://deb.debian.org/debian >/dev/null
  tar -C "$build" -cf "$base.partial" . && mv "$base.partial" "$base"
  rm -rf "$build"
fi
root="$(mktemp -d)"
cleanup() {
  for m in proc dev; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
chmod 755 "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/tocsin.deb"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
in_root dpkg -i /tmp/tocsin.deb
echo "installed: $(in_root tocsin --version)"
in_root getent passwd tocsin >/dev/null || { echo "FAIL: no tocsin user" >&2; exit 1; }
mode="$(in_root stat -c '%a %U' /etc/tocsin/secret-key)"
[ "$mode" = "600 root" ] || { echo "FAIL: /etc/tocsin/secret-key is $mode, not 600 root" >&2; exit 1; }
state="$(in_root stat -c '%a %U' /var/lib/tocsin)"
[ "$state" = "700 tocsin" ] || { echo "FAIL: /var/lib/tocsin is $state, not 700 tocsin" >&2; exit 1; }
in_root tocsin --config /etc/tocsin/tocsin.toml config > "$root/tmp/config.out"
grep -q '^data_dir = "/var/lib/tocsin"' "$root/tmp/config.out" \
  || { echo "FAIL: tocsin config does not show the packaged data_dir" >&2; cat "$root/tmp/config.out" >&2; exit 1; }
# As the service would run: the tocsin user, the key from the credentials directory.
mkdir -p "$root/run/credentials/tocsin.service"
cp "$root/etc/tocsin/secret-key" "$root/run/credentials/tocsin.service/secret-key"
chroot "$root" chown tocsin /run/credentials/tocsin.service/secret-key
chmod 400 "$root/run/credentials/tocsin.service/secret-key"
in_root setpriv --reuid=tocsin --regid=tocsin --init-groups \
  env CREDENTIALS_DIRECTORY=/run/credentials/tocsin.service \
  tocsin --config /etc/tocsin/tocsin.toml playbooks lint >/dev/null
in_root setpriv --reuid=tocsin --regid=tocsin --init-groups \
  tocsin --config /etc/tocsin/tocsin.toml migrate
in_root setpriv --reuid=tocsin --regid=tocsin --init-groups \
  env CREDENTIALS_DIRECTORY=/run/credentials/tocsin.service \
  tocsin --config /etc/tocsin/tocsin.toml doctor > "$root/tmp/doctor.out" || true
grep -q "ok   sealing key: from the systemd credential" "$root/tmp/doctor.out" \
  || { echo "FAIL: the key did not come from the credential" >&2; cat "$root/tmp/doctor.out" >&2; exit 1; }
grep -q "ok   schema:" "$root/tmp/doctor.out" \
  || { echo "FAIL: doctor did not find the schema" >&2; cat "$root/tmp/doctor.out" >&2; exit 1; }
in_root dpkg --purge tocsin >/dev/null
[ -d "$root/var/lib/tocsin" ] || { echo "FAIL: purge removed the data" >&2; exit 1; }
# The unit's exposure, as systemd scores it (OK is below 5.0).
systemd-analyze security --offline=yes --threshold=49 packaging/tocsin.service | tail -1
echo "package checks passed"
