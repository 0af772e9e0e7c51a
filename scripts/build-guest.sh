#!/usr/bin/env bash
# Build the bundled tiny Linux test guest (guest/bzImage + guest/initramfs.cpio.gz).
#
#   scripts/build-guest.sh [--config-only] [--repro-check] [--work DIR] [--out DIR] [--jobs N]
#
#   --config-only   stop after resolving and verifying the kernel .config
#   --repro-check   build everything a second time in a separate tree and record
#                   in MANIFEST.json whether the two builds gave identical bytes
#   --work DIR      scratch directory (default .cache/guest-build, gitignored)
#   --out DIR       where the commit-ready files go (default guest/)
#   --jobs N        make -j (default 2)
#
# Kernel: Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz), `make tinyconfig`
# plus the fragment guest/kernel.config, built out of tree. Every line of the fragment
# is verified in the resolved .config, because Kconfig silently drops an option whose
# dependencies are off.
# Init: guest/init.c, a static x86-64 program with no libc.
# Reproducible: fixed KBUILD_BUILD_* identity, SOURCE_DATE_EPOCH (default: the date of the
# linux-source package's changelog entry), gzip -n, cpio with fixed order/mtime/owner.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK="$ROOT/.cache/guest-build"
OUT="$ROOT/guest"
JOBS=2
CONFIG_ONLY=false
REPRO_CHECK=false

die() { echo "build-guest: error: $*" >&2; exit 1; }
say() { echo "build-guest: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config-only) CONFIG_ONLY=true ;;
    --repro-check) REPRO_CHECK=true ;;
    --work) WORK=$(readlink -m -- "${2:?--work needs a directory}"); shift ;;
    --out) OUT=$(readlink -m -- "${2:?--out needs a directory}"); shift ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

FRAGMENT="$ROOT/guest/kernel.config"
INIT_SRC="$ROOT/guest/init.c"
SRC_PKG=linux-source-6.1
SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
# Everything the kernel build, the init build and the packaging need.
NEEDED_PKGS=($SRC_PKG bc flex bison libelf-dev libssl-dev cpio gcc make xz-utils gzip)
ARCH_ARGS=(ARCH=x86_64)

[ -r "$FRAGMENT" ] || die "missing config fragment $FRAGMENT"
[ -r "$INIT_SRC" ] || die "missing init source $INIT_SRC"

# --- 1. Build dependencies -------------------------------------------------------------
missing=()
for p in "${NEEDED_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -r "$SRC_TARBALL" ] || die "$SRC_TARBALL not found although $SRC_PKG is installed"

SRC_PKG_VERSION=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
# A fixed build date: SOURCE_DATE_EPOCH if given, otherwise the date of the package's
# newest changelog entry, so the same source package always gives the same bytes.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  changelog=/usr/share/doc/$SRC_PKG/changelog.Debian.gz
  stamp=$(zcat "$changelog" 2>/dev/null | sed -n 's/^ -- .*>  \(.*\)$/\1/p' | head -n 1 || true)
  [ -n "$stamp" ] || die "cannot read a date from $changelog (set SOURCE_DATE_EPOCH)"
  SOURCE_DATE_EPOCH=$(date -u -d "$stamp" +%s)
fi
export SOURCE_DATE_EPOCH
export KBUILD_BUILD_TIMESTAMP
KBUILD_BUILD_TIMESTAMP=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %e %H:%M:%S UTC %Y')
export KBUILD_BUILD_USER=krun KBUILD_BUILD_HOST=krun-whp KBUILD_BUILD_VERSION=1
export LC_ALL=C TZ=UTC

# --- 2. Kernel source (extracted once per package version) -----------------------------
SRC="$WORK/linux-source-6.1"
mkdir -p "$WORK"
if [ "$(cat "$WORK/.source-version" 2>/dev/null || true)" != "$SRC_PKG_VERSION" ] || [ ! -f "$SRC/Makefile" ]; then
  say "extracting $SRC_TARBALL ($SRC_PKG $SRC_PKG_VERSION)"
  rm -rf "$SRC" "$WORK/.source-version"
  tar -xf "$SRC_TARBALL" -C "$WORK"
  [ -f "$SRC/Makefile" ] || die "the tarball did not unpack to $SRC"
  echo "$SRC_PKG_VERSION" > "$WORK/.source-version"
fi

# --- 3. Configure and verify -----------------------------------------------------------
configure_kernel() { # $1 = build dir
  local kb=$1
  mkdir -p "$kb"
  make -s -C "$SRC" O="$kb" "${ARCH_ARGS[@]}" tinyconfig >/dev/null
  # merge_config.sh writes its temporary files into the current directory.
  (cd "$kb" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$kb" "$kb/.config" "$FRAGMENT" >/dev/null)
  make -s -C "$SRC" O="$kb" "${ARCH_ARGS[@]}" olddefconfig >/dev/null
  verify_config "$kb/.config"
}

verify_config() { # $1 = resolved .config; every fragment line must hold there
  local config=$1 bad=() line name actual
  while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
      name=${BASH_REMATCH[1]}
      grep -qxF -- "$line" "$config" && continue
      actual=$(grep -E "^(# )?$name[= ]" "$config" || echo "absent (a dependency is off)")
      bad+=("$line  ->  $actual")
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
      name=${BASH_REMATCH[1]}
      actual=$(grep -E "^$name=" "$config" || true)
      [ -z "$actual" ] || bad+=("$line  ->  $actual")
    fi
  done < "$FRAGMENT"
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "build-guest: error: Kconfig did not keep these options from guest/kernel.config:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "  (hint: enable the option's dependencies in the fragment; see 'depends on' in its Kconfig)" >&2
    exit 1
  fi
}

# --- 4. Kernel, init and initramfs -------------------------------------------------------
build_kernel() { # $1 = build dir
  make -s -C "$SRC" O="$1" "${ARCH_ARGS[@]}" -j"$JOBS" bzImage
  # The kernel's own cpio writer (usr/gen_init_cpio.c): entries in the order listed,
  # fixed mtime (-t), owner given per entry, and no root needed for device nodes.
  gcc -O2 -o "$1/krun-gen_init_cpio" "$SRC/usr/gen_init_cpio.c"
}

build_init() { # $1 = output binary
  # No libc: raw syscalls only (see init.c). -fno-pie/-no-pie: a plain static ELF at a
  # fixed address; no build-id and stripped so the bytes depend on the source only.
  gcc -Os -static -nostdlib -ffreestanding -fno-builtin -fno-pie -no-pie \
      -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
      -fcf-protection=none -mno-red-zone -Wall -Wextra -Werror \
      -Wl,--build-id=none -Wl,-z,noexecstack -s \
      -o "$1" "$INIT_SRC"
}

build_initramfs() { # $1 = kernel build dir (for gen_init_cpio), $2 = init binary, $3 = output .cpio.gz
  local list="$1/krun-initramfs.list"
  # newc archive, entries in this fixed (sorted) order, all owned by root, mtime
  # SOURCE_DATE_EPOCH. /dev/console must exist before init runs: the kernel opens it
  # for init's stdin/stdout/stderr.
  cat > "$list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /init $2 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
EOF
  # gen_init_cpio takes a file's mtime from the file itself; -t covers the rest.
  touch -d "@$SOURCE_DATE_EPOCH" "$2"
  "$1/krun-gen_init_cpio" -t "$SOURCE_DATE_EPOCH" "$list" > "$3.cpio"
  gzip -n -9 -c "$3.cpio" > "$3"
  rm -f "$3.cpio"
}

build_all() { # $1 = build dir, $2 = staging dir for the products
  local kb=$1 stage=$2
  mkdir -p "$stage"
  configure_kernel "$kb"
  $CONFIG_ONLY && return 0
  build_kernel "$kb"
  build_init "$stage/init"
  build_initramfs "$kb" "$stage/init" "$stage/initramfs.cpio.gz"
  cp "$kb/arch/x86/boot/bzImage" "$stage/bzImage"
  cp "$kb/.config" "$stage/kernel.config.full"
}

say "kernel $SRC_PKG $SRC_PKG_VERSION, KBUILD_BUILD_TIMESTAMP='$KBUILD_BUILD_TIMESTAMP', make -j$JOBS"
KERNEL_TREE=$([ -f "$WORK/kbuild/vmlinux" ] && echo incremental || echo fresh)
T0=$(date +%s)
build_all "$WORK/kbuild" "$WORK/stage"
if $CONFIG_ONLY; then
  say "config OK: every option of guest/kernel.config is set in $WORK/kbuild/.config"
  exit 0
fi
BUILD_SECONDS=$(( $(date +%s) - T0 ))
KERNEL_RELEASE=$(make -s -C "$SRC" O="$WORK/kbuild" "${ARCH_ARGS[@]}" kernelrelease)

# --- 5. Optional second build to check reproducibility --------------------------------
REPRO_JSON='{"checked":false,"note":"run scripts/build-guest.sh --repro-check to build twice and compare"}'
if $REPRO_CHECK; then
  say "reproducibility check: second build in a separate tree"
  rm -rf "$WORK/repro"
  T1=$(date +%s)
  build_all "$WORK/repro/kbuild" "$WORK/repro/stage"
  REPRO_SECONDS=$(( $(date +%s) - T1 ))
  differ=()
  for f in bzImage initramfs.cpio.gz kernel.config.full init; do
    cmp -s "$WORK/stage/$f" "$WORK/repro/stage/$f" || differ+=("\"$f\"")
  done
  identical=$([ "${#differ[@]}" -eq 0 ] && echo true || echo false)
  REPRO_JSON="{\"checked\":true,\"identical\":$identical,\"differing\":[$(IFS=,; echo "${differ[*]:-}")],\
\"second_build_seconds\":$REPRO_SECONDS,\"method\":\"a second build from scratch in another directory of the work dir (repro/kbuild next to kbuild), outputs compared with cmp\"}"
  say "reproducibility: identical=$identical ${differ[*]:-}"
  rm -rf "$WORK/repro"
fi

# --- 6. Install the products and write the manifest -------------------------------------
mkdir -p "$OUT"
for f in bzImage initramfs.cpio.gz kernel.config.full; do cp "$WORK/stage/$f" "$OUT/$f"; done
[ "$OUT" = "$ROOT/guest" ] || cp "$FRAGMENT" "$INIT_SRC" "$OUT/"

GCC_VERSION=$(gcc --version | head -n 1)
BUILD_SECONDS=$BUILD_SECONDS KERNEL_TREE=$KERNEL_TREE KERNEL_RELEASE=$KERNEL_RELEASE SRC_PKG=$SRC_PKG \
SRC_PKG_VERSION=$SRC_PKG_VERSION GCC_VERSION=$GCC_VERSION REPRO_JSON=$REPRO_JSON OUT=$OUT \
INIT_BIN="$WORK/stage/init" JOBS=$JOBS node --input-type=module - <<'EOF'
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
const e = process.env;
const describe = (path) => {
  const bytes = readFileSync(path);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: statSync(path).size };
};
const files = {};
for (const f of ['bzImage', 'initramfs.cpio.gz', 'kernel.config', 'kernel.config.full', 'init.c']) {
  files[f] = describe(join(e.OUT, f));
}
const manifest = {
  description: 'krun-whp bundled test guest: tiny Linux kernel + initramfs with a libc-free /init',
  kernel: {
    release: e.KERNEL_RELEASE,
    arch: 'x86_64',
    source_package: e.SRC_PKG,
    source_package_version: e.SRC_PKG_VERSION,
    base_config: 'tinyconfig',
    compression: 'gzip',
  },
  config_fragment: { file: 'kernel.config', sha256: files['kernel.config'].sha256 },
  initramfs: {
    format: 'newc cpio, gzip -n -9',
    entries: ['/dev', '/dev/console (char 5,1)', '/init', '/proc', '/sys'],
    init: { source: 'init.c', ...describe(e.INIT_BIN) },
  },
  files,
  build: {
    kbuild_build_timestamp: e.KBUILD_BUILD_TIMESTAMP,
    source_date_epoch: Number(e.SOURCE_DATE_EPOCH),
    kbuild_build_user: e.KBUILD_BUILD_USER,
    kbuild_build_host: e.KBUILD_BUILD_HOST,
    kbuild_build_version: e.KBUILD_BUILD_VERSION,
    built_at: new Date().toISOString(),
    build_seconds: Number(e.BUILD_SECONDS),
    kernel_tree: e.KERNEL_TREE, // 'fresh' build or 'incremental' on an earlier tree
    make_jobs: Number(e.JOBS),
    gcc: e.GCC_VERSION,
    script: 'scripts/build-guest.sh',
  },
  reproducibility: JSON.parse(e.REPRO_JSON),
};
writeFileSync(join(e.OUT, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n');
EOF
say "done in ${BUILD_SECONDS}s: $(cd "$OUT" && ls -l bzImage initramfs.cpio.gz | awk '{print $9" "$5" bytes"}' | paste -sd, -)"
