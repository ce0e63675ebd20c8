#!/usr/bin/env bash
# Builds the Debian package from a built binary with dpkg-deb (no other tool needed):
#   packaging/build-deb.sh [BINARY] [OUTPUT_DIR]
# BINARY defaults to target/dist/tocsin (`cargo build -p tocsin --profile dist`, whole-
# program optimised, as releases ship); CI packages the binary its tests just built.
# The package installs /usr/bin/tocsin, /etc/tocsin/tocsin.toml (a conffile), the systemd
# unit, the man page, shell completions and the example playbooks; postinst makes the
# `tocsin` system user and the sealing key (/etc/tocsin/secret-key).
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-target/dist/tocsin}"
out="${2:-target/debian}"
[ -x "$binary" ] || { echo "no binary at $binary: build it first (cargo build -p tocsin --profile dist)" >&2; exit 2; }
version="$("$binary" --version | awk '{print $2}')"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/tocsin_${version}_${arch}"

install -D -m 755 "$binary" "$root/usr/bin/tocsin"
install -D -m 644 packaging/tocsin.toml "$root/etc/tocsin/tocsin.toml"
install -D -m 644 packaging/tocsin.service "$root/lib/systemd/system/tocsin.service"
install -D -m 644 tocsin.toml "$root/usr/share/doc/tocsin/tocsin.toml.example"
install -D -m 644 README.md "$root/usr/share/doc/tocsin/README.md"
mkdir -p "$root/usr/share/tocsin/examples" "$root/usr/share/man/man1" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
cp -r playbooks templates "$root/usr/share/tocsin/examples/"
"$binary" man | gzip -9n > "$root/usr/share/man/man1/tocsin.1.gz"
"$binary" completions bash > "$root/usr/share/bash-completion/completions/tocsin"
"$binary" completions zsh > "$root/usr/share/zsh/vendor-completions/_tocsin"
"$binary" completions fish > "$root/usr/share/fish/vendor_completions.d/tocsin.fish"
find "$root/usr/share" -type f -exec chmod 644 {} +

mkdir -p "$root/DEBIAN"
install -m 755 packaging/postinst packaging/postrm "$root/DEBIAN/"
echo /etc/tocsin/tocsin.toml > "$root/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: tocsin
Version: ${version}
Architecture: ${arch}
Maintainer: Tocsin developers <tocsin@localhost>
Installed-Size: ${size}
Depends: libc6 (>= 2.34), adduser
Recommends: systemd
Section: net
Priority: optional
Description: crisis and live-event broadcast coordinator
 Pre-approved crisis and live-event messages for health departments and
 hospitals, approved by two people and sent at once to every connected
 platform account, with a tamper-evident audit log.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group --build "$root" "$out/" >/dev/null
echo "$out/tocsin_${version}_${arch}.deb"
