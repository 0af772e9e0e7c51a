#!/usr/bin/env bash
# Fetches Debian's cloud kernel (a real, distribution-built bzImage) into .cache/kernels/
# for the loader tests and `krun-whp inspect` checks. Idempotent: does nothing when the
# vmlinuz is already there. Nothing is installed: the .deb is only downloaded
# (`apt-get download`) and unpacked with `dpkg-deb -x` into the cache directory.
#
# Usage: scripts/fetch-debian-kernel.sh            (prints the path of the vmlinuz)
#        KERNEL_PACKAGE=linux-image-6.1.0-56-cloud-amd64 scripts/fetch-debian-kernel.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache/kernels
mkdir -p "$CACHE"

# Resolve the concrete package behind the metapackage (e.g. linux-image-6.1.0-56-cloud-amd64),
# unless the caller pins one.
pkg="${KERNEL_PACKAGE:-}"
if [ -z "$pkg" ]; then
  pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
fi
if [ -z "$pkg" ]; then
  echo "fetch-debian-kernel: cannot resolve linux-image-cloud-amd64 (run apt-get update?)" >&2
  exit 1
fi
release="${pkg#linux-image-}"            # e.g. 6.1.0-56-cloud-amd64
out="$CACHE/vmlinuz-$release"

if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

work="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"   # apt-get download drops to the _apt user when it can
( cd "$work" && apt-get download -q "$pkg" >&2 )
deb="$(ls "$work"/*.deb | head -n 1)"
dpkg-deb -x "$deb" "$work/root"
src="$(ls "$work"/root/boot/vmlinuz-* | head -n 1)"
# Write atomically so a concurrent or interrupted run never leaves a truncated kernel.
cp "$src" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$out"
